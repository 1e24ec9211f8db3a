#include "push/change_announcer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace firstsip::push {
namespace {

constexpr absl::Duration kAnnounceTimeout = absl::Seconds(10);

}  // namespace

void ChangeAnnouncer::Announce(std::string notice) {
  std::vector<std::string> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(notice));
    if (in_flight_) return;  // goes with the next batch
    in_flight_ = true;
    batch.swap(pending_);
  }
  Send(std::move(batch));
}

void ChangeAnnouncer::Send(std::vector<std::string> batch) {
  if (batch.size() > kMaxBatch) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin() + kMaxBatch),
                    std::make_move_iterator(batch.end()));
    batch.resize(kMaxBatch);
  }
  store_.Announce(batch, db::CallOptions::WithDeadline(absl::Now() + kAnnounceTimeout),
                  [this](absl::StatusOr<bool> sent) { Sent(sent.status()); });
}

void ChangeAnnouncer::Sent(const absl::Status& status) {
  if (!status.ok()) {
    // Watchers on other replicas hear of these changes from the sweep, a few seconds late;
    // if the database is down, their streams end anyway and resume from their tokens.
    LogWarning(absl::StrCat("change feed: cannot announce changes: ", status.message()));
  }
  std::vector<std::string> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (pending_.empty()) {
      in_flight_ = false;
      return;
    }
    batch.swap(pending_);
  }
  Send(std::move(batch));
}

}  // namespace firstsip::push
