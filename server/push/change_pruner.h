// Retention of the change feed: every minute, changes older than --change-retention are
// deleted in small batches (a batch is one short statement, so pruning never holds locks for
// long or bloats one transaction), until a batch comes back short.
#pragma once

#include "absl/time/time.h"
#include "common/periodic_thread.h"
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
  void Stop() { thread_.Stop(); }

 private:
  void Prune();
  // One batch, waited for (on the pruner's thread, never a gRPC one); how many it deleted.
  int PruneBatch();

  storage::ChangeStore& store_;
  const absl::Duration retention_;
  PeriodicThread thread_;  // last: it runs Prune, which uses the members above
};

}  // namespace firstsip::push
