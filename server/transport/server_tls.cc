#include "transport/server_tls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace firstsip::transport {
namespace {

// How often gRPC's watcher looks at the published files. They change only when we publish, so
// a second costs nothing and keeps the delay to about the refresh interval.
constexpr unsigned int kProviderRefreshSeconds = 1;

constexpr char kIdentityFile[] = "identity.pem";
constexpr char kClientCaFile[] = "client-ca.pem";

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

absl::Status Invalid(absl::string_view flag, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", what));
}

// Every certificate in `pem`, in order.
std::vector<X509Ptr> Certificates(const std::string& pem) {
  std::vector<X509Ptr> certificates;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (bio == nullptr) return certificates;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certificates.emplace_back(certificate, &X509_free);
  }
  ERR_clear_error();  // the read that found no more certificates left an error behind
  return certificates;
}

std::string Subject(X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (bio == nullptr) return "";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

CertificateSummary Summarize(X509* leaf) {
  CertificateSummary summary;
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      summary.serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  summary.subject = Subject(leaf);
  std::tm not_after{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(leaf), &not_after) == 1) {
    summary.not_after = absl::FromTM(not_after, absl::UTCTimeZone());
  }
  return summary;
}

// The whole file, or nullopt.
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::string contents((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return std::nullopt;
  return contents;
}

// Replaces `path` with `contents` in one rename, so a reader sees the old file or the new one.
// The new file's modification time is at least a second past the old one's: gRPC's watcher
// reads a file and compares its modification time (in seconds) before and after, and so
// notices a replacement that happened while it read.
absl::Status ReplaceFile(const std::string& path, const std::string& contents) {
  std::string temporary = absl::StrCat(path, ".new");
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", temporary));
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_nsec = 0;
  struct stat previous {};
  if (stat(path.c_str(), &previous) == 0 && times[0].tv_sec <= previous.st_mtim.tv_sec) {
    times[0].tv_sec = previous.st_mtim.tv_sec + 1;
  }
  times[1] = times[0];
  bool ok = written == contents.size() && futimens(fd, times) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(temporary.c_str(), path.c_str()) != 0) {
    unlink(temporary.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CertificateSummary> CheckTlsMaterial(const std::string& cert_pem,
                                                    const std::string& key_pem,
                                                    const std::optional<std::string>& ca_pem) {
  std::vector<X509Ptr> chain = Certificates(cert_pem);
  if (chain.empty()) return Invalid("tls-cert", "holds no PEM certificate");
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), &BIO_free);
  KeyPtr key(bio == nullptr
                 ? nullptr
                 : PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")),
             &EVP_PKEY_free);
  ERR_clear_error();
  if (key == nullptr)
    return Invalid("tls-key", "holds no PEM private key (or one with a passphrase)");
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return Invalid("tls-key",
                   "does not match the certificate in --tls-cert (a renewal written halfway, or "
                   "the wrong pair)");
  }
  if (ca_pem.has_value() && Certificates(*ca_pem).empty()) {
    return Invalid("tls-client-ca", "holds no PEM certificate");
  }
  return Summarize(chain.front().get());
}

absl::StatusOr<ServerTls::Contents> ServerTls::Read(const TlsFiles& files) {
  Contents contents;
  // The same words as before this file was watched: operators' runbooks grep for them.
  auto read = [](absl::string_view flag, const std::string& path,
                 std::string* out) -> absl::Status {
    std::optional<std::string> text = ReadFile(path);
    if (!text.has_value() || text->find("-----BEGIN") == std::string::npos) {
      return Invalid(flag, absl::StrCat("cannot read a PEM file at ", path));
    }
    *out = *std::move(text);
    return absl::OkStatus();
  };
  if (absl::Status status = read("tls-key", files.key, &contents.key); !status.ok()) return status;
  if (absl::Status status = read("tls-cert", files.cert, &contents.cert); !status.ok()) {
    return status;
  }
  if (!files.client_ca.empty()) {
    if (absl::Status status = read("tls-client-ca", files.client_ca, &contents.ca); !status.ok()) {
      return status;
    }
  }
  return contents;
}

absl::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Create(TlsFiles files,
                                                             absl::Duration interval,
                                                             ReloadListener on_reload) {
  absl::StatusOr<Contents> contents = Read(files);
  if (!contents.ok()) return contents.status();
  absl::StatusOr<CertificateSummary> summary = CheckTlsMaterial(
      contents->cert, contents->key,
      files.client_ca.empty() ? std::nullopt : std::optional<std::string>(contents->ca));
  if (!summary.ok()) return summary.status();

  const char* tmp = getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp", "/firstsip-tls-XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS: cannot make a private directory for the certificates in ", pattern, " (",
                     std::strerror(errno), "); point TMPDIR at a writable directory"));
  }
  std::unique_ptr<ServerTls> tls(new ServerTls(std::move(files), pattern, std::move(on_reload)));
  if (absl::Status published = tls->Publish(*contents); !published.ok()) return published;
  tls->initial_ = *std::move(summary);
  tls->last_read_ = *std::move(contents);

  const bool mutual = !tls->files_.client_ca.empty();
  std::string identity = absl::StrCat(tls->directory_, "/", kIdentityFile);
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      identity, identity, mutual ? absl::StrCat(tls->directory_, "/", kClientCaFile) : "",
      kProviderRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (mutual) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  tls->credentials_ = grpc::experimental::TlsServerCredentials(options);
  tls->thread_ = std::make_unique<PeriodicThread>("fs-tls-files", interval,
                                                  [raw = tls.get()] { raw->Reread(); });
  return tls;
}

ServerTls::ServerTls(TlsFiles files, std::string directory, ReloadListener on_reload)
    : files_(std::move(files)),
      directory_(std::move(directory)),
      on_reload_(std::move(on_reload)) {}

ServerTls::~ServerTls() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

void ServerTls::Stop() {
  if (thread_ != nullptr) thread_->Stop();
}

absl::Status ServerTls::Publish(const Contents& contents) {
  if (!files_.client_ca.empty()) {
    absl::Status ca = ReplaceFile(absl::StrCat(directory_, "/", kClientCaFile), contents.ca);
    if (!ca.ok()) return ca;
  }
  // Key first: gRPC reads the key from the file's first private key and the chain from its
  // certificates, so one file carries a pair that can never be half replaced.
  std::string identity = contents.key;
  if (!identity.empty() && identity.back() != '\n') identity += '\n';
  identity += contents.cert;
  absl::Status written = ReplaceFile(absl::StrCat(directory_, "/", kIdentityFile), identity);
  OPENSSL_cleanse(identity.data(), identity.size());
  return written;
}

void ServerTls::Reread() {
  absl::StatusOr<Contents> contents = Read(files_);
  if (!contents.ok()) {
    // Reported once, until the files can be read again.
    if (!last_read_.has_value()) return;
    last_read_.reset();
    if (on_reload_) on_reload_(contents.status(), nullptr);
    return;
  }
  if (last_read_.has_value() && *contents == *last_read_) return;
  last_read_ = *contents;
  absl::StatusOr<CertificateSummary> summary = CheckTlsMaterial(
      contents->cert, contents->key,
      files_.client_ca.empty() ? std::nullopt : std::optional<std::string>(contents->ca));
  if (!summary.ok()) {
    if (on_reload_) on_reload_(summary.status(), nullptr);
    return;
  }
  if (absl::Status published = Publish(*contents); !published.ok()) {
    if (on_reload_) on_reload_(published, nullptr);
    return;
  }
  if (on_reload_) on_reload_(absl::OkStatus(), &*summary);
}

}  // namespace firstsip::transport
