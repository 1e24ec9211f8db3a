// firstsip-bare-server: the gRPC transport alone. Answers UserService.GetUser with a constant
// User through the same callback API the real server uses, so the benchmark can show what the
// database path adds on top of the transport.
#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50061", "address to serve on");

namespace {

class ConstantUserService final : public firstsip::v1::UserService::CallbackService {
 public:
  ConstantUserService() {
    user_.set_email("ada@example.com");
    user_.set_name("Ada Lovelace");
    user_.set_timezone("Europe/London");
    user_.set_preferred_briefing_time("06:30");
    user_.set_role(firstsip::v1::ROLE_USER);
    user_.mutable_create_time()->set_seconds(1'700'000'000);
    user_.mutable_update_time()->set_seconds(1'700'000'000);
    user_.set_etag("r1");
  }

  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const firstsip::v1::GetUserRequest* request,
                                    firstsip::v1::User* response) override {
    *response = user_;
    response->set_id(request->id());
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  firstsip::v1::User user_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ConstantUserService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return 1;
  std::fprintf(stderr, "bare server on %s\n", absl::GetFlag(FLAGS_listen).c_str());
  int received = 0;
  sigwait(&signals, &received);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
