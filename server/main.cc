// firstsip-server: the First Sip data service. Parses configuration once, then runs one of
//   serve (default)   migrate, then serve gRPC until SIGTERM/SIGINT
//   migrate ...       schema migrations by hand
//   seed-dev          development seed data
#include <openssl/crypto.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "app/check_policy_command.h"
#include "app/library_logs.h"
#include "app/migrate_command.h"
#include "app/options.h"
#include "app/rotate_keys_command.h"
#include "app/service.h"
#include "common/log.h"
#include "crypto/key_ring.h"
#include "db/blocking_connection.h"
#include "dev/seed_dev.h"

// jemalloc's settings (it is linked in, see server/CMakeLists.txt): two arenas for a process
// whose busy threads are one queue thread per core and the database loop, and freed pages
// handed back within a second. ListBriefings at 256 in flight: about 67 MiB RSS instead of 88,
// at the same speed (docs/BENCHMARKS.md). The MALLOC_CONF environment variable still wins.
extern "C" {
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

namespace {
const firstsip::app::Options kDefaults;
}  // namespace

ABSL_FLAG(std::string, listen, kDefaults.listen,
          "gRPC address HOST:PORT (env FIRSTSIP_LISTEN); port 0 picks a free port");
ABSL_FLAG(std::string, database_url, kDefaults.database_url,
          "PostgreSQL URL or key=value DSN (env DATABASE_URL)");
ABSL_FLAG(std::string, direct_database_url, "",
          "PostgreSQL URL past any transaction pooler, for migrations (a session advisory lock) "
          "and the change feed's LISTEN (env FIRSTSIP_DIRECT_DATABASE_URL); default: "
          "--database-url");
ABSL_FLAG(std::string, read_database_url, "",
          "hot standbys for GetUser, GetUserByEmail, ListUsers, GetIdentity, ListIdentities, "
          "GetBriefing and ListBriefings (env FIRSTSIP_READ_DATABASE_URL); several hosts in "
          "libpq's multi-host form are each used; default: every read goes to --database-url");
ABSL_FLAG(absl::Duration, read_max_lag, kDefaults.read_max_lag,
          "a standby that may lack a change older than this is skipped and the read goes to the "
          "primary (env FIRSTSIP_READ_MAX_LAG)");
ABSL_FLAG(absl::Duration, keepalive, kDefaults.keepalive,
          "ping a client connection quiet this long, and close it (ending its calls) if the "
          "ping is not answered within this or 20s, whichever is less (env "
          "FIRSTSIP_KEEPALIVE)");
ABSL_FLAG(bool, prepared_statements, kDefaults.prepared_statements,
          "prepare each statement once per connection (env FIRSTSIP_PREPARED_STATEMENTS); false "
          "sends every statement unnamed, for PgBouncer in transaction mode");
ABSL_FLAG(int, pool_size, kDefaults.pool_size, "database connections (env FIRSTSIP_POOL_SIZE)");
ABSL_FLAG(int, max_waiting, kDefaults.max_waiting,
          "requests that may wait for a connection before RESOURCE_EXHAUSTED "
          "(env FIRSTSIP_MAX_WAITING)");
ABSL_FLAG(int, grpc_threads, kDefaults.grpc_threads,
          "gRPC completion queues, each with a thread of its own; 0: one per core "
          "(env FIRSTSIP_GRPC_THREADS)");
ABSL_FLAG(bool, migrate, kDefaults.migrate_on_start,
          "apply pending migrations at start-up (env FIRSTSIP_MIGRATE); when false, start only "
          "on a current schema");
ABSL_FLAG(absl::Duration, migrate_lock_timeout, kDefaults.migrate_lock_timeout,
          "longest wait for another replica's migration lock (env FIRSTSIP_MIGRATE_LOCK_TIMEOUT)");
ABSL_FLAG(absl::Duration, migrate_statement_lock_timeout, kDefaults.migrate_statement_lock_timeout,
          "lock_timeout of every migration statement: the longest the service's own queries "
          "can queue behind one (env FIRSTSIP_MIGRATE_STATEMENT_LOCK_TIMEOUT)");
ABSL_FLAG(absl::Duration, migrate_statement_max_wait, kDefaults.migrate_statement_max_wait,
          "how long a migration statement keeps retrying after lock timeouts, with backoff "
          "(env FIRSTSIP_MIGRATE_STATEMENT_MAX_WAIT)");
ABSL_FLAG(std::string, migrations_dir, "",
          "read the migration files from this directory instead of those built in; for tests "
          "and operators (env FIRSTSIP_MIGRATIONS_DIR)");
ABSL_FLAG(absl::Duration, shutdown_grace, kDefaults.shutdown_grace,
          "on SIGTERM, how long in-flight calls may finish (env FIRSTSIP_SHUTDOWN_GRACE)");
ABSL_FLAG(absl::Duration, health_interval, kDefaults.health_interval,
          "how often health probes the database (env FIRSTSIP_HEALTH_INTERVAL)");
ABSL_FLAG(absl::Duration, change_retention, kDefaults.change_retention,
          "how long the change feed keeps briefing changes; WatchBriefings resume tokens older "
          "than this are OUT_OF_RANGE (env FIRSTSIP_CHANGE_RETENTION)");
ABSL_FLAG(
    std::string, encryption_key_file, "",
    "file holding the base64 AES-256 key (env FIRSTSIP_ENCRYPTION_KEY_FILE); otherwise the "
    "key comes from ENCRYPTION_KEY. ENCRYPTION_PREVIOUS_KEYS (comma-separated) still decrypt");
ABSL_FLAG(int, rotate_batch_size, kDefaults.rotate_batch_size,
          "rows per transaction for rotate-keys (env FIRSTSIP_ROTATE_BATCH_SIZE)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:9464",
          "Prometheus metrics over HTTP at HOST:PORT/metrics (env FIRSTSIP_METRICS_LISTEN); "
          "empty turns them off");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain to serve TLS with (env FIRSTSIP_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls-cert (env FIRSTSIP_TLS_KEY)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA: require client certificates it signed, i.e. mutual TLS "
          "(env FIRSTSIP_TLS_CLIENT_CA)");
ABSL_FLAG(std::string, authz_policy, "",
          "gRPC authorization policy (gRFC A43 JSON): which client certificate may call which "
          "method; needs --tls-client-ca; re-read while serving (env FIRSTSIP_AUTHZ_POLICY)");
ABSL_FLAG(absl::Duration, refresh_interval, kDefaults.refresh_interval,
          "how often --authz-policy and the TLS files are re-read for changes (env "
          "FIRSTSIP_REFRESH_INTERVAL)");
ABSL_FLAG(bool, insecure_listen, false,
          "allow plaintext on a non-loopback --listen, e.g. behind a mesh that encrypts "
          "(env FIRSTSIP_INSECURE_LISTEN)");
// Personal-data lifecycle: erasure after soft delete, briefing retention, export.
ABSL_FLAG(absl::Duration, erase_deleted_after, kDefaults.erase_deleted_after,
          "erase users soft-deleted longer than this, for good (env "
          "FIRSTSIP_ERASE_DELETED_AFTER); 0: never");
ABSL_FLAG(absl::Duration, briefing_retention, kDefaults.briefing_retention,
          "remove briefings created longer ago than this, with their changes (env "
          "FIRSTSIP_BRIEFING_RETENTION); 0: keep them forever");
ABSL_FLAG(absl::Duration, lifecycle_interval, kDefaults.lifecycle_interval,
          "how often erasure and retention look for work (env FIRSTSIP_LIFECYCLE_INTERVAL)");
ABSL_FLAG(int, export_message_bytes, kDefaults.export_message_bytes,
          "largest ExportUser stream message, in bytes (env FIRSTSIP_EXPORT_MESSAGE_BYTES)");
ABSL_FLAG(std::string, log_format, "json",
          "json (one object per line) or text (env FIRSTSIP_LOG_FORMAT)");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error (env FIRSTSIP_LOG_LEVEL)");
// The briefing scheduler.
ABSL_FLAG(bool, schedule_briefings, kDefaults.schedule_briefings,
          "create each user's briefing at their local preferred_briefing_time; every replica "
          "may, they share the work (env FIRSTSIP_SCHEDULE_BRIEFINGS)");
ABSL_FLAG(absl::Duration, schedule_max_lateness, kDefaults.schedule_max_lateness,
          "a due time missed by more than this (the service was down) creates no briefing for "
          "that day; within it the briefing is created late (env FIRSTSIP_SCHEDULE_MAX_LATENESS)");

namespace firstsip {
namespace {

constexpr char kUsage[] =
    "First Sip data service.\n\n"
    "usage: firstsip-server [flags] [serve]\n"
    "       firstsip-server [flags] migrate up | down N | goto V | force V | version | status\n"
    "       firstsip-server [flags] seed-dev\n"
    "       firstsip-server [flags] rotate-keys\n"
    "       firstsip-server check-policy FILE [PRINCIPAL...]\n\n"
    "Flags may be written --pool-size or --pool_size; each also reads the environment "
    "variable named in its help.";

// Every flag that an environment variable can set. Command-line values win.
constexpr std::pair<const char*, const char*> kFlagEnvironment[] = {
    {"listen", "FIRSTSIP_LISTEN"},
    {"database_url", "DATABASE_URL"},
    {"direct_database_url", "FIRSTSIP_DIRECT_DATABASE_URL"},
    {"read_database_url", "FIRSTSIP_READ_DATABASE_URL"},
    {"read_max_lag", "FIRSTSIP_READ_MAX_LAG"},
    {"prepared_statements", "FIRSTSIP_PREPARED_STATEMENTS"},
    {"keepalive", "FIRSTSIP_KEEPALIVE"},
    {"pool_size", "FIRSTSIP_POOL_SIZE"},
    {"max_waiting", "FIRSTSIP_MAX_WAITING"},
    {"grpc_threads", "FIRSTSIP_GRPC_THREADS"},
    {"migrate", "FIRSTSIP_MIGRATE"},
    {"migrate_lock_timeout", "FIRSTSIP_MIGRATE_LOCK_TIMEOUT"},
    {"migrate_statement_lock_timeout", "FIRSTSIP_MIGRATE_STATEMENT_LOCK_TIMEOUT"},
    {"migrate_statement_max_wait", "FIRSTSIP_MIGRATE_STATEMENT_MAX_WAIT"},
    {"migrations_dir", "FIRSTSIP_MIGRATIONS_DIR"},
    {"shutdown_grace", "FIRSTSIP_SHUTDOWN_GRACE"},
    {"health_interval", "FIRSTSIP_HEALTH_INTERVAL"},
    {"change_retention", "FIRSTSIP_CHANGE_RETENTION"},
    {"encryption_key_file", "FIRSTSIP_ENCRYPTION_KEY_FILE"},
    {"rotate_batch_size", "FIRSTSIP_ROTATE_BATCH_SIZE"},
    {"metrics_listen", "FIRSTSIP_METRICS_LISTEN"},
    {"tls_cert", "FIRSTSIP_TLS_CERT"},
    {"tls_key", "FIRSTSIP_TLS_KEY"},
    {"tls_client_ca", "FIRSTSIP_TLS_CLIENT_CA"},
    {"authz_policy", "FIRSTSIP_AUTHZ_POLICY"},
    {"refresh_interval", "FIRSTSIP_REFRESH_INTERVAL"},
    {"insecure_listen", "FIRSTSIP_INSECURE_LISTEN"},
    {"erase_deleted_after", "FIRSTSIP_ERASE_DELETED_AFTER"},
    {"briefing_retention", "FIRSTSIP_BRIEFING_RETENTION"},
    {"lifecycle_interval", "FIRSTSIP_LIFECYCLE_INTERVAL"},
    {"export_message_bytes", "FIRSTSIP_EXPORT_MESSAGE_BYTES"},
    {"log_format", "FIRSTSIP_LOG_FORMAT"},
    {"log_level", "FIRSTSIP_LOG_LEVEL"},
    // The briefing scheduler.
    {"schedule_briefings", "FIRSTSIP_SCHEDULE_BRIEFINGS"},
    {"schedule_max_lateness", "FIRSTSIP_SCHEDULE_MAX_LATENESS"},
};

[[noreturn]] void ConfigError(const std::string& line) {
  std::fprintf(stderr, "firstsip-server: %s\n", line.c_str());
  std::exit(2);
}

void ApplyEnvironment() {
  for (const auto& [flag, variable] : kFlagEnvironment) {
    const char* value = std::getenv(variable);
    if (value == nullptr || value[0] == '\0') continue;
    std::string error;
    if (!absl::FindCommandLineFlag(flag)->ParseFrom(value, &error)) {
      // The value itself is not echoed: DATABASE_URL may hold a password.
      ConfigError(absl::StrCat(variable, " is malformed: ", error.substr(0, error.find('\''))));
    }
  }
}

// Abseil's flag names use underscores; operators type dashes. Accept both.
std::vector<std::string> NormalizeFlagNames(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() < 3 || arg[0] != '-') continue;
    size_t start = arg[1] == '-' ? 2 : 1;
    size_t end = std::min(arg.find('='), arg.size());
    for (size_t k = start; k < end; ++k) {
      if (arg[k] == '-') arg[k] = '_';
    }
  }
  return args;
}

LogLevel ParseLogLevel(const std::string& name) {
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "warning" || name == "warn") return LogLevel::kWarning;
  if (name == "error") return LogLevel::kError;
  ConfigError("--log-level: must be debug, info, warning or error");
}

