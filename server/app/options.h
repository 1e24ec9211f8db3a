// The server's configuration, parsed once from flags and environment in main.cc and checked
// here before anything starts.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace firstsip::app {

// Clients may ping this often and no more (HTTP/2 keepalive); a faster one is sent GOAWAY
// "too_many_pings". Our own client pings every 30 s by default.
inline constexpr absl::Duration kMinClientPingInterval = absl::Seconds(10);

// The private PostgreSQL that `scripts/run-dev.sh` starts; the default when DATABASE_URL is
// unset, so a developer's first run needs no configuration.
inline constexpr char kDefaultDatabaseUrl[] =
    "postgresql://postgres@127.0.0.1:54329/firstsip?sslmode=disable";

struct Options;

// How long an unanswered keepalive ping is waited for: --keepalive, at most 20 s.
absl::Duration KeepaliveTimeout(const Options& options);

struct Options {
  std::string listen = "127.0.0.1:50051";
  std::string database_url = kDefaultDatabaseUrl;
  // A URL that reaches PostgreSQL itself, past any transaction pooler, for what needs a session
  // of its own: migrations (a session-level advisory lock) and the change feed's LISTEN. Empty:
  // database_url.
  std::string direct_database_url;
  // Hot standbys for the reads a slightly stale answer may serve (db/read_pool.h); empty: every
  // read goes to database_url. Several hosts in libpq's multi-host form are probed and used
  // one by one.
  std::string read_database_url;
  // A standby that may lack a change older than this is skipped.
  absl::Duration read_max_lag = absl::Seconds(1);
  // Prepare each statement once per connection; false sends them all unnamed, for PgBouncer in
  // transaction mode (pipelining stays: PgBouncer 1.18 carries it, tests/pg/pool_pgtest.cc).
  bool prepared_statements = true;
  int pool_size = 4;
  int max_waiting = 10000;
  // gRPC completion queues, each drained by a thread of its own; 0: one per core.
  int grpc_threads = 0;
  bool migrate_on_start = true;
  absl::Duration migrate_lock_timeout = absl::Minutes(2);
  // lock_timeout of every migration statement, and how long one keeps retrying after it.
  absl::Duration migrate_statement_lock_timeout = absl::Seconds(2);
  absl::Duration migrate_statement_max_wait = absl::Minutes(1);
  // Migration files read from this directory instead of those built in (tests, operators).
  std::string migrations_dir;
  absl::Duration shutdown_grace = absl::Seconds(10);
  absl::Duration health_interval = absl::Seconds(1);
  // A connection quiet this long is pinged; one that does not answer within
  // KeepaliveTimeout() is closed, ending its calls: a watcher that vanished without a FIN (a
  // node lost, a partition) frees its stream.
  absl::Duration keepalive = absl::Seconds(60);
  // How long the change feed keeps changes: a WatchBriefings resume token older than this is
  // OUT_OF_RANGE.
  absl::Duration change_retention = absl::Hours(24 * 7);
  // The personal-data lifecycle (lifecycle/lifecycle_jobs.h). Users soft-deleted longer than
  // this are erased (zero: never); briefings created longer ago than briefing_retention are
  // removed (zero: kept forever); both jobs look for work every lifecycle_interval.
  absl::Duration erase_deleted_after = absl::Hours(24 * 30);
  absl::Duration briefing_retention = absl::ZeroDuration();
  absl::Duration lifecycle_interval = absl::Minutes(1);
  // ExportUser sends messages of at most this many bytes (a briefing larger than that travels
  // in a message of its own); below gRPC's default 4 MiB receive limit.
  int export_message_bytes = 1 << 20;
  // A file holding the base64 key (e.g. a Kubernetes secret mount); else ENCRYPTION_KEY.
  std::string encryption_key_file;
  int rotate_batch_size = 500;
  // Prometheus scrape address; empty: no metrics endpoint.
  std::string metrics_listen = "127.0.0.1:9464";
  // TLS: PEM files. With tls_client_ca, clients must present a certificate it signed.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // Serve plaintext on a non-loopback address anyway (a mesh encrypts it).
  bool insecure_listen = false;
  // A gRPC authorization policy (gRFC A43 JSON, authz/policy.h): which caller, named by its
  // client certificate, may call which method. Needs tls_client_ca. Empty: every caller the
  // transport admits may call every method.
  std::string authz_policy;
  // How often authz_policy and the TLS files are re-read; changes apply within about this.
  absl::Duration refresh_interval = absl::Seconds(10);
  // Create each user's briefing at their local briefing time (schedule/briefing_scheduler.h);
  // every replica may, they share the work.
  bool schedule_briefings = true;
  // A due time missed by more than this (the service was down) creates no briefing for that day.
  absl::Duration schedule_max_lateness = absl::Hours(6);
};

// direct_database_url, or database_url when it is empty.
const std::string& DirectDatabaseUrl(const Options& options);

// True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost.
bool IsLoopbackListen(const std::string& listen);

// INVALID_ARGUMENT naming the flag and its rule; never echoes the database URL.
absl::Status ValidateOptions(const Options& options);

}  // namespace firstsip::app
