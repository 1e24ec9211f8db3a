// UserService: each method parses its request (unary_call.h), validates it with the logic
// rules and starts the storage call; the call finishes when the database answers.
#pragma once

#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/user_store.h"

namespace firstsip::transport {

// Every method registered raw, so that Serve() parses the requests (see unary_call.h).
using RawUserService = v1::UserService::WithRawCallbackMethod_CreateUser<
    v1::UserService::WithRawCallbackMethod_GetUser<
        v1::UserService::WithRawCallbackMethod_GetUserByEmail<
            v1::UserService::WithRawCallbackMethod_ListUsers<
                v1::UserService::WithRawCallbackMethod_UpdateUser<
                    v1::UserService::WithRawCallbackMethod_DeleteUser<
                        v1::UserService::WithRawCallbackMethod_UndeleteUser<
                            v1::UserService::Service>>>>>>>;

class UserServiceImpl final : public RawUserService {
 public:
  explicit UserServiceImpl(storage::UserStore& store) : store_(store) {}

  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetUserByEmail(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteUser(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UndeleteUser(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

 private:
  storage::UserStore& store_;
};

}  // namespace firstsip::transport
