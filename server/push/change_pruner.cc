#include "push/change_pruner.h"

#include <future>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace firstsip::push {

ChangePruner::ChangePruner(storage::ChangeStore& store, absl::Duration retention,
                           absl::Duration interval)
    : store_(store), retention_(retention), thread_("fs-prune", interval, [this] { Prune(); }) {}

ChangePruner::~ChangePruner() { Stop(); }

void ChangePruner::Prune() {
  int deleted = 0;
  for (int batch = kBatch; batch == kBatch && !thread_.stopping();) {
    batch = PruneBatch();
    deleted += batch > 0 ? batch : 0;
  }
  if (deleted > 0) LogInfo(absl::StrCat("change feed: pruned ", deleted, " old changes"));
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
