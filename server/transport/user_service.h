// UserService: each method validates its request with the logic rules and starts the storage
// call; the call finishes when the database answers (unary_call.h).
#pragma once

#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/empty.pb.h"
#include "storage/lifecycle_store.h"
#include "storage/user_store.h"
#include "transport/export_user_call.h"
#include "transport/rpc_server.h"
#include "transport/unary_call.h"

namespace firstsip::transport {

class UserServiceImpl {
 public:
  // `lifecycle` serves EraseUser and ExportUser.
  UserServiceImpl(storage::UserStore& store, ExportServices lifecycle)
      : store_(store), lifecycle_(lifecycle), service_(v1::UserService::service_full_name()) {}

  // Registers every method of UserService with `server` (whose AddService adds it to `builder`).
  void Register(RpcServer& server, grpc::ServerBuilder& builder);

  void CreateUser(UnaryCall<v1::CreateUserRequest, v1::User>& call);
  void GetUser(UnaryCall<v1::GetUserRequest, v1::User>& call);
  void GetUserByEmail(UnaryCall<v1::GetUserByEmailRequest, v1::User>& call);
  void ListUsers(UnaryCall<v1::ListUsersRequest, v1::ListUsersResponse>& call);
  void UpdateUser(UnaryCall<v1::UpdateUserRequest, v1::User>& call);
  void DeleteUser(UnaryCall<v1::DeleteUserRequest, v1::User>& call);
  void UndeleteUser(UnaryCall<v1::UndeleteUserRequest, v1::User>& call);
  void EraseUser(UnaryCall<v1::EraseUserRequest, google::protobuf::Empty>& call);

 private:
  storage::UserStore& store_;
  const ExportServices lifecycle_;
  RawService service_;
};

}  // namespace firstsip::transport
