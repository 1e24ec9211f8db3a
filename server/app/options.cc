#include "app/options.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "db/dsn.h"

namespace firstsip::app {

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
  if (options.pool_size < 1 || options.pool_size > 256) {
    return invalid("pool-size", "must be between 1 and 256");
  }
  if (options.max_waiting < 1) return invalid("max-waiting", "must be at least 1");
  if (options.migrate_lock_timeout <= absl::ZeroDuration()) {
    return invalid("migrate-lock-timeout", "must be positive, e.g. 2m");
  }
  if (options.shutdown_grace < absl::ZeroDuration()) {
    return invalid("shutdown-grace", "must not be negative");
  }
  if (options.health_interval < absl::Milliseconds(50)) {
    return invalid("health-interval", "must be at least 50ms");
  }
  if (options.rotate_batch_size < 1 || options.rotate_batch_size > 100000) {
    return invalid("rotate-batch-size", "must be between 1 and 100000");
  }
  return absl::OkStatus();
}

}  // namespace firstsip::app
