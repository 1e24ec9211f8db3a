// Connection strings (DSNs): both libpq forms, URL and key=value.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace firstsip::db {

// The DSN with its password replaced by "***", for logs (as userver's DsnCutPassword).
// Never fails: a DSN libpq cannot parse is shown as "<unparsable DSN>".
std::string DsnCutPassword(absl::string_view dsn);

// OK when libpq can parse `dsn`; otherwise INVALID_ARGUMENT without echoing the DSN (it may
// hold a password).
absl::Status ValidateDsn(absl::string_view dsn);

// One server named by a DSN.
struct DsnHost {
  std::string dsn;    // key=value, this server only, every other setting of the original kept
  std::string label;  // "host:port", for logs and metrics (no credentials)
};

// The servers a DSN names, in order: one for a single-host DSN, several for libpq's multi-host
// form (`host=a,b port=1,2` or `postgresql://a:1,b:2/db`; one port applies to every host).
// INVALID_ARGUMENT when libpq cannot parse it or the host and port lists do not pair up.
absl::StatusOr<std::vector<DsnHost>> SplitHosts(absl::string_view dsn);

}  // namespace firstsip::db
