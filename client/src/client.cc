#include "firstsip/client/client.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace firstsip::client {
namespace {

// Calls that may be repeated without changing the outcome: reads, and updates that set
// absolute values. Creates, deletes and state transitions are not retried.
constexpr std::pair<const char*, const char*> kIdempotentMethods[] = {
    {"firstsip.v1.UserService", "GetUser"},
    {"firstsip.v1.UserService", "GetUserByEmail"},
    {"firstsip.v1.UserService", "ListUsers"},
    {"firstsip.v1.IdentityService", "GetIdentity"},
    {"firstsip.v1.IdentityService", "ListIdentities"},
    {"firstsip.v1.IdentityService", "GetTokens"},
    {"firstsip.v1.IdentityService", "UpdateTokens"},
    {"firstsip.v1.BriefingService", "GetBriefing"},
    {"firstsip.v1.BriefingService", "ListBriefings"},
    {"firstsip.v1.BriefingService", "MarkBriefingRead"},
    {"grpc.health.v1.Health", "Check"},
};

template <typename Stub, typename Request, typename Response>
using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Invoke(Stub& stub, Method<Stub, Request, Response> method,
                                grpc::ClientContext& context, const Request& request) {
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string RetryServiceConfig(int max_attempts) {
  if (max_attempts < 2) return "{}";
  std::vector<std::string> names;
  for (const auto& [service, method] : kIdempotentMethods) {
    names.push_back(
        absl::StrCat(R"({"service": ")", service, R"(", "method": ")", method, R"("})"));
  }
  return absl::StrCat(R"({"methodConfig": [{"name": [)", absl::StrJoin(names, ", "),
                      R"(], "retryPolicy": {"maxAttempts": )", std::min(max_attempts, 5),
                      R"(, "initialBackoff": "0.05s", "maxBackoff": "1s",)",
                      R"( "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]})");
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("target: must not be empty");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  grpc::ChannelArguments arguments;
  arguments.SetServiceConfigJSON(RetryServiceConfig(options.max_attempts));
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(options.keepalive)));
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certificates;
    ssl.pem_cert_chain = options.client_certificate;
    ssl.pem_private_key = options.client_key;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return std::unique_ptr<Client>(
      new Client(options, grpc::CreateCustomChannel(options.target, credentials, arguments)));
}

Client::Client(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      users_(v1::UserService::NewStub(channel_)),
      identities_(v1::IdentityService::NewStub(channel_)),
      briefings_(v1::BriefingService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Client::Context(const CallOptions& call) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + call.timeout.value_or(options_.timeout)));
  if (!call.request_id.empty()) context->AddMetadata("x-request-id", call.request_id);
  return context;
}

absl::StatusOr<bool> Client::Healthy(const CallOptions& call) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  auto context = Context(call);
  grpc::health::v1::HealthCheckRequest request;
  auto response = Invoke(*stub, &grpc::health::v1::Health::Stub::Check, *context, request);
  if (!response.ok()) return response.status();
  return response->status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

