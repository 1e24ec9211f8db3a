#include "transport/identity_service.h"

#include <utility>
#include <vector>

#include "logic/identity_rules.h"
#include "logic/validators.h"
#include "transport/unary_reactor.h"

namespace firstsip::transport {

grpc::ServerUnaryReactor* IdentityServiceImpl::SignIn(grpc::CallbackServerContext* context,
                                                      const v1::SignInRequest* request,
                                                      v1::SignInResponse* response) {
  absl::StatusOr<logic::SignInInput> input = logic::PrepareSignIn(*request);
  if (!input.ok()) return FinishNow(context, input.status());
  auto* reactor = new CallReactor(*context);
  store_.SignIn(*input, reactor->call(),
                [reactor, response](absl::StatusOr<storage::SignInResult> result) {
                  if (result.ok()) {
                    *response->mutable_user() = std::move(result->user);
                    *response->mutable_identity() = std::move(result->identity);
                    response->set_user_created(result->user_created);
                    response->set_identity_created(result->identity_created);
                  }
                  reactor->Finish(ToGrpcStatus(result.status()));
                });
  return reactor;
}

grpc::ServerUnaryReactor* IdentityServiceImpl::GetIdentity(grpc::CallbackServerContext* context,
                                                           const v1::GetIdentityRequest* request,
                                                           v1::AuthIdentity* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Get(request->id(), reactor.call(), FinishInto(&reactor, response));
  });
}

grpc::ServerUnaryReactor* IdentityServiceImpl::ListIdentities(
    grpc::CallbackServerContext* context, const v1::ListIdentitiesRequest* request,
    v1::ListIdentitiesResponse* response) {
  return StartCall(
      context, logic::ValidateId(request->user_id(), "user_id"), [&](CallReactor& reactor) {
        store_.ListForUser(
            request->user_id(), reactor.call(),
            [reactor = &reactor, response](absl::StatusOr<std::vector<v1::AuthIdentity>> result) {
              if (result.ok()) {
                for (v1::AuthIdentity& identity : *result) {
                  *response->add_identities() = std::move(identity);
                }
              }
              reactor->Finish(ToGrpcStatus(result.status()));
            });
      });
}

grpc::ServerUnaryReactor* IdentityServiceImpl::UpdateTokens(grpc::CallbackServerContext* context,
                                                            const v1::UpdateTokensRequest* request,
                                                            v1::AuthIdentity* response) {
  if (absl::Status id = logic::ValidateId(request->identity_id(), "identity_id"); !id.ok()) {
    return FinishNow(context, id);
  }
  absl::StatusOr<logic::TokenUpdate> update =
      logic::PrepareTokenUpdate(request->tokens(), "tokens");
  if (!update.ok()) return FinishNow(context, update.status());
  auto* reactor = new CallReactor(*context);
  store_.UpdateTokens(request->identity_id(), *update, reactor->call(),
                      FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* IdentityServiceImpl::GetTokens(grpc::CallbackServerContext* context,
                                                         const v1::GetTokensRequest* request,
                                                         v1::OAuthTokens* response) {
  return StartCall(
      context, logic::ValidateId(request->identity_id(), "identity_id"), [&](CallReactor& reactor) {
        store_.GetTokens(request->identity_id(), reactor.call(), FinishInto(&reactor, response));
      });
}

grpc::ServerUnaryReactor* IdentityServiceImpl::DeleteIdentity(
    grpc::CallbackServerContext* context, const v1::DeleteIdentityRequest* request,
    google::protobuf::Empty*) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Delete(request->id(), reactor.call(), FinishEmpty(&reactor));
  });
}

}  // namespace firstsip::transport
