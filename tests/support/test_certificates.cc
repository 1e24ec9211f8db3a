#include "support/test_certificates.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace firstsip::testing {
namespace {

// Shell functions the scripts share: key NAME SUBJECT [REQ-ARGS] makes a key and a request (or
// a self-signed CA); sign NAME CA [EXTFILE] signs NAME.csr.
constexpr char kFunctions[] =
    "key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
    "-keyout $1.key -subj \"/CN=$2/O=First Sip test\" $3 2>/dev/null; }; "
    "sign() { openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial "
    "-days 2 -out $1.pem $3 2>/dev/null; }; ";

}  // namespace

absl::StatusOr<std::unique_ptr<TestCertificates>> TestCertificates::Create() {
  static std::atomic<int> count{0};
  std::string dir = absl::StrCat("/tmp/firstsip-certs-", getpid(), "-", count++);
  std::unique_ptr<TestCertificates> certificates(new TestCertificates(dir));
  absl::Status made = certificates->Run(
      absl::StrCat("rm -rf ", dir, " && mkdir -p ", dir, " && cd ", dir, " && ",
                   "key ca 'firstsip test CA' '-x509 -days 2 -out ca.pem' && ",
                   "key other-ca 'another CA' '-x509 -days 2 -out other-ca.pem'"));
  if (!made.ok()) return made;
  if (absl::Status server = certificates->IssueServer(); !server.ok()) return server;
  return certificates;
}

TestCertificates::~TestCertificates() { std::system(("rm -rf " + dir_).c_str()); }

absl::Status TestCertificates::Run(const std::string& script) const {
  std::string command = absl::StrCat("set -e; ", kFunctions, script);
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("openssl failed: ", script));
  }
  return absl::OkStatus();
}

absl::Status TestCertificates::IssueServer(const std::string& name) {
  return Run(absl::StrCat("cd ", dir_, " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > ",
                          name, ".ext && key ", name, " localhost '-out ", name, ".csr' && sign ",
                          name, " ca '-extfile ", name, ".ext'"));
}

absl::Status TestCertificates::IssueClient(const std::string& name, const std::string& uri,
                                           const std::string& ca) {
  std::string ext = uri.empty() ? "" : absl::StrCat("-extfile ", name, ".ext");
  return Run(absl::StrCat("cd ", dir_, " && printf 'subjectAltName=URI:", uri, "' > ", name,
                          ".ext && key ", name, " ", name, " '-out ", name, ".csr' && sign ", name,
                          " ", ca, " '", ext, "'"));
}

std::string TestCertificates::Read(const std::string& file) const {
  std::ifstream in(Path(file));
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::shared_ptr<grpc::ChannelCredentials> TestCertificates::ClientCredentials(
    const std::string& name) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = Read("ca.pem");
  ssl.pem_cert_chain = Read(name + ".pem");
  ssl.pem_private_key = Read(name + ".key");
  return grpc::SslCredentials(ssl);
}

std::string SerialOf(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* certificate = bio == nullptr ? nullptr : PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (certificate == nullptr) return "";
  std::string serial;
  if (BIGNUM* number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr)) {
    char* hex = BN_bn2hex(number);
    serial = hex;
    OPENSSL_free(hex);
    BN_free(number);
  }
  X509_free(certificate);
  return serial;
}

std::shared_ptr<grpc::Channel> SeparateChannel(const std::string& target,
                                               std::shared_ptr<grpc::ChannelCredentials> creds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, creds, args);
}

}  // namespace firstsip::testing