absl::StatusOr<v1::User> Client::CreateUser(const v1::User& user, const CallOptions& call) {
  v1::CreateUserRequest request;
  *request.mutable_user() = user;
  return Invoke(*users_, &v1::UserService::Stub::CreateUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::GetUser(int64_t id, bool show_deleted, const CallOptions& call) {
  v1::GetUserRequest request;
  request.set_id(id);
  request.set_show_deleted(show_deleted);
  return Invoke(*users_, &v1::UserService::Stub::GetUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::GetUserByEmail(const std::string& email, const CallOptions& call) {
  v1::GetUserByEmailRequest request;
  request.set_email(email);
  return Invoke(*users_, &v1::UserService::Stub::GetUserByEmail, *Context(call), request);
}

absl::StatusOr<v1::ListUsersResponse> Client::ListUsers(const v1::ListUsersRequest& request,
                                                        const CallOptions& call) {
  return Invoke(*users_, &v1::UserService::Stub::ListUsers, *Context(call), request);
}

absl::StatusOr<v1::User> Client::UpdateUser(const v1::UpdateUserRequest& request,
                                            const CallOptions& call) {
  return Invoke(*users_, &v1::UserService::Stub::UpdateUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::DeleteUser(int64_t id, const CallOptions& call) {
  v1::DeleteUserRequest request;
  request.set_id(id);
  return Invoke(*users_, &v1::UserService::Stub::DeleteUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::UndeleteUser(int64_t id, const CallOptions& call) {
  v1::UndeleteUserRequest request;
  request.set_id(id);
  return Invoke(*users_, &v1::UserService::Stub::UndeleteUser, *Context(call), request);
}

absl::StatusOr<v1::SignInResponse> Client::SignIn(const v1::SignInRequest& request,
                                                  const CallOptions& call) {
  return Invoke(*identities_, &v1::IdentityService::Stub::SignIn, *Context(call), request);
}

absl::StatusOr<v1::AuthIdentity> Client::GetIdentity(int64_t id, const CallOptions& call) {
  v1::GetIdentityRequest request;
  request.set_id(id);
  return Invoke(*identities_, &v1::IdentityService::Stub::GetIdentity, *Context(call), request);
}

absl::StatusOr<v1::ListIdentitiesResponse> Client::ListIdentities(int64_t user_id,
                                                                  const CallOptions& call) {
  v1::ListIdentitiesRequest request;
  request.set_user_id(user_id);
  return Invoke(*identities_, &v1::IdentityService::Stub::ListIdentities, *Context(call), request);
}

absl::StatusOr<v1::AuthIdentity> Client::UpdateTokens(int64_t identity_id,
                                                      const v1::OAuthTokens& tokens,
                                                      const CallOptions& call) {
  v1::UpdateTokensRequest request;
  request.set_identity_id(identity_id);
  *request.mutable_tokens() = tokens;
  return Invoke(*identities_, &v1::IdentityService::Stub::UpdateTokens, *Context(call), request);
}

absl::StatusOr<v1::OAuthTokens> Client::GetTokens(int64_t identity_id, const CallOptions& call) {
  v1::GetTokensRequest request;
  request.set_identity_id(identity_id);
  return Invoke(*identities_, &v1::IdentityService::Stub::GetTokens, *Context(call), request);
}

absl::Status Client::DeleteIdentity(int64_t id, const CallOptions& call) {
  v1::DeleteIdentityRequest request;
  request.set_id(id);
  return Invoke(*identities_, &v1::IdentityService::Stub::DeleteIdentity, *Context(call), request)
      .status();
}

absl::StatusOr<v1::Briefing> Client::CreateBriefing(int64_t user_id, const std::string& request_id,
                                                    const CallOptions& call) {
  v1::CreateBriefingRequest request;
  request.set_user_id(user_id);
  request.set_request_id(request_id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::CreateBriefing, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::GetBriefing(int64_t id, const CallOptions& call) {
  v1::GetBriefingRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::GetBriefing, *Context(call), request);
}

absl::StatusOr<v1::ListBriefingsResponse> Client::ListBriefings(
    const v1::ListBriefingsRequest& request, const CallOptions& call) {
  return Invoke(*briefings_, &v1::BriefingService::Stub::ListBriefings, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::StartBriefing(int64_t id, const CallOptions& call) {
  v1::StartBriefingRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::StartBriefing, *Context(call), request);
}

absl::StatusOr<std::optional<v1::Briefing>> Client::ClaimNextBriefing(
    std::optional<absl::Duration> lease, const CallOptions& call) {
  v1::ClaimNextBriefingRequest request;
  if (lease.has_value()) {
    int64_t nanos = absl::ToInt64Nanoseconds(*lease);
    request.mutable_lease()->set_seconds(nanos / 1'000'000'000);
    request.mutable_lease()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  }
  auto response =
      Invoke(*briefings_, &v1::BriefingService::Stub::ClaimNextBriefing, *Context(call), request);
  if (!response.ok()) return response.status();
  if (!response->has_briefing()) return std::optional<v1::Briefing>();
  return std::optional<v1::Briefing>(std::move(*response->mutable_briefing()));
}

absl::StatusOr<v1::Briefing> Client::CompleteBriefing(int64_t id,
                                                      const google::protobuf::Struct& content,
                                                      const CallOptions& call) {
  v1::CompleteBriefingRequest request;
  request.set_id(id);
  *request.mutable_content() = content;
  return Invoke(*briefings_, &v1::BriefingService::Stub::CompleteBriefing, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::FailBriefing(int64_t id, const std::string& error_message,
                                                  const CallOptions& call) {
  v1::FailBriefingRequest request;
  request.set_id(id);
  request.set_error_message(error_message);
  return Invoke(*briefings_, &v1::BriefingService::Stub::FailBriefing, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::MarkBriefingRead(int64_t id, const CallOptions& call) {
  v1::MarkBriefingReadRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::MarkBriefingRead, *Context(call), request);
}

absl::Status Client::DeleteBriefing(int64_t id, const CallOptions& call) {
  v1::DeleteBriefingRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::DeleteBriefing, *Context(call), request)
      .status();
}

}  // namespace firstsip::client
