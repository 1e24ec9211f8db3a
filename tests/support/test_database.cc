#include "support/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "db/blocking_connection.h"

namespace firstsip::testing {
namespace {

absl::StatusOr<std::string> ClusterDsn() {
  if (const char* url = std::getenv("FIRSTSIP_TEST_DATABASE_URL"); url && *url) return url;
  const char* state = std::getenv("FIRSTSIP_TEST_PG_STATE");
  if (state != nullptr && *state) {
    std::ifstream file(absl::StrCat(state, "/conninfo"));
    std::string line;
    if (std::getline(file, line) && !line.empty()) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return absl::FailedPreconditionError(
      "no PostgreSQL for tests: run them through ctest (its fixture starts a throwaway "
      "cluster), or set FIRSTSIP_TEST_DATABASE_URL to a server where databases can be created");
}

}  // namespace

TestDatabase::TestDatabase(std::string admin_dsn, std::string name)
    : admin_dsn_(std::move(admin_dsn)),
      name_(std::move(name)),
      dsn_(absl::StrCat(admin_dsn_, " dbname=", name_)) {}

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  absl::StatusOr<std::string> cluster = ClusterDsn();
  if (!cluster.ok()) return cluster.status();
  std::string admin = absl::StrCat(*cluster, " dbname=postgres");
  static std::atomic<int> counter{0};
  std::random_device random;
  std::string name =
      absl::StrCat("firstsip_test_", getpid(), "_", counter++, "_", random() % 100000);
  auto connection = db::BlockingConnection::Open(admin);
  if (!connection.ok()) return connection.status();
  if (absl::Status created = (*connection)->ExecScript(absl::StrCat("CREATE DATABASE ", name));
      !created.ok()) {
    return created;
  }
  return std::unique_ptr<TestDatabase>(new TestDatabase(admin, name));
}

TestDatabase::~TestDatabase() {
  auto connection = db::BlockingConnection::Open(admin_dsn_);
  if (connection.ok()) {
    (void)(*connection)
        ->ExecScript(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  }
}

}  // namespace firstsip::testing
