// A gtest fixture for end-to-end tests: a fresh database, the real server binary serving it,
// and a channel to that server.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "support/server_process.h"
#include "support/test_database.h"

namespace firstsip::testing {

class RunningServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Extra flags for the server under test (override to change them).
  virtual std::vector<std::string> ServerFlags() const { return {}; }
  // Environment changes for the server under test.
  virtual EnvironmentOverrides ServerEnvironment() const { return {}; }

  // A client context whose deadline is `timeout` from now.
  static std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(10));

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace firstsip::testing
