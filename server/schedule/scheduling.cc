#include "schedule/scheduling.h"

#include <utility>

namespace firstsip::schedule {

Scheduling::Scheduling(const db::PoolOptions& pool, storage::AnnounceChange announce,
                       SchedulerOptions options, SchedulerObserver observer)
    : pool_(OneConnection(pool)),
      store_(pool_, std::move(announce)),
      scheduler_(store_, options, std::move(observer)) {}

Scheduling::~Scheduling() { Stop(); }

void Scheduling::Stop() {
  scheduler_.Stop();
  pool_.Stop();
}

db::PoolOptions Scheduling::OneConnection(db::PoolOptions options) {
  options.size = 1;
  return options;
}

}  // namespace firstsip::schedule
