// IdentityService over gRPC's callback API (see user_service.h for the pattern).
#pragma once

#include "firstsip/v1/identity.grpc.pb.h"
#include "storage/identity_store.h"

namespace firstsip::transport {

class IdentityServiceImpl final : public v1::IdentityService::CallbackService {
 public:
  explicit IdentityServiceImpl(storage::IdentityStore& store) : store_(store) {}

  grpc::ServerUnaryReactor* SignIn(grpc::CallbackServerContext* context,
                                   const v1::SignInRequest* request,
                                   v1::SignInResponse* response) override;
  grpc::ServerUnaryReactor* GetIdentity(grpc::CallbackServerContext* context,
                                        const v1::GetIdentityRequest* request,
                                        v1::AuthIdentity* response) override;
  grpc::ServerUnaryReactor* ListIdentities(grpc::CallbackServerContext* context,
                                           const v1::ListIdentitiesRequest* request,
                                           v1::ListIdentitiesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateTokens(grpc::CallbackServerContext* context,
                                         const v1::UpdateTokensRequest* request,
                                         v1::AuthIdentity* response) override;
  grpc::ServerUnaryReactor* GetTokens(grpc::CallbackServerContext* context,
                                      const v1::GetTokensRequest* request,
                                      v1::OAuthTokens* response) override;
  grpc::ServerUnaryReactor* DeleteIdentity(grpc::CallbackServerContext* context,
                                           const v1::DeleteIdentityRequest* request,
                                           google::protobuf::Empty* response) override;

 private:
  storage::IdentityStore& store_;
};

}  // namespace firstsip::transport
