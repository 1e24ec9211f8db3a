#include "push/change_pruner.h"

#include <pthread.h>

#include <future>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace firstsip::push {

ChangePruner::ChangePruner(storage::ChangeStore& store, absl::Duration retention,
                           absl::Duration interval)
    : store_(store), retention_(retention), interval_(interval) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-prune");
    Run();
  });
}

ChangePruner::~ChangePruner() { Stop(); }

void ChangePruner::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ChangePruner::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [&] { return stopping_; })) {
    lock.unlock();
    int deleted = 0;
    for (int batch = kBatch; batch == kBatch;) {
      batch = PruneBatch();
      deleted += batch > 0 ? batch : 0;
      std::lock_guard<std::mutex> check(mutex_);
      if (stopping_) break;
    }
    if (deleted > 0) LogInfo(absl::StrCat("change feed: pruned ", deleted, " old changes"));
    lock.lock();
  }
}

int ChangePruner::PruneBatch() {
  auto deleted = std::make_shared<std::promise<int>>();
  std::future<int> answer = deleted->get_future();
  store_.Prune(
      retention_, kBatch, db::CallOptions::WithDeadline(absl::Now() + absl::Seconds(30)),
      [deleted](absl::StatusOr<int> rows) {
        if (!rows.ok()) {
          LogWarning(absl::StrCat("change feed: pruning failed: ", rows.status().message()));
        }
        deleted->set_value(rows.ok() ? *rows : -1);
      });
  return answer.get();
}

}  // namespace firstsip::push