app::Options OptionsFromFlags() {
  app::Options options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.database_url = absl::GetFlag(FLAGS_database_url);
  options.direct_database_url = absl::GetFlag(FLAGS_direct_database_url);
  options.read_database_url = absl::GetFlag(FLAGS_read_database_url);
  options.read_max_lag = absl::GetFlag(FLAGS_read_max_lag);
  options.prepared_statements = absl::GetFlag(FLAGS_prepared_statements);
  options.keepalive = absl::GetFlag(FLAGS_keepalive);
  options.pool_size = absl::GetFlag(FLAGS_pool_size);
  options.max_waiting = absl::GetFlag(FLAGS_max_waiting);
  options.grpc_threads = absl::GetFlag(FLAGS_grpc_threads);
  options.migrate_on_start = absl::GetFlag(FLAGS_migrate);
  options.migrate_lock_timeout = absl::GetFlag(FLAGS_migrate_lock_timeout);
  options.migrate_statement_lock_timeout = absl::GetFlag(FLAGS_migrate_statement_lock_timeout);
  options.migrate_statement_max_wait = absl::GetFlag(FLAGS_migrate_statement_max_wait);
  options.migrations_dir = absl::GetFlag(FLAGS_migrations_dir);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.health_interval = absl::GetFlag(FLAGS_health_interval);
  options.change_retention = absl::GetFlag(FLAGS_change_retention);
  options.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options.encryption_key_file = absl::GetFlag(FLAGS_encryption_key_file);
  options.rotate_batch_size = absl::GetFlag(FLAGS_rotate_batch_size);
  options.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.insecure_listen = absl::GetFlag(FLAGS_insecure_listen);
  options.authz_policy = absl::GetFlag(FLAGS_authz_policy);
  options.refresh_interval = absl::GetFlag(FLAGS_refresh_interval);
  options.erase_deleted_after = absl::GetFlag(FLAGS_erase_deleted_after);
  options.briefing_retention = absl::GetFlag(FLAGS_briefing_retention);
  options.lifecycle_interval = absl::GetFlag(FLAGS_lifecycle_interval);
  options.export_message_bytes = absl::GetFlag(FLAGS_export_message_bytes);
  // The briefing scheduler.
  options.schedule_briefings = absl::GetFlag(FLAGS_schedule_briefings);
  options.schedule_max_lateness = absl::GetFlag(FLAGS_schedule_max_lateness);
  if (absl::Status valid = app::ValidateOptions(options); !valid.ok()) {
    ConfigError(std::string(valid.message()));
  }
  SetMinLogLevel(ParseLogLevel(absl::GetFlag(FLAGS_log_level)));
  std::string log_format = absl::GetFlag(FLAGS_log_format);
  if (log_format != "json" && log_format != "text") {
    ConfigError("--log-format: must be json or text");
  }
  SetLogFormat(log_format == "json" ? LogFormat::kJson : LogFormat::kText);
  return options;
}

