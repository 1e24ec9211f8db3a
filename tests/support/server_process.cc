#include "support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace firstsip::testing {
namespace {

constexpr char kServingOn[] = "serving on 127.0.0.1:";

struct Spawned {
  pid_t pid = -1;
  int output_fd = -1;
};

Spawned Spawn(const std::string& binary_path, const std::vector<std::string>& args,
              const EnvironmentOverrides& overrides) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::map<std::string, std::optional<std::string>> last;  // a later override wins
  for (const auto& [key, value] : overrides) last[key] = value;
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view line = *entry;
    if (!last.count(std::string(line.substr(0, line.find('='))))) environment.emplace_back(line);
  }
  for (const auto& [key, value] : last) {
    if (value.has_value()) environment.push_back(key + "=" + *value);
  }
  std::vector<char*> envp;
  for (std::string& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string binary = binary_path;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.push_back(binary.data());
  for (std::string& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  return {pid, pipe_fds[0]};
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Waits for `pid` up to `timeout`; kills it with SIGKILL after that.
int WaitWithTimeout(pid_t pid, absl::Duration timeout) {
  if (pid <= 0) return -1;  // nothing was started; waitpid/kill of -1 would mean everyone
  absl::Time give_up = absl::Now() + timeout;
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return DecodeWaitStatus(status);
    if (done < 0) return -1;
    if (absl::Now() >= give_up) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -2;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

}  // namespace

std::string ServerBinary() { return FIRSTSIP_SERVER_BINARY; }
std::string CliBinary() { return FIRSTSIP_CLI_BINARY; }

CommandResult RunServerCommand(const std::vector<std::string>& args,
                               const EnvironmentOverrides& environment, absl::Duration timeout) {
  return RunCommand(ServerBinary(), args, environment, timeout);
}

CommandResult RunCommand(const std::string& binary, const std::vector<std::string>& args,
                         const EnvironmentOverrides& environment, absl::Duration timeout) {
  Spawned child = Spawn(binary, args, environment);
  CommandResult result;
  std::thread reader([&] {
    char buffer[4096];
    ssize_t got;
    while ((got = read(child.output_fd, buffer, sizeof(buffer))) > 0) {
      result.output.append(buffer, static_cast<size_t>(got));
    }
  });
  result.exit_code = WaitWithTimeout(child.pid, timeout);
  reader.join();
  close(child.output_fd);
  return result;
}

std::unique_ptr<ServerProcess> ServerProcess::Launch(const std::string& dsn,
                                                     const std::vector<std::string>& extra_args,
                                                     const EnvironmentOverrides& environment) {
  std::vector<std::string> args = {"--listen=127.0.0.1:0", "--database-url=" + dsn,
                                   "--shutdown-grace=5s", "--health-interval=100ms",
                                   // Off unless a test turns it on: the HTTP server's shutdown
                                   // adds up to 2 s (civetweb's socket timeout quantum).
                                   "--metrics-listen=",
                                   // Off unless a test turns it on (--schedule-briefings=true):
                                   // a test whose run crosses a user's briefing time (06:00 UTC
                                   // by default) would find a briefing it did not create.
                                   "--schedule-briefings=false"};
  std::unique_ptr<PgBouncer> bouncer;
  if (TestsGoThroughPgBouncer()) {
    absl::StatusOr<std::unique_ptr<PgBouncer>> started = PgBouncer::Start(dsn);
    if (!started.ok()) {
      std::fprintf(stderr, "%s\n", started.status().ToString().c_str());
      std::unique_ptr<ServerProcess> failed(new ServerProcess());
      failed->exited_ = true;
      return failed;
    }
    bouncer = std::move(*started);
    args[1] = "--database-url=" + bouncer->Through(dsn);
    args.push_back("--prepared-statements=false");
    args.push_back("--direct-database-url=" + dsn);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  args.push_back("serve");
  EnvironmentOverrides with_key = {{"ENCRYPTION_KEY", std::string(kTestEncryptionKey)}};
  with_key.insert(with_key.end(), environment.begin(), environment.end());
  std::unique_ptr<ServerProcess> process = LaunchCommand(ServerBinary(), args, with_key);
  process->bouncer_ = std::move(bouncer);
  return process;
}

std::unique_ptr<ServerProcess> ServerProcess::LaunchCommand(
    const std::string& binary, const std::vector<std::string>& args,
    const EnvironmentOverrides& environment) {
  std::unique_ptr<ServerProcess> process(new ServerProcess());
  Spawned child = Spawn(binary, args, environment);
  process->pid_ = child.pid;
  if (child.pid < 0) {
    process->exited_ = true;
    return process;
  }
  process->reader_ =
      std::thread([raw = process.get(), fd = child.output_fd] { raw->ReadOutput(fd); });
  return process;
}

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    const std::string& dsn, const std::vector<std::string>& extra_args,
    const EnvironmentOverrides& environment) {
  std::unique_ptr<ServerProcess> process = Launch(dsn, extra_args, environment);
  if (process->pid_ < 0) return absl::InternalError("cannot start the server");
  std::unique_lock<std::mutex> lock(process->mutex_);
  bool started = process->changed_.wait_for(lock, std::chrono::seconds(30), [&] {
    return absl::StrContains(process->output_, kServingOn) || process->eof_;
  });
  size_t at = process->output_.find(kServingOn);
  if (!started || at == std::string::npos) {
    std::string output = process->output_;
    lock.unlock();
    return absl::UnavailableError(absl::StrCat("server did not start:\n", output));
  }
  size_t digits = at + std::strlen(kServingOn);
  size_t end = process->output_.find_first_not_of("0123456789", digits);
  (void)absl::SimpleAtoi(process->output_.substr(digits, end - digits), &process->port_);
  return process;
}

void ServerProcess::ReadOutput(int fd) {
  char buffer[4096];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof(buffer))) > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    output_.append(buffer, static_cast<size_t>(got));
    changed_.notify_all();
  }
  close(fd);
  std::lock_guard<std::mutex> lock(mutex_);
  eof_ = true;
  changed_.notify_all();
}

ServerProcess::~ServerProcess() {
  if (!exited_) Stop(SIGKILL);
  if (reader_.joinable()) reader_.join();
  bouncer_.reset();  // after the server: it is the pooler's client
}

std::string ServerProcess::target() const { return absl::StrCat("127.0.0.1:", port_); }

int ServerProcess::Stop(int signal, absl::Duration timeout) {
  // Never kill(-1, …) or kill(0, …): that would signal every process, or our own group.
  if (exited_ || pid_ <= 0) return exit_code_;
  kill(pid_, signal);
  exit_code_ = WaitWithTimeout(pid_, timeout);
  exited_ = true;
  return exit_code_;
}

std::string ServerProcess::output() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return output_;
}

bool ServerProcess::WaitForOutput(const std::string& text, absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                           [&] { return absl::StrContains(output_, text); });
}

}  // namespace firstsip::testing
