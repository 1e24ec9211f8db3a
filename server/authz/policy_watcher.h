// The authorization policy in force, read from a file and re-read while serving (a Kubernetes
// ConfigMap update, an operator's edit). Every `interval` a thread of its own reads the file;
// when its bytes changed, it parses them and, if they make a policy, publishes it with one
// atomic swap. Calls read the current policy without a lock.
//
// A file that does not parse at start-up is an error for the caller to stop on (Create). One
// that stops parsing later (half-written, a typo) leaves the last good policy in force: the
// error is reported once per distinct content through `on_reload`, never "open", never a crash.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "authz/policy.h"
#include "common/periodic_thread.h"

namespace firstsip::authz {

// The file's policy, or INVALID_ARGUMENT naming the file and what is wrong with it.
absl::StatusOr<Policy> ReadPolicyFile(const std::string& path);

class PolicyWatcher {
 public:
  // Hears each re-read that found new content: OK with the policy now in force, or why the
  // file was refused (the previous policy stays). On the watcher's thread.
  using ReloadListener = std::function<void(const absl::Status& outcome, const Policy* loaded)>;

  // Reads and parses `path` now (INVALID_ARGUMENT when it does not make a policy), then
  // re-reads it every `interval` until Stop.
  static absl::StatusOr<std::unique_ptr<PolicyWatcher>> Create(std::string path,
                                                               absl::Duration interval,
                                                               ReloadListener on_reload);
  ~PolicyWatcher();
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // The policy in force. Any thread, no lock; the policy stays valid while the pointer is held.
  std::shared_ptr<const Policy> current() const { return current_.load(std::memory_order_acquire); }

  // Joins the thread. Idempotent.
  void Stop() { thread_->Stop(); }

 private:
  PolicyWatcher(std::string path, std::string contents, Policy policy, ReloadListener on_reload);
  void Reread();

  const std::string path_;
  const ReloadListener on_reload_;
  // On the watcher's thread only: what was last read, good or not; nullopt when it could not be.
  std::optional<std::string> last_contents_;
  std::atomic<std::shared_ptr<const Policy>> current_;
  std::unique_ptr<PeriodicThread> thread_;  // last: it runs Reread, which uses the members above
};

}  // namespace firstsip::authz
