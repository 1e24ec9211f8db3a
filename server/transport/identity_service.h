// IdentityService: sign-in, linked identities and their encrypted tokens (see unary_call.h for the
// shape every method shares).
#pragma once

#include "firstsip/v1/identity.grpc.pb.h"
#include "storage/identity_store.h"
#include "transport/rpc_server.h"
#include "transport/unary_call.h"

namespace firstsip::transport {

class IdentityServiceImpl {
 public:
  explicit IdentityServiceImpl(storage::IdentityStore& store)
      : store_(store), service_(v1::IdentityService::service_full_name()) {}

  // Registers every method of IdentityService with `server` (whose AddService adds it to
  // `builder`).
  void Register(RpcServer& server, grpc::ServerBuilder& builder);

  void SignIn(UnaryCall<v1::SignInRequest, v1::SignInResponse>& call);
  void GetIdentity(UnaryCall<v1::GetIdentityRequest, v1::AuthIdentity>& call);
  void ListIdentities(UnaryCall<v1::ListIdentitiesRequest, v1::ListIdentitiesResponse>& call);
  void UpdateTokens(UnaryCall<v1::UpdateTokensRequest, v1::AuthIdentity>& call);
  void GetTokens(UnaryCall<v1::GetTokensRequest, v1::OAuthTokens>& call);
  void DeleteIdentity(UnaryCall<v1::DeleteIdentityRequest, google::protobuf::Empty>& call);

 private:
  storage::IdentityStore& store_;
  RawService service_;
};

}  // namespace firstsip::transport
