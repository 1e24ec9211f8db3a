// What a caller's RPC hands down to the database layer: its deadline, and a cancellation the
// transport fires when the caller goes away (or the deadline passes), so the query stops too.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "absl/time/time.h"

namespace firstsip::db {

class Cancellation {
 public:
  // Thread-safe; idempotent. Wakes the pool that runs this call's statements.
  void Cancel() {
    cancelled_.store(true);
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      notify = notify_;
    }
    if (notify) notify();
  }
  bool cancelled() const { return cancelled_.load(); }

  // Set by the pool when it accepts a statement of this call.
  void set_notify(std::function<void()> notify) {
    std::lock_guard<std::mutex> lock(mutex_);
    notify_ = std::move(notify);
  }

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::function<void()> notify_;  // guarded by mutex_
};

struct CallOptions {
  absl::Time deadline = absl::InfiniteFuture();
  std::shared_ptr<Cancellation> cancellation;  // may be null: not cancellable

  static CallOptions WithDeadline(absl::Time deadline) { return CallOptions{deadline, nullptr}; }
};

}  // namespace firstsip::db
