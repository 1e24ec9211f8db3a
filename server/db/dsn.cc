#include "db/dsn.h"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace firstsip::db {
namespace {

struct OptionsFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};
using ParsedOptions = std::unique_ptr<PQconninfoOption, OptionsFree>;

ParsedOptions Parse(absl::string_view dsn, std::string* error) {
  std::string copy(dsn);
  char* message = nullptr;
  ParsedOptions options(PQconninfoParse(copy.c_str(), &message));
  if (message != nullptr) {
    if (error != nullptr) *error = message;
    PQfreemem(message);
  }
  return options;
}

// Values in key=value form are quoted when they hold anything but plain characters.
std::string QuoteValue(absl::string_view value) {
  bool plain = !value.empty() && value.find_first_of(" '\\") == absl::string_view::npos;
  if (plain) return std::string(value);
  return absl::StrCat("'", absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"'", "\\'"}}), "'");
}

}  // namespace

std::string DsnCutPassword(absl::string_view dsn) {
  ParsedOptions options = Parse(dsn, nullptr);
  if (!options) return "<unparsable DSN>";
  std::string out;
  for (PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr || option->val[0] == '\0') continue;
    absl::string_view keyword = option->keyword;
    absl::string_view value = keyword == "password" ? "***" : option->val;
    absl::StrAppend(&out, out.empty() ? "" : " ", keyword, "=", QuoteValue(value));
  }
  return out;
}

absl::Status ValidateDsn(absl::string_view dsn) {
  std::string error;
  if (!Parse(dsn, &error)) {
    // libpq's message may quote the DSN; keep only its first line's gist without the value.
    return absl::InvalidArgumentError("the database URL is not a valid libpq connection string");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<DsnHost>> SplitHosts(absl::string_view dsn) {
  ParsedOptions options = Parse(dsn, nullptr);
  if (!options) {
    return absl::InvalidArgumentError("the database URL is not a valid libpq connection string");
  }
  std::vector<std::string> hosts, addresses, ports;
  auto list = [](const char* value) {
    return value == nullptr || value[0] == '\0'
               ? std::vector<std::string>{}
               : std::vector<std::string>(absl::StrSplit(value, ','));
  };
  for (PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    absl::string_view keyword = option->keyword;
    if (keyword == "host") hosts = list(option->val);
    if (keyword == "hostaddr") addresses = list(option->val);
    if (keyword == "port") ports = list(option->val);
  }
  // libpq's own pairing rules (fe-connect.c): hostaddr pairs with host one to one; one port
  // serves every host.
  size_t count = std::max({hosts.size(), addresses.size(), size_t{1}});
  if ((!hosts.empty() && hosts.size() != count) ||
      (!addresses.empty() && addresses.size() != count) ||
      (ports.size() > 1 && ports.size() != count)) {
    return absl::InvalidArgumentError(
        "the database URL's host, hostaddr and port lists do not pair up");
  }
  auto nth = [](const std::vector<std::string>& values, size_t i) -> std::string {
    if (values.empty()) return "";
    return values.size() == 1 ? values[0] : values[i];
  };
  std::vector<DsnHost> servers;
  for (size_t i = 0; i < count; ++i) {
    DsnHost server;
    for (PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
      absl::string_view keyword = option->keyword;
      std::string value = option->val == nullptr ? "" : option->val;
      if (keyword == "host") value = nth(hosts, i);
      if (keyword == "hostaddr") value = nth(addresses, i);
      if (keyword == "port") value = nth(ports, i);
      if (value.empty()) continue;
      absl::StrAppend(&server.dsn, server.dsn.empty() ? "" : " ", keyword, "=", QuoteValue(value));
    }
    std::string host = nth(hosts, i);
    if (host.empty()) host = nth(addresses, i);
    std::string port = nth(ports, i);
    server.label =
        absl::StrCat(host.empty() ? "localhost" : host, ":", port.empty() ? "5432" : port);
    servers.push_back(std::move(server));
  }
  return servers;
}

}  // namespace firstsip::db
