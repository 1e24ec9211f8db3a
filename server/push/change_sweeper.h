// The safety net under announcements: every few seconds, while this process has watchers, it
// asks which users' feeds moved recently and nudges their watchers, who read whatever they
// have not seen, and which users were erased recently, whose watchers end (NOT_FOUND). A change
// whose writer died between its commit and its announcement (or whose announcement failed) so
// reaches watchers within `interval`, not never.
#pragma once

#include "absl/time/time.h"
#include "common/periodic_thread.h"
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
  void Stop() { thread_.Stop(); }

 private:
  void Sweep();

  storage::ChangeStore& store_;
  ChangeFeed& feed_;
  const absl::Duration interval_;
  const absl::Duration window_;
  PeriodicThread thread_;  // last: it runs Sweep, which uses the members above
};

}  // namespace firstsip::push
