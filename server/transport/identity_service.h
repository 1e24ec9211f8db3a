// IdentityService: sign-in, linked identities and their encrypted tokens (see unary_call.h for the
// shape every method shares).
#pragma once

#include "firstsip/v1/identity.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/identity_store.h"

namespace firstsip::transport {

// Every method registered raw, so that Serve() parses the requests (see unary_call.h).
using RawIdentityService = v1::IdentityService::WithRawCallbackMethod_SignIn<
    v1::IdentityService::WithRawCallbackMethod_GetIdentity<
        v1::IdentityService::WithRawCallbackMethod_ListIdentities<
            v1::IdentityService::WithRawCallbackMethod_UpdateTokens<
                v1::IdentityService::WithRawCallbackMethod_GetTokens<
                    v1::IdentityService::WithRawCallbackMethod_DeleteIdentity<
                        v1::IdentityService::Service>>>>>>;

class IdentityServiceImpl final : public RawIdentityService {
 public:
  explicit IdentityServiceImpl(storage::IdentityStore& store) : store_(store) {}

  grpc::ServerUnaryReactor* SignIn(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetIdentity(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListIdentities(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateTokens(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetTokens(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteIdentity(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

 private:
  storage::IdentityStore& store_;
};

}  // namespace firstsip::transport
