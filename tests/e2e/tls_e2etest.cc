// Transport security with certificates made by openssl at test time: TLS, mutual TLS, and the
// refusal to serve plaintext beyond loopback.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "support/server_process.h"
#include "support/test_database.h"

namespace firstsip {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string("/tmp/firstsip-tls-" + std::to_string(getpid()));
    std::string d = *dir_;
    // P-256 keys: quick to make. A CA, a server certificate for 127.0.0.1, a client
    // certificate from the CA, and a client certificate from an unrelated CA.
    std::string script = absl::StrCat(
        "set -e; mkdir -p ", d, "; cd ", d, "; ",
        "key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout $1.key -subj \"/CN=$2\" $3 2>/dev/null; }; ",
        "key ca 'firstsip test CA' '-x509 -days 2 -out ca.pem'; ",
        "key rogue-ca 'rogue CA' '-x509 -days 2 -out rogue-ca.pem'; ",
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext; ",
        "sign() { openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial "
        "-days 2 -out $1.pem $3 2>/dev/null; }; ",
        "key server localhost '-out server.csr'; sign server ca '-extfile san.ext'; ",
        "key client backend '-out client.csr'; sign client ca; ",
        "key rogue intruder '-out rogue.csr'; sign rogue rogue-ca");
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl could not make the certificates";
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf " + *dir_).c_str());
    delete dir_;
  }

  void SetUp() override {
    auto database = testing::TestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }

  static std::string File(const std::string& name) { return *dir_ + "/" + name; }

  testing::CommandResult Health(const testing::ServerProcess& server,
                                std::vector<std::string> tls) {
    tls.insert(tls.begin(), {"--target=" + server.target(), "--timeout=3s"});
    tls.push_back("health");
    return testing::RunCommand(testing::CliBinary(), tls);
  }

  static std::string* dir_;
  std::unique_ptr<testing::TestDatabase> database_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, ServesClientsThatTrustItsCaAndRefusesPlaintext) {
  auto server = testing::ServerProcess::Start(
      database_->dsn(), {"--tls-cert=" + File("server.pem"), "--tls-key=" + File("server.key")});
  ASSERT_TRUE(server.ok()) << server.status();
  testing::CommandResult trusted = Health(**server, {"--tls-ca=" + File("ca.pem")});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.output;
  EXPECT_EQ(trusted.output, "SERVING\n");
  testing::CommandResult plaintext = Health(**server, {});
  EXPECT_EQ(plaintext.exit_code, 10 + 14) << plaintext.output;  // UNAVAILABLE
  testing::CommandResult wrong_ca = Health(**server, {"--tls-ca=" + File("rogue-ca.pem")});
  EXPECT_EQ(wrong_ca.exit_code, 10 + 14) << wrong_ca.output;
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
}

TEST_F(TlsTest, MutualTlsLetsInOnlyClientsWithACertificateFromItsCa) {
  auto server = testing::ServerProcess::Start(
      database_->dsn(), {"--tls-cert=" + File("server.pem"), "--tls-key=" + File("server.key"),
                         "--tls-client-ca=" + File("ca.pem")});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(absl::StrContains((*server)->output(), "(mutual TLS)"));
  testing::CommandResult member =
      Health(**server, {"--tls-ca=" + File("ca.pem"), "--tls-cert=" + File("client.pem"),
                        "--tls-key=" + File("client.key")});
  EXPECT_EQ(member.exit_code, 0) << member.output;
  testing::CommandResult anonymous = Health(**server, {"--tls-ca=" + File("ca.pem")});
  EXPECT_EQ(anonymous.exit_code, 10 + 14) << anonymous.output;
  testing::CommandResult intruder =
      Health(**server, {"--tls-ca=" + File("ca.pem"), "--tls-cert=" + File("rogue.pem"),
                        "--tls-key=" + File("rogue.key")});
  EXPECT_EQ(intruder.exit_code, 10 + 14) << intruder.output;
  EXPECT_EQ((*server)->Stop(SIGTERM), 0);
}

TEST_F(TlsTest, PlaintextBeyondLoopbackIsRefusedUnlessAskedFor) {
  testing::CommandResult refused =
      testing::RunServerCommand({"--database-url=" + database_->dsn(), "--listen=0.0.0.0:0"},
                                {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "--insecure-listen")) << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "--tls-cert")) << refused.output;
  // Past the check, it stops only because no database answers.
  testing::CommandResult allowed =
      testing::RunServerCommand({"--database-url=postgresql://nobody@127.0.0.1:1/none",
                                 "--listen=0.0.0.0:0", "--insecure-listen"},
                                {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(allowed.exit_code, 1) << allowed.output;
  EXPECT_TRUE(absl::StrContains(allowed.output, "cannot start")) << allowed.output;
  testing::CommandResult half = testing::RunServerCommand(
      {"--database-url=" + database_->dsn(), "--tls-cert=" + File("server.pem")},
      {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(half.exit_code, 2) << half.output;
  testing::CommandResult missing =
      testing::RunServerCommand({"--database-url=" + database_->dsn(),
                                 "--tls-cert=/nonexistent.pem", "--tls-key=/nonexistent.key"},
                                {{"ENCRYPTION_KEY", testing::kTestEncryptionKey}});
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_TRUE(absl::StrContains(missing.output, "cannot read a PEM file")) << missing.output;
}

}  // namespace
}  // namespace firstsip
