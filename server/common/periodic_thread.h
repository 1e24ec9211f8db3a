// A thread of its own that runs a task every `interval` until stopped: housekeeping (the change
// feed's pruning and sweeping, the read replicas' lag probes) whose waits must never be a gRPC
// or pool thread's.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace firstsip {

class PeriodicThread {
 public:
  // `name` (at most 15 characters) shows in `top -H`. The first run is one interval away.
  PeriodicThread(const char* name, absl::Duration interval, std::function<void()> task);
  ~PeriodicThread();
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Joins the thread after the run in progress (which may look at stopping()). Idempotent.
  void Stop();
  bool stopping();

 private:
  const absl::Duration interval_;
  const std::function<void()> task_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace firstsip
