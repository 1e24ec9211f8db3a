// Certificates made with the openssl command for a test, in a directory of its own: a CA, a
// server certificate for 127.0.0.1 and localhost, client certificates with SPIFFE URI SANs, and
// a second, unrelated CA. P-256 keys: each certificate takes milliseconds.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace firstsip::testing {

// The SPIFFE trust domain of deploy/k8s and its example policy.
inline constexpr char kTrustDomain[] = "spiffe://firstsip.example";

class TestCertificates {
 public:
  // Makes the directory, the CAs "ca" and "other-ca", and the server certificate "server".
  static absl::StatusOr<std::unique_ptr<TestCertificates>> Create();
  ~TestCertificates();

  // NAME.pem and NAME.key, signed by `ca` ("ca" or "other-ca"), with `uri` as URI SAN (none
  // when empty). A second call replaces both files with a new key and a new serial.
  absl::Status IssueClient(const std::string& name, const std::string& uri,
                           const std::string& ca = "ca");
  // A server certificate for 127.0.0.1 and localhost in NAME.pem and NAME.key: a new key and a
  // new serial each time.
  absl::Status IssueServer(const std::string& name = "server");

  // The path of a file in the directory, e.g. Path("ca.pem").
  std::string Path(const std::string& file) const { return dir_ + "/" + file; }
  // The contents of a file in the directory.
  std::string Read(const std::string& file) const;

  // Channel credentials for mutual TLS as client `name` (NAME.pem, NAME.key), trusting "ca".
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(const std::string& name) const;

 private:
  explicit TestCertificates(std::string dir) : dir_(std::move(dir)) {}
  absl::Status Run(const std::string& script) const;

  std::string dir_;
};

// The serial number (hex) of the leaf in `pem`, "" when it holds none.
std::string SerialOf(const std::string& pem);

// A channel to `target` with a connection of its own (not shared with other channels to the
// same target, as gRPC otherwise does).
std::shared_ptr<grpc::Channel> SeparateChannel(const std::string& target,
                                               std::shared_ptr<grpc::ChannelCredentials> creds);

}  // namespace firstsip::testing
