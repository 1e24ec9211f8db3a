// firstsip-loadgen: drives one RPC at a fixed concurrency for a fixed time with gRPC's async
// callback client API, and prints one line: rpc, concurrency, calls, errors, RPS, p50/p99/p999
// latency in milliseconds, and every call it completed including the warm-up's (to divide its
// own CPU time by). Errors count from the warm-up on. Each of `concurrency` slots keeps exactly one
// call in flight.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "server address");
ABSL_FLAG(std::string, rpc, "get_user", "get_user | list_briefings | sign_in | create_briefing");
ABSL_FLAG(int, concurrency, 8, "calls in flight at once");
ABSL_FLAG(double, seconds, 5, "how long to measure");
ABSL_FLAG(double, warmup, 1, "seconds of calls before measuring");
ABSL_FLAG(int, users, 1000, "ids 1..users are used (users, identities sub-1..sub-N)");
ABSL_FLAG(int, channels, 4, "separate HTTP/2 connections to spread the calls over");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA to verify the server with: turns TLS on");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM client key, for mutual TLS");

namespace {

using Clock = std::chrono::steady_clock;
using firstsip::v1::BriefingService;
using firstsip::v1::IdentityService;
using firstsip::v1::UserService;

struct Shared {
  std::string rpc;
  int users = 0;
  Clock::time_point measure_from;
  Clock::time_point stop_at;
  std::atomic<int> running{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> completed{0};  // warm-up included
  std::atomic<int64_t> request_counter{0};
  std::mutex mutex;
  std::condition_variable all_done;
};

// One slot: issues a call, and from its completion the next, until stop_at.
class Slot {
 public:
  Slot(Shared& shared, std::shared_ptr<grpc::Channel> channel, int seed)
      : shared_(shared),
        users_(UserService::NewStub(channel)),
        identities_(IdentityService::NewStub(channel)),
        briefings_(BriefingService::NewStub(channel)),
        random_(seed) {
    latencies_us_.reserve(1 << 16);
  }

  void Start() {
    ++shared_.running;
    Issue();
  }

  const std::vector<uint32_t>& latencies_us() const { return latencies_us_; }

 private:
  int64_t RandomId() { return std::uniform_int_distribution<int64_t>(1, shared_.users)(random_); }

  void Issue() {
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    started_ = Clock::now();
    auto done = [this](grpc::Status status) { OnDone(status); };
    const std::string& rpc = shared_.rpc;
    if (rpc == "get_user") {
      get_user_.set_id(RandomId());
      users_->async()->GetUser(context_.get(), &get_user_, &user_, done);
    } else if (rpc == "list_briefings") {
      list_.set_user_id(RandomId());
      list_.set_page_size(20);
      briefings_->async()->ListBriefings(context_.get(), &list_, &page_, done);
    } else if (rpc == "sign_in") {
      int64_t n = RandomId();
      sign_in_.set_provider("google");
      sign_in_.set_provider_user_id(absl::StrCat("sub-", n));
      sign_in_.set_email(absl::StrCat("user", n, "@bench.local"));
      sign_in_.mutable_tokens()->set_access_token(absl::StrCat("ya29.bench-access-", n));
      identities_->async()->SignIn(context_.get(), &sign_in_, &signed_in_, done);
    } else {
      create_.set_user_id(RandomId());
      briefings_->async()->CreateBriefing(context_.get(), &create_, &briefing_, done);
    }
  }

  void OnDone(const grpc::Status& status) {
    Clock::time_point now = Clock::now();
    shared_.completed.fetch_add(1, std::memory_order_relaxed);
    if (!status.ok()) {  // counted in the warm-up too: any failed call fails the benchmark
      ++shared_.errors;
      if (shared_.errors.load() <= 3) {
        std::fprintf(stderr, "loadgen: %s: %d %s\n", shared_.rpc.c_str(), status.error_code(),
                     status.error_message().c_str());
      }
    } else if (now >= shared_.measure_from && now < shared_.stop_at) {
      latencies_us_.push_back(static_cast<uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - started_).count()));
    }
    if (now < shared_.stop_at) {
      Issue();
      return;
    }
    std::lock_guard<std::mutex> lock(shared_.mutex);
    if (--shared_.running == 0) shared_.all_done.notify_all();
  }

  Shared& shared_;
  std::unique_ptr<UserService::Stub> users_;
  std::unique_ptr<IdentityService::Stub> identities_;
  std::unique_ptr<BriefingService::Stub> briefings_;
  std::mt19937_64 random_;
  std::unique_ptr<grpc::ClientContext> context_;
  Clock::time_point started_;
  std::vector<uint32_t> latencies_us_;
  firstsip::v1::GetUserRequest get_user_;
  firstsip::v1::User user_;
  firstsip::v1::ListBriefingsRequest list_;
  firstsip::v1::ListBriefingsResponse page_;
  firstsip::v1::SignInRequest sign_in_;
  firstsip::v1::SignInResponse signed_in_;
  firstsip::v1::CreateBriefingRequest create_;
  firstsip::v1::Briefing briefing_;
};

double Percentile(const std::vector<uint32_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  size_t index = std::min(sorted.size() - 1, static_cast<size_t>(fraction * sorted.size()));
  return sorted[index] / 1000.0;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// Plaintext, or TLS (mutual with a certificate) as the flags say.
std::shared_ptr<grpc::ChannelCredentials> Credentials() {
  if (absl::GetFlag(FLAGS_tls_ca).empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(absl::GetFlag(FLAGS_tls_ca));
  if (!absl::GetFlag(FLAGS_tls_cert).empty()) {
    ssl.pem_cert_chain = ReadFile(absl::GetFlag(FLAGS_tls_cert));
    ssl.pem_private_key = ReadFile(absl::GetFlag(FLAGS_tls_key));
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Shared shared;
  shared.rpc = absl::GetFlag(FLAGS_rpc);
  shared.users = absl::GetFlag(FLAGS_users);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < std::max(1, absl::GetFlag(FLAGS_channels)); ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt("firstsip.loadgen.channel", i);  // distinct args: a connection each
    channels.push_back(
        grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), Credentials(), arguments));
  }
  auto start = Clock::now();
  auto to_duration = [](double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  };
  shared.measure_from = start + to_duration(absl::GetFlag(FLAGS_warmup));
  shared.stop_at = shared.measure_from + to_duration(absl::GetFlag(FLAGS_seconds));
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < concurrency; ++i) {
    slots.push_back(std::make_unique<Slot>(shared, channels[i % channels.size()], 7919 * i + 1));
  }
  for (auto& slot : slots) slot->Start();
  {
    std::unique_lock<std::mutex> lock(shared.mutex);
    shared.all_done.wait(lock, [&] { return shared.running.load() == 0; });
  }
  std::vector<uint32_t> all;
  for (const auto& slot : slots) {
    all.insert(all.end(), slot->latencies_us().begin(), slot->latencies_us().end());
  }
  std::sort(all.begin(), all.end());
  double seconds = absl::GetFlag(FLAGS_seconds);
  std::printf("%s\t%d\t%zu\t%lld\t%.0f\t%.3f\t%.3f\t%.3f\t%lld\n", shared.rpc.c_str(), concurrency,
              all.size(), static_cast<long long>(shared.errors.load()), all.size() / seconds,
              Percentile(all, 0.50), Percentile(all, 0.99), Percentile(all, 0.999),
              static_cast<long long>(shared.completed.load()));
  return shared.errors.load() > 0 && all.empty() ? 1 : 0;
}
