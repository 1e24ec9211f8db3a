// firstsip-bare-server: the service's transport alone. Serves UserService on the very transport
// the service runs (transport/rpc_server.h: one completion queue and one thread per core, raw
// methods parsed by our own parser, the call tracker) and answers GetUser at once with a
// constant User, with no database behind it; every other method answers UNIMPLEMENTED. So the
// benchmark shows what the database path adds on top of what the service's gRPC side costs,
// and the combined limit (docs/BENCHMARKS.md) rests on the transport the service really has.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/log.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "transport/call_tracker.h"
#include "transport/rpc_server.h"
#include "transport/unary_call.h"

// The service's jemalloc settings (server/main.cc).
extern "C" {
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
}

ABSL_FLAG(std::string, listen, "127.0.0.1:50061", "address to serve on");
ABSL_FLAG(int, grpc_threads, 0, "completion queues (threads); 0: one per core, as the service");

namespace {

using firstsip::transport::UnaryCall;

template <typename Request>
void Unimplemented(UnaryCall<Request, firstsip::v1::User>& call) {
  call.Finish(absl::UnimplementedError("the bare server answers GetUser only"));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  firstsip::SetMinLogLevel(firstsip::LogLevel::kWarning);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  firstsip::v1::User constant;
  constant.set_email("ada@example.com");
  constant.set_name("Ada Lovelace");
  constant.set_timezone("Europe/London");
  constant.set_preferred_briefing_time("06:30");
  constant.set_role(firstsip::v1::ROLE_USER);
  constant.mutable_create_time()->set_seconds(1'700'000'000);
  constant.mutable_update_time()->set_seconds(1'700'000'000);
  constant.set_etag("r1");

  using namespace firstsip::transport;
  using firstsip::v1::User;
  CallTracker tracker(nullptr);
  int threads = absl::GetFlag(FLAGS_grpc_threads);
  RpcServer rpc(threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()),
                tracker);
  RawService service(firstsip::v1::UserService::service_full_name());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials());
  rpc.AddService(builder, service);
  using GetUserCall = UnaryCall<firstsip::v1::GetUserRequest, User>;
  rpc.Handle<GetUserCall>(service, "GetUser", GetUserCall::Handler([&constant](GetUserCall& call) {
                            call.response() = constant;
                            call.response().set_id(call.request().id());
                            call.Finish(absl::OkStatus());
                          }));
  auto unimplemented = [&rpc, &service](auto* request, const char* method) {
    using Call = UnaryCall<std::remove_pointer_t<decltype(request)>, User>;
    rpc.Handle<Call>(service, method,
                     typename Call::Handler(&Unimplemented<typename Call::Request>));
  };
  unimplemented(static_cast<firstsip::v1::CreateUserRequest*>(nullptr), "CreateUser");
  unimplemented(static_cast<firstsip::v1::GetUserByEmailRequest*>(nullptr), "GetUserByEmail");
  unimplemented(static_cast<firstsip::v1::UpdateUserRequest*>(nullptr), "UpdateUser");
  unimplemented(static_cast<firstsip::v1::DeleteUserRequest*>(nullptr), "DeleteUser");
  unimplemented(static_cast<firstsip::v1::UndeleteUserRequest*>(nullptr), "UndeleteUser");
  using ListCall = UnaryCall<firstsip::v1::ListUsersRequest, firstsip::v1::ListUsersResponse>;
  rpc.Handle<ListCall>(
      service, "ListUsers", ListCall::Handler([](ListCall& call) {
        call.Finish(absl::UnimplementedError("the bare server answers GetUser only"));
      }));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  if (absl::Status started = rpc.Start(); !started.ok()) {
    std::fprintf(stderr, "%s\n", std::string(started.message()).c_str());
    return 1;
  }
  std::fprintf(stderr, "bare server on %s\n", absl::GetFlag(FLAGS_listen).c_str());
  int received = 0;
  sigwait(&signals, &received);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server->Wait();
  rpc.Stop();
  return 0;
}
