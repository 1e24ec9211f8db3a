// Retention of the change feed: every minute, changes older than --change-retention are
// deleted in small batches (a batch is one short statement, so pruning never holds locks for
// long or bloats one transaction), until a batch comes back short.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "storage/change_store.h"

namespace firstsip::push {

class ChangePruner {
 public:
  static constexpr int kBatch = 5000;

  ChangePruner(storage::ChangeStore& store, absl::Duration retention,
               absl::Duration interval = absl::Minutes(1));
  ~ChangePruner();
  ChangePruner(const ChangePruner&) = delete;
  ChangePruner& operator=(const ChangePruner&) = delete;

  // Joins the thread; a batch in flight is answered by the pool (stop the pruner first).
  void Stop();

 private:
  void Run();
  // One batch, waited for (on the pruner's thread, never a gRPC one); how many it deleted.
  int PruneBatch();

  storage::ChangeStore& store_;
  const absl::Duration retention_;
  const absl::Duration interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace firstsip::push
