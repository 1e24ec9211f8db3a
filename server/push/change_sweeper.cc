#include "push/change_sweeper.h"

#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace firstsip::push {

ChangeSweeper::ChangeSweeper(storage::ChangeStore& store, ChangeFeed& feed, absl::Duration interval,
                             absl::Duration window)
    : store_(store),
      feed_(feed),
      interval_(interval),
      window_(window),
      thread_("fs-sweep", interval, [this] {
        if (feed_.watchers() > 0) Sweep();
      }) {}

ChangeSweeper::~ChangeSweeper() { Stop(); }

void ChangeSweeper::Sweep() {
  using Moved = std::vector<std::pair<int64_t, int64_t>>;
  auto answer = std::make_shared<std::promise<absl::StatusOr<Moved>>>();
  std::future<absl::StatusOr<Moved>> moved = answer->get_future();
  store_.RecentlyChanged(
      window_, db::CallOptions::WithDeadline(absl::Now() + interval_),
      [answer](absl::StatusOr<Moved> users) { answer->set_value(std::move(users)); });
  absl::StatusOr<Moved> users = moved.get();  // on this thread, never a gRPC or pool one
  if (!users.ok()) return;                    // the database is away: streams end anyway
  for (const auto& [user_id, change_seq] : *users) feed_.Nudge(user_id, change_seq);

  auto erased_answer = std::make_shared<std::promise<absl::StatusOr<std::vector<int64_t>>>>();
  std::future<absl::StatusOr<std::vector<int64_t>>> erased = erased_answer->get_future();
  store_.RecentlyErased(window_, db::CallOptions::WithDeadline(absl::Now() + interval_),
                        [erased_answer](absl::StatusOr<std::vector<int64_t>> ids) {
                          erased_answer->set_value(std::move(ids));
                        });
  absl::StatusOr<std::vector<int64_t>> gone = erased.get();
  if (!gone.ok()) return;
  for (int64_t user_id : *gone) {
    feed_.EndUser(user_id, absl::NotFoundError(absl::StrCat("user ", user_id, " was erased")));
  }
}

}  // namespace firstsip::push
