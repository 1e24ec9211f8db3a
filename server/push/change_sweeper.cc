#include "push/change_sweeper.h"

#include <pthread.h>

#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace firstsip::push {

ChangeSweeper::ChangeSweeper(storage::ChangeStore& store, ChangeFeed& feed, absl::Duration interval,
                             absl::Duration window)
    : store_(store), feed_(feed), interval_(interval), window_(window) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-sweep");
    Run();
  });
}

ChangeSweeper::~ChangeSweeper() { Stop(); }

void ChangeSweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ChangeSweeper::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!wake_.wait_for(lock, absl::ToChronoNanoseconds(interval_), [&] { return stopping_; })) {
    lock.unlock();
    if (feed_.watchers() > 0) Sweep();
    lock.lock();
  }
}

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
}

}  // namespace firstsip::push
