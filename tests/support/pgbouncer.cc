#include "support/pgbouncer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace firstsip::testing {
namespace {

constexpr char kBinary[] = "/usr/sbin/pgbouncer";

// The value of `key` in a key=value DSN without quoting (as the test cluster writes them).
std::string DsnValue(const std::string& dsn, absl::string_view key) {
  for (absl::string_view part : absl::StrSplit(dsn, ' ', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    if (kv.first == key) return std::string(kv.second);
  }
  return "";
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

}  // namespace

bool TestsGoThroughPgBouncer() {
  const char* value = std::getenv("FIRSTSIP_TEST_VIA_PGBOUNCER");
  return value != nullptr && std::string(value) == "1";
}

absl::StatusOr<std::unique_ptr<PgBouncer>> PgBouncer::Start(const std::string& dsn,
                                                            int server_connections,
                                                            bool server_round_robin) {
  static std::atomic<int> counter{0};
  std::string host = DsnValue(dsn, "host");
  std::string upstream_port = DsnValue(dsn, "port");
  if (host.empty()) host = "127.0.0.1";
  if (upstream_port.empty()) upstream_port = "5432";
  for (int attempt = 0; attempt < 5; ++attempt) {
    int n = counter.fetch_add(1);
    std::unique_ptr<PgBouncer> bouncer(new PgBouncer());
    bouncer->port_ = 30000 + static_cast<int>((getpid() * 37 + n * 101) % 20000);
    if (Accepts(bouncer->port_)) continue;  // taken
    bouncer->dir_ = absl::StrCat("/tmp/firstsip-pgb-", getpid(), "-", n);
    std::system(("rm -rf " + bouncer->dir_ + " && mkdir -p " + bouncer->dir_).c_str());
    {
      std::ofstream users(bouncer->dir_ + "/users.txt");
      users << "\"postgres\" \"\"\n";
      std::ofstream ini(bouncer->dir_ + "/pgbouncer.ini");
      ini << "[databases]\n* = host=" << host << " port=" << upstream_port << "\n"
          << "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << bouncer->port_ << "\n"
          << "unix_socket_dir =\nauth_type = trust\nauth_file = " << bouncer->dir_
          << "/users.txt\npool_mode = transaction\nmax_client_conn = 1000\n"
          << "default_pool_size = " << server_connections
          << "\nserver_round_robin = " << (server_round_robin ? 1 : 0)
          << "\nserver_login_retry = 1\nlog_connections = 0\n"
          << "log_disconnections = 0\n";
    }
    std::string ini_path = bouncer->dir_ + "/pgbouncer.ini";
    std::string log_path = bouncer->dir_ + "/pgbouncer.log";
    std::vector<std::string> args = {kBinary};
    // pgbouncer refuses to run as root; -u switches to the cluster's owner.
    if (getuid() == 0) {
      args.push_back("-u");
      args.push_back("postgres");
    }
    args.push_back(ini_path);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      execv(kBinary, argv.data());
      _exit(127);
    }
    close(log_fd);
    bouncer->pid_ = pid;
    absl::Time give_up = absl::Now() + absl::Seconds(5);
    bool up = false;
    int status = 0;
    while (absl::Now() < give_up) {
      if (Accepts(bouncer->port_)) {
        up = true;
        break;
      }
      if (waitpid(pid, &status, WNOHANG) == pid) {
        bouncer->pid_ = -1;
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (up) return bouncer;
    if (attempt == 4) {
      return absl::UnavailableError(absl::StrCat("pgbouncer did not start:\n", bouncer->log()));
    }
  }
  return absl::UnavailableError("pgbouncer did not start: no free port");
}

PgBouncer::~PgBouncer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 200 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (kill(pid_, 0) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  if (!dir_.empty()) std::system(("rm -rf " + dir_).c_str());
}

std::string PgBouncer::Through(const std::string& dsn) const {
  std::vector<std::string> kept;
  for (absl::string_view part : absl::StrSplit(dsn, ' ', absl::SkipEmpty())) {
    if (absl::StartsWith(part, "host=") || absl::StartsWith(part, "port=")) continue;
    kept.emplace_back(part);
  }
  return absl::StrCat("host=127.0.0.1 port=", port_, " ", absl::StrJoin(kept, " "));
}

std::string PgBouncer::log() const {
  std::ifstream file(dir_ + "/pgbouncer.log");
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

}  // namespace firstsip::testing
