// UserService over gRPC's callback API: each handler validates with the logic rules, starts
// the storage call and returns its reactor at once; the reactor finishes when the database
// answers, on the pool's thread. No gRPC thread waits on PostgreSQL.
#pragma once

#include "firstsip/v1/user.grpc.pb.h"
#include "storage/user_store.h"

namespace firstsip::transport {

class UserServiceImpl final : public v1::UserService::CallbackService {
 public:
  explicit UserServiceImpl(storage::UserStore& store) : store_(store) {}

  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const v1::CreateUserRequest* request,
                                       v1::User* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const v1::GetUserRequest* request, v1::User* response) override;
  grpc::ServerUnaryReactor* GetUserByEmail(grpc::CallbackServerContext* context,
                                           const v1::GetUserByEmailRequest* request,
                                           v1::User* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const v1::ListUsersRequest* request,
                                      v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const v1::UpdateUserRequest* request,
                                       v1::User* response) override;
  grpc::ServerUnaryReactor* DeleteUser(grpc::CallbackServerContext* context,
                                       const v1::DeleteUserRequest* request,
                                       v1::User* response) override;
  grpc::ServerUnaryReactor* UndeleteUser(grpc::CallbackServerContext* context,
                                         const v1::UndeleteUserRequest* request,
                                         v1::User* response) override;

 private:
  storage::UserStore& store_;
};

}  // namespace firstsip::transport
