// A named SQL statement. Every statement the service sends is one of these constants, defined
// beside the code that runs it; the name is the prepared-statement name, the log field and the
// metric label.
#pragma once

#include "absl/strings/string_view.h"

namespace firstsip::db {

struct Query {
  // Unique across the process, [a-z0-9_]+; used as the prepared statement's name.
  absl::string_view name;
  absl::string_view sql;
};

}  // namespace firstsip::db
