// Connection strings (DSNs): both libpq forms, URL and key=value.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace firstsip::db {

// The DSN with its password replaced by "***", for logs (as userver's DsnCutPassword).
// Never fails: a DSN libpq cannot parse is shown as "<unparsable DSN>".
std::string DsnCutPassword(absl::string_view dsn);

// OK when libpq can parse `dsn`; otherwise INVALID_ARGUMENT without echoing the DSN (it may
// hold a password).
absl::Status ValidateDsn(absl::string_view dsn);

}  // namespace firstsip::db