// Takes a secret out of the environment: the value is copied, the environment's copy wiped
// and removed, so it does not linger where /proc/self/environ or a child process could see it.
std::optional<std::string> TakeSecret(const char* variable) {
  char* value = std::getenv(variable);
  if (value == nullptr) return std::nullopt;
  std::string copy(value);
  OPENSSL_cleanse(value, copy.size());
  unsetenv(variable);
  return copy;
}

// The encryption keys, or one clear line and exit 2.
crypto::KeyRing LoadKeys(const app::Options& options, std::optional<std::string> key,
                         std::optional<std::string> previous) {
  absl::StatusOr<crypto::KeyRing> keys =
      crypto::KeyRing::Load(std::move(key), options.encryption_key_file, std::move(previous));
  if (!keys.ok()) ConfigError(std::string(keys.status().message()));
  return *std::move(keys);
}

// Blocks SIGINT and SIGTERM in every thread (call before starting any), so that WaitForSignal
// receives them synchronously instead of a handler running at an arbitrary point.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// The server until SIGTERM/SIGINT; its parts and their order are app::Service's.
int Serve(const app::Options& options, const crypto::KeyRing& keys,
          const sigset_t& shutdown_signals) {
  absl::StatusOr<std::unique_ptr<app::Service>> service = app::Service::Create(options, keys);
  if (!service.ok()) ConfigError(std::string(service.status().message()));
  return (*service)->Run(shutdown_signals);
}

