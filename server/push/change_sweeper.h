// The safety net under announcements: every few seconds, while this process has watchers, it
// asks which users' feeds moved recently and nudges their watchers, who read whatever they
// have not seen. A change whose writer died between its commit and its announcement (or whose
// announcement failed) so reaches watchers within `interval`, not never.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "push/change_feed.h"
#include "storage/change_store.h"

namespace firstsip::push {

class ChangeSweeper {
 public:
  ChangeSweeper(storage::ChangeStore& store, ChangeFeed& feed,
                absl::Duration interval = absl::Seconds(5),
                absl::Duration window = absl::Seconds(30));
  ~ChangeSweeper();
  ChangeSweeper(const ChangeSweeper&) = delete;
  ChangeSweeper& operator=(const ChangeSweeper&) = delete;

  // Joins the thread (stop it before the pool).
  void Stop();

 private:
  void Run();
  void Sweep();

  storage::ChangeStore& store_;
  ChangeFeed& feed_;
  const absl::Duration interval_;
  const absl::Duration window_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace firstsip::push
