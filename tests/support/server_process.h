// Runs the real firstsip-server binary as a child process, for end-to-end tests: captures
// its output, finds the port it chose, and stops it with a signal.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "support/pgbouncer.h"

namespace firstsip::testing {

// The binary under test (set by the build).
std::string ServerBinary();

// The encryption key every test server gets unless a test says otherwise (base64 of the bytes
// 0, 1, ..., 31), and a second one for rotation tests.
inline constexpr char kTestEncryptionKey[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
inline constexpr char kOtherTestEncryptionKey[] = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

// Environment changes for the child: a value sets the variable, nullopt removes it.
using EnvironmentOverrides = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `binary args...` to completion.
CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         const EnvironmentOverrides& environment = {},
                         absl::Duration timeout = absl::Seconds(60));

// The `firstsip` command line (set by the build).
std::string CliBinary();

// Runs `firstsip-server args...` to completion (for migrate and seed-dev).
CommandResult RunServerCommand(const std::vector<std::string>& args,
                               const EnvironmentOverrides& environment = {},
                               absl::Duration timeout = absl::Seconds(60));

class ServerProcess {
 public:
  // Starts `firstsip-server serve --listen=127.0.0.1:0 --database-url=<dsn> extra_args...` and
  // waits until it logs the port it serves on. Metrics and the briefing scheduler are off
  // unless `extra_args` turn them on (--metrics-listen=..., --schedule-briefings=true). Fails with
  // its output if it exits first. ENCRYPTION_KEY is kTestEncryptionKey unless `environment` says
  // otherwise. When TestsGoThroughPgBouncer(), the server reaches `dsn` through a PgBouncer of its
  // own in transaction mode (--prepared-statements=false, --direct-database-url=<dsn>).
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& dsn, const std::vector<std::string>& extra_args = {},
      const EnvironmentOverrides& environment = {});
  // Starts it the same way without waiting for it to serve (e.g. to kill it during start-up).
  static std::unique_ptr<ServerProcess> Launch(const std::string& dsn,
                                               const std::vector<std::string>& extra_args = {},
                                               const EnvironmentOverrides& environment = {});
  // Starts any `binary args...` the same way, with its output captured, for commands that run
  // until signalled (e.g. `firstsip briefings watch`); Stop() and WaitForOutput() work alike.
  static std::unique_ptr<ServerProcess> LaunchCommand(const std::string& binary,
                                                      const std::vector<std::string>& args,
                                                      const EnvironmentOverrides& environment = {});
  ~ServerProcess();

  std::string target() const;
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the exit; returns the exit code (128+N if killed by N).
  int Stop(int signal, absl::Duration timeout = absl::Seconds(30));
  // Everything the process printed so far.
  std::string output() const;
  // Waits until the output contains `text`.
  bool WaitForOutput(const std::string& text, absl::Duration timeout) const;

 private:
  ServerProcess() = default;
  void ReadOutput(int fd);

  // Between the server and its database when TestsGoThroughPgBouncer().
  std::unique_ptr<PgBouncer> bouncer_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string output_;
  bool eof_ = false;
  std::thread reader_;
};

}  // namespace firstsip::testing
