// The transport's start-up rules: a method with no handler would leave its callers waiting
// forever, so the server refuses to start instead.
#include "transport/rpc_server.h"

#include "firstsip/v1/user.grpc.pb.h"
#include "gtest/gtest.h"
#include "transport/unary_call.h"

namespace firstsip::transport {
namespace {

class GetUserOnly {
 public:
  void GetUser(UnaryCall<v1::GetUserRequest, v1::User>& call) { call.Finish(absl::OkStatus()); }
};

TEST(RpcServerTest, RefusesToStartWhenAMethodHasNoHandler) {
  CallTracker tracker(nullptr);
  RpcServer rpc(1, tracker);
  RawService users(v1::UserService::service_full_name());
  GetUserOnly handler;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  rpc.AddService(builder, users);
  HandleUnary(rpc, users, "GetUser", &handler, &GetUserOnly::GetUser);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  absl::Status started = rpc.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInternal);
  EXPECT_NE(started.message().find("/firstsip.v1.UserService/CreateUser has no handler"),
            absl::string_view::npos)
      << started.message();
  server->Shutdown();
  rpc.Stop();
}

TEST(RpcServerTest, RefusesAHandlerForAMethodTheServiceDoesNotHave) {
  CallTracker tracker(nullptr);
  RpcServer rpc(1, tracker);
  RawService users(v1::UserService::service_full_name());
  GetUserOnly handler;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
  rpc.AddService(builder, users);
  HandleUnary(rpc, users, "GetUsr", &handler, &GetUserOnly::GetUser);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  absl::Status started = rpc.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kInternal);
  EXPECT_NE(started.message().find("GetUsr"), absl::string_view::npos) << started.message();
  server->Shutdown();
  rpc.Stop();
}

}  // namespace
}  // namespace firstsip::transport
