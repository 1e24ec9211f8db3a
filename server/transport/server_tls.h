// The server's TLS from PEM files that are renewed while it serves (cert-manager rewrites its
// Secret every few weeks; the kubelet swaps the mounted files). New connections get the renewed
// certificate within the refresh interval; connections already open, and their streams, go on
// with the certificate they started with.
//
// gRPC's FileWatcherCertificateProvider (with TlsServerCredentials) does the reloading, but in
// gRPC 1.51 it takes whatever pair of files it finds: a key that does not match its certificate
// (a renewal caught half-written, files swapped one at a time) breaks every new handshake until
// the next good pair. So the files it watches are not the operator's: a thread of ours reads
// the configured files, checks them (PEM that parses, a key that matches the leaf certificate, a
// CA with at least one certificate), and only then publishes them into a private directory,
// key and chain in one file written and renamed at once, so gRPC never sees half of a pair. A
// pair that fails the check is logged and counted; the previous one stays in use.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/periodic_thread.h"
#include "grpcpp/security/server_credentials.h"

namespace firstsip::transport {

// What a certificate chain's leaf says about itself, for logs.
struct CertificateSummary {
  std::string serial;  // hex
  std::string subject;
  absl::Time not_after;
};

// The PEM files as the flags name them.
struct TlsFiles {
  std::string cert;       // --tls-cert: chain, leaf first
  std::string key;        // --tls-key
  std::string client_ca;  // --tls-client-ca; empty: no client certificates asked for
};

// The three files' contents, checked: OK, or INVALID_ARGUMENT naming the flag and what is wrong.
// `key_pem` is never part of a message. Exposed for tests.
absl::StatusOr<CertificateSummary> CheckTlsMaterial(const std::string& cert_pem,
                                                    const std::string& key_pem,
                                                    const std::optional<std::string>& ca_pem);

class ServerTls {
 public:
  // Hears each re-read that found the files changed: the new certificate's summary once it is
  // published, or why the files were refused (the previous ones stay). On the watcher's thread.
  using ReloadListener =
      std::function<void(const absl::Status& outcome, const CertificateSummary* loaded)>;

  // Reads and checks the files now (INVALID_ARGUMENT naming the flag when one is unreadable or
  // wrong), publishes them for gRPC, and re-reads them every `interval` until Stop.
  static absl::StatusOr<std::unique_ptr<ServerTls>> Create(TlsFiles files, absl::Duration interval,
                                                           ReloadListener on_reload);
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // TLS (mutual TLS with a client CA) served from the published files.
  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }
  // The certificate served to new connections (as published; gRPC takes it within a second).
  const CertificateSummary& initial() const { return initial_; }

  // Joins the watcher thread. Idempotent.
  void Stop();

 private:
  struct Contents {
    std::string cert;
    std::string key;
    std::string ca;
    bool operator==(const Contents& other) const = default;
  };

  ServerTls(TlsFiles files, std::string directory, ReloadListener on_reload);
  static absl::StatusOr<Contents> Read(const TlsFiles& files);
  absl::Status Publish(const Contents& contents);
  void Reread();

  const TlsFiles files_;
  const std::string directory_;  // ours, 0700; removed with this object
  const ReloadListener on_reload_;
  CertificateSummary initial_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  // On the watcher's thread only: what was last read (good or not); nullopt when a file could
  // not be read.
  std::optional<Contents> last_read_;
  std::unique_ptr<PeriodicThread> thread_;  // last: it runs Reread
};

}  // namespace firstsip::transport
