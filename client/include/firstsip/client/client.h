// firstsip::client: typed C++ calls to the First Sip data service.
//
//   firstsip::client::ClientOptions options;   // target 127.0.0.1:50051, 5 s deadlines
//   auto client = firstsip::client::Client::Create(options);
//   absl::StatusOr<firstsip::v1::User> user = (*client)->GetUser(42);
//
// Every call returns absl::StatusOr with the server's status code and message. Each call gets a
// deadline (ClientOptions::timeout unless CallOptions says otherwise). Calls that are safe to
// repeat (reads, and the updates that set absolute values) are retried on UNAVAILABLE by gRPC
// itself, through the channel's service config. Thread-safe: share one Client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace firstsip::client {

struct ClientOptions {
  std::string target = "127.0.0.1:50051";
  // Deadline of each call unless overridden per call.
  absl::Duration timeout = absl::Seconds(5);
  // HTTP/2 keepalive pings on idle connections.
  absl::Duration keepalive = absl::Seconds(30);
  // TLS: off (the sidecar listens on loopback). When on, the server's certificate is checked
  // against root_certificates (PEM), or the system roots when empty.
  bool tls = false;
  std::string root_certificates;
  // Mutual TLS: this client's certificate chain and key (PEM), when the server asks for one.
  std::string client_certificate;
  std::string client_key;
  // Retries of idempotent calls on UNAVAILABLE (0 turns them off).
  int max_attempts = 4;
};

struct CallOptions {
  std::optional<absl::Duration> timeout;
  std::string request_id;  // sent as x-request-id metadata when set
};

// The service config that enables retries of idempotent methods (exposed for tests).
std::string RetryServiceConfig(int max_attempts);

class Client {
 public:
  // INVALID_ARGUMENT when the options are unusable (empty target, bad timeout).
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);

  // grpc.health.v1 status of the server ("" = the server as a whole): true when SERVING.
  absl::StatusOr<bool> Healthy(const CallOptions& call = {});

  // UserService.
  absl::StatusOr<v1::User> CreateUser(const v1::User& user, const CallOptions& call = {});
  absl::StatusOr<v1::User> GetUser(int64_t id, bool show_deleted = false,
                                   const CallOptions& call = {});
  absl::StatusOr<v1::User> GetUserByEmail(const std::string& email, const CallOptions& call = {});
  absl::StatusOr<v1::ListUsersResponse> ListUsers(const v1::ListUsersRequest& request,
                                                  const CallOptions& call = {});
  absl::StatusOr<v1::User> UpdateUser(const v1::UpdateUserRequest& request,
                                      const CallOptions& call = {});
  absl::StatusOr<v1::User> DeleteUser(int64_t id, const CallOptions& call = {});
  absl::StatusOr<v1::User> UndeleteUser(int64_t id, const CallOptions& call = {});

  // IdentityService.
  absl::StatusOr<v1::SignInResponse> SignIn(const v1::SignInRequest& request,
                                            const CallOptions& call = {});
  absl::StatusOr<v1::AuthIdentity> GetIdentity(int64_t id, const CallOptions& call = {});
  absl::StatusOr<v1::ListIdentitiesResponse> ListIdentities(int64_t user_id,
                                                            const CallOptions& call = {});
  absl::StatusOr<v1::AuthIdentity> UpdateTokens(int64_t identity_id, const v1::OAuthTokens& tokens,
                                                const CallOptions& call = {});
  absl::StatusOr<v1::OAuthTokens> GetTokens(int64_t identity_id, const CallOptions& call = {});
  absl::Status DeleteIdentity(int64_t id, const CallOptions& call = {});

  // BriefingService.
  absl::StatusOr<v1::Briefing> CreateBriefing(int64_t user_id, const std::string& request_id = "",
                                              const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> GetBriefing(int64_t id, const CallOptions& call = {});
  absl::StatusOr<v1::ListBriefingsResponse> ListBriefings(const v1::ListBriefingsRequest& request,
                                                          const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> StartBriefing(int64_t id, const CallOptions& call = {});
  // nullopt when there is nothing to do.
  absl::StatusOr<std::optional<v1::Briefing>> ClaimNextBriefing(
      std::optional<absl::Duration> lease = std::nullopt, const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> CompleteBriefing(int64_t id, const google::protobuf::Struct& content,
                                                const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> FailBriefing(int64_t id, const std::string& error_message,
                                            const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> MarkBriefingRead(int64_t id, const CallOptions& call = {});
  absl::Status DeleteBriefing(int64_t id, const CallOptions& call = {});

 private:
  Client(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel);
  std::unique_ptr<grpc::ClientContext> Context(const CallOptions& call) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::IdentityService::Stub> identities_;
  std::unique_ptr<v1::BriefingService::Stub> briefings_;
};

// gRPC status -> absl::Status (the codes share their numbers).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace firstsip::client
