#include "transport/identity_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "logic/identity_rules.h"
#include "logic/validators.h"
#include "transport/unary_call.h"

namespace firstsip::transport {

void IdentityServiceImpl::SignIn(UnaryCall<v1::SignInRequest, v1::SignInResponse>& call) {
  absl::StatusOr<logic::SignInInput> input = logic::PrepareSignIn(call.request());
  if (!input.ok()) return call.Finish(input.status());
  store_.SignIn(*input, call.options(), [&call](absl::StatusOr<storage::SignInResult> result) {
    if (result.ok()) {
      v1::SignInResponse& signed_in = call.response();
      *signed_in.mutable_user() = std::move(result->user);
      *signed_in.mutable_identity() = std::move(result->identity);
      signed_in.set_user_created(result->user_created);
      signed_in.set_identity_created(result->identity_created);
    }
    call.Finish(result.status());
  });
}

void IdentityServiceImpl::GetIdentity(UnaryCall<v1::GetIdentityRequest, v1::AuthIdentity>& call) {
  ServeById(call, &v1::GetIdentityRequest::id, "id",
            [&](int64_t id) { store_.Get(id, call.options(), call.FinishWithValue()); });
}

void IdentityServiceImpl::ListIdentities(
    UnaryCall<v1::ListIdentitiesRequest, v1::ListIdentitiesResponse>& call) {
  ServeById(call, &v1::ListIdentitiesRequest::user_id, "user_id", [&](int64_t user_id) {
    store_.ListForUser(user_id, call.options(),
                       [&call](absl::StatusOr<std::vector<v1::AuthIdentity>> result) {
                         if (result.ok()) {
                           for (v1::AuthIdentity& identity : *result) {
                             *call.response().add_identities() = std::move(identity);
                           }
                         }
                         call.Finish(result.status());
                       });
  });
}

void IdentityServiceImpl::UpdateTokens(UnaryCall<v1::UpdateTokensRequest, v1::AuthIdentity>& call) {
  const v1::UpdateTokensRequest& update = call.request();
  if (absl::Status id = logic::ValidateId(update.identity_id(), "identity_id"); !id.ok()) {
    return call.Finish(id);
  }
  absl::StatusOr<logic::TokenUpdate> tokens = logic::PrepareTokenUpdate(update.tokens(), "tokens");
  if (!tokens.ok()) return call.Finish(tokens.status());
  store_.UpdateTokens(update.identity_id(), *tokens, call.options(), call.FinishWithValue());
}

void IdentityServiceImpl::GetTokens(UnaryCall<v1::GetTokensRequest, v1::OAuthTokens>& call) {
  ServeById(call, &v1::GetTokensRequest::identity_id, "identity_id", [&](int64_t id) {
    store_.GetTokensWithOwner(id, call.options(),
                              [&call](absl::StatusOr<storage::OwnedTokens> result) {
                                if (result.ok()) {
                                  // The audit line names whose tokens went out (never them).
                                  call.AddAuditField("user_id", absl::StrCat(result->user_id));
                                  call.response() = std::move(result->tokens);
                                }
                                call.Finish(result.status());
                              });
  });
}

void IdentityServiceImpl::DeleteIdentity(
    UnaryCall<v1::DeleteIdentityRequest, google::protobuf::Empty>& call) {
  ServeById(call, &v1::DeleteIdentityRequest::id, "id",
            [&](int64_t id) { store_.Delete(id, call.options(), call.FinishWithStatus()); });
}

void IdentityServiceImpl::Register(RpcServer& server, grpc::ServerBuilder& builder) {
  server.AddService(builder, service_);
  HandleUnary(server, service_, "SignIn", this, &IdentityServiceImpl::SignIn);
  HandleUnary(server, service_, "GetIdentity", this, &IdentityServiceImpl::GetIdentity);
  HandleUnary(server, service_, "ListIdentities", this, &IdentityServiceImpl::ListIdentities);
  HandleUnary(server, service_, "UpdateTokens", this, &IdentityServiceImpl::UpdateTokens);
  HandleUnary(server, service_, "GetTokens", this, &IdentityServiceImpl::GetTokens);
  HandleUnary(server, service_, "DeleteIdentity", this, &IdentityServiceImpl::DeleteIdentity);
  // Every token read, allowed or denied, leaves an audit line (docs/OPERATIONS.md, Audit lines).
  server.AuditCalls(service_, "GetTokens");
}

}  // namespace firstsip::transport
