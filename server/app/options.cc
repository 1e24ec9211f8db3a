#include "app/options.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "db/dsn.h"

namespace firstsip::app {

absl::Duration KeepaliveTimeout(const Options& options) {
  return std::min(options.keepalive, absl::Seconds(20));
}

absl::Status ValidateOptions(const Options& options) {
  auto invalid = [](absl::string_view flag, absl::string_view rule) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", rule));
  };
  size_t colon = options.listen.rfind(':');
  if (options.listen.empty() || colon == std::string::npos || colon == 0 ||
      colon + 1 == options.listen.size()) {
    return invalid("listen", "must be HOST:PORT, e.g. 127.0.0.1:50051");
  }
  if (options.database_url.empty()) return invalid("database-url", "must not be empty");
  if (!db::ValidateDsn(options.database_url).ok()) {
    return invalid("database-url", "is not a valid PostgreSQL URL or key=value string");
  }
  if (!options.direct_database_url.empty() && !db::ValidateDsn(options.direct_database_url).ok()) {
    return invalid("direct-database-url", "is not a valid PostgreSQL URL or key=value string");
  }
  if (!options.read_database_url.empty() && !db::SplitHosts(options.read_database_url).ok()) {
    return invalid("read-database-url",
                   "is not a valid PostgreSQL URL or key=value string (its host and port lists "
                   "must pair up)");
  }
  if (options.keepalive < absl::Seconds(1) || options.keepalive > absl::Hours(2)) {
    return invalid("keepalive", "must be between 1s and 2h, e.g. 60s");
  }
  if (options.read_max_lag < absl::Milliseconds(10) || options.read_max_lag > absl::Hours(1)) {
    return invalid("read-max-lag", "must be between 10ms and 1h, e.g. 1s");
  }
  if (!options.prepared_statements && options.direct_database_url.empty()) {
    return invalid("prepared-statements",
                   "false is for a transaction pooler, where migrations' session lock and the "
                   "change feed's LISTEN do not work: set --direct-database-url too, reaching "
                   "PostgreSQL itself (docs/OPERATIONS.md, PgBouncer)");
  }
  if (options.pool_size < 1 || options.pool_size > 256) {
    return invalid("pool-size", "must be between 1 and 256");
  }
  if (options.max_waiting < 1) return invalid("max-waiting", "must be at least 1");
  if (options.grpc_threads < 0 || options.grpc_threads > 256) {
    return invalid("grpc-threads", "must be between 0 (one per core) and 256");
  }
  if (options.migrate_lock_timeout <= absl::ZeroDuration()) {
    return invalid("migrate-lock-timeout", "must be positive, e.g. 2m");
  }
  if (options.migrate_statement_lock_timeout < absl::Milliseconds(1)) {
    return invalid("migrate-statement-lock-timeout", "must be at least 1ms, e.g. 2s");
  }
  if (options.migrate_statement_max_wait < options.migrate_statement_lock_timeout) {
    return invalid("migrate-statement-max-wait",
                   "must be at least --migrate-statement-lock-timeout, e.g. 1m");
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return invalid("shutdown-grace", "must not be negative");
  }
  if (options.health_interval < absl::Milliseconds(50)) {
    return invalid("health-interval", "must be at least 50ms");
  }
  if (options.change_retention < absl::Minutes(1)) {
    return invalid("change-retention", "must be at least 1m, e.g. 168h");
  }
  if (options.erase_deleted_after < absl::ZeroDuration()) {
    return invalid("erase-deleted-after", "must be 0 (never) or a duration, e.g. 720h");
  }
  if (options.briefing_retention != absl::ZeroDuration() &&
      options.briefing_retention < absl::Hours(1)) {
    return invalid("briefing-retention",
                   "must be 0 (keep forever) or at least 1h, e.g. 2160h for 90 days");
  }
  if (options.lifecycle_interval < absl::Milliseconds(100) ||
      options.lifecycle_interval > absl::Hours(24)) {
    return invalid("lifecycle-interval", "must be between 100ms and 24h, e.g. 1m");
  }
  if (options.export_message_bytes < 4096 || options.export_message_bytes > (4 << 20)) {
    return invalid("export-message-bytes",
                   "must be between 4096 and 4194304 (gRPC's default receive limit)");
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return invalid("tls-cert", "--tls-cert and --tls-key go together");
  }
  if (!options.tls_client_ca.empty() && options.tls_cert.empty()) {
    return invalid("tls-client-ca", "mutual TLS needs --tls-cert and --tls-key too");
  }
  if (!options.authz_policy.empty() && options.tls_client_ca.empty()) {
    return invalid("authz-policy",
                   "a policy names callers by their client certificates, so it needs mutual "
                   "TLS: set --tls-cert, --tls-key and --tls-client-ca too");
  }
  if (options.refresh_interval < absl::Seconds(1) || options.refresh_interval > absl::Hours(1)) {
    return invalid("refresh-interval", "must be between 1s and 1h, e.g. 10s");
  }
  if (options.tls_cert.empty() && !options.insecure_listen && !IsLoopbackListen(options.listen)) {
    return invalid("listen",
                   absl::StrCat(options.listen,
                                " is reachable from other machines, and plaintext there would "
                                "expose user data and tokens: set --tls-cert and --tls-key, or "
                                "--insecure-listen if the network layer encrypts it"));
  }
  if (options.schedule_max_lateness < absl::Minutes(1) ||
      options.schedule_max_lateness > absl::Hours(24 * 7)) {
    return invalid("schedule-max-lateness", "must be between 1m and 168h, e.g. 6h");
  }
  if (options.rotate_batch_size < 1 || options.rotate_batch_size > 100000) {
    return invalid("rotate-batch-size", "must be between 1 and 100000");
  }
  return absl::OkStatus();
}

const std::string& DirectDatabaseUrl(const Options& options) {
  return options.direct_database_url.empty() ? options.database_url : options.direct_database_url;
}

bool IsLoopbackListen(const std::string& listen) {
  absl::string_view host = absl::string_view(listen).substr(0, listen.rfind(':'));
  if (absl::ConsumePrefix(&host, "[")) absl::ConsumeSuffix(&host, "]");
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace firstsip::app