int SeedDev(const app::Options& options) {
  if (!app::PrepareSchema(options, /*migrate=*/true)) return 1;
  auto connection = db::BlockingConnection::Open(options.database_url);
  absl::Status outcome = connection.ok() ? dev::SeedDev(**connection) : connection.status();
  if (!outcome.ok()) {
    std::fprintf(stderr, "seed-dev: %s\n", std::string(outcome.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace firstsip

int main(int argc, char** argv) {
  using namespace firstsip;
  sigset_t shutdown_signals = BlockShutdownSignals();
  // gRPC's locks are absl::Mutex; their deadlock-cycle bookkeeping costs on every lock in the
  // hot path and finds nothing in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  app::RouteLibraryLogsToOurs();
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage_config;
  usage_config.contains_help_flags = [](absl::string_view path) {
    return absl::EndsWith(path, "server/main.cc");
  };
  absl::SetFlagsUsageConfig(usage_config);
  ApplyEnvironment();
  std::vector<std::string> normalized = NormalizeFlagNames(argc, argv);
  std::vector<char*> pointers;
  for (std::string& arg : normalized) pointers.push_back(arg.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(pointers.size()), pointers.data());
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  app::Options options = OptionsFromFlags();

  std::optional<std::string> key = TakeSecret("ENCRYPTION_KEY");
  std::optional<std::string> previous_keys = TakeSecret("ENCRYPTION_PREVIOUS_KEYS");
  std::string command = args.empty() ? "serve" : args[0];
  if (command == "serve" && args.size() <= 1) {
    crypto::KeyRing keys = LoadKeys(options, std::move(key), std::move(previous_keys));
    return Serve(options, keys, shutdown_signals);
  }
  if (command == "rotate-keys" && args.size() == 1) {
    crypto::KeyRing keys = LoadKeys(options, std::move(key), std::move(previous_keys));
    return app::RunRotateKeysCommand(options, keys);
  }
  if (command == "migrate") {
    return app::RunMigrateCommand(std::vector<std::string>(args.begin() + 1, args.end()), options);
  }
  if (command == "seed-dev" && args.size() == 1) return SeedDev(options);
  if (command == "check-policy") {
    return app::RunCheckPolicyCommand(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::fprintf(stderr, "firstsip-server: unknown command \"%s\"; see --help\n", command.c_str());
  return 2;
}
