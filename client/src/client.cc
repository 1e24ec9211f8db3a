#include "firstsip/client/client.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace firstsip::client {
namespace {

// Calls that may be repeated without changing the outcome: reads, and updates that set
// absolute values. Creates, deletes and state transitions are not retried.
constexpr std::pair<const char*, const char*> kIdempotentMethods[] = {
    {"firstsip.v1.UserService", "GetUser"},
    {"firstsip.v1.UserService", "GetUserByEmail"},
    {"firstsip.v1.UserService", "ListUsers"},
    {"firstsip.v1.IdentityService", "GetIdentity"},
    {"firstsip.v1.IdentityService", "ListIdentities"},
    {"firstsip.v1.IdentityService", "GetTokens"},
    {"firstsip.v1.IdentityService", "UpdateTokens"},
    {"firstsip.v1.BriefingService", "GetBriefing"},
    {"firstsip.v1.BriefingService", "ListBriefings"},
    {"firstsip.v1.BriefingService", "MarkBriefingRead"},
    {"grpc.health.v1.Health", "Check"},
};

template <typename Stub, typename Request, typename Response>
using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Invoke(Stub& stub, Method<Stub, Request, Response> method,
                                grpc::ClientContext& context, const Request& request) {
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

void SetDuration(absl::Duration duration, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(duration);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

}  // namespace

// One WatchBriefings call, as a gRPC callback reactor. Its state lives under the watch's mutex;
// the reactor only records what happened and wakes the watch, which decides everything.
//
// At most one read is in flight, and the next starts only once Next() took the message: a slow
// caller slows the stream, and the server's bounded queue (RESOURCE_EXHAUSTED) does the rest. A
// hold keeps OnDone away until the last read failed, so Next() may always start another read;
// Cancel() starts one when none is in flight, and reads go on after it until one fails, so
// that the cancelled call finishes.
class WatchStream final : public grpc::ClientReadReactor<v1::WatchBriefingsResponse>,
                          public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(BriefingWatch& watch, const std::string& token) : watch_(watch) {
    request_.set_user_id(watch.user_id_);
    request_.set_resume_token(token);
    if (watch.deadline_ != absl::InfiniteFuture()) {
      context_.set_deadline(absl::ToChronoTime(watch.deadline_));
    }
    if (!watch.request_id_.empty()) context_.AddMetadata("x-request-id", watch.request_id_);
  }

  // Called without the watch's mutex: gRPC may run reactions on the calling thread.
  void Start() {
    self_ = shared_from_this();  // gRPC's until OnDone has returned
    watch_.stub_->async()->WatchBriefings(&context_, &request_, this);
    AddHold();
    StartRead(&buffer_);
    StartCall();
  }
  void ReadNext() { StartRead(&buffer_); }
  void Cancel() { context_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override {
    std::lock_guard<std::mutex> lock(watch_.mutex_);
    if (ok) SetLive();
    watch_.changed_.notify_all();
  }
  void OnReadDone(bool ok) override {
    bool drain = false;
    {
      std::lock_guard<std::mutex> lock(watch_.mutex_);
      if (ok && watch_.cancelled_) {
        drain = true;  // a read that was in flight when Cancel() ran: nobody will take it
      } else {
        reading = false;
        if (ok) {
          SetLive();  // headers come first, but their reaction may run after this one
          message = std::move(buffer_);
        } else {
          reads_over = true;  // the hold goes below: a read started now would outlive the call
        }
      }
      watch_.changed_.notify_all();
    }
    if (drain) {
      StartRead(&buffer_);  // fails soon, the call being cancelled
    } else if (!ok) {
      RemoveHold();  // no read follows a failed one: let the call finish
    }
  }
  void OnDone(const grpc::Status& status) override {
    // Next() drops its reference as soon as it sees `done`; this one keeps the reactor (and the
    // ClientContext gRPC is still finishing with) alive until OnDone returns.
    std::shared_ptr<WatchStream> keep = std::move(self_);
    std::lock_guard<std::mutex> lock(watch_.mutex_);
    this->status = FromGrpc(status);
    done = true;
    watch_.changed_.notify_all();
  }

  // Guarded by the watch's mutex.
  bool live = false;
  bool live_reported = false;
  absl::Time live_since = absl::InfiniteFuture();
  bool delivered = false;                             // Next() returned a message of this stream
  bool reading = true;                                // a read is in flight (or about to start)
  bool reads_over = false;                            // a read failed: none may start again
  std::optional<v1::WatchBriefingsResponse> message;  // read, not yet taken by Next()
  bool done = false;                                  // OnDone ran: the call is over
  absl::Status status;

 private:
  void SetLive() {
    if (live) return;
    live = true;
    live_since = absl::Now();
  }

  BriefingWatch& watch_;
  std::shared_ptr<WatchStream> self_;
  grpc::ClientContext context_;
  v1::WatchBriefingsRequest request_;
  v1::WatchBriefingsResponse buffer_;
};

bool WatchResumesAfter(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted;
}

BriefingWatch::BriefingWatch(std::shared_ptr<grpc::Channel> channel, int64_t user_id,
                             std::string resume_token, WatchOptions options, absl::Time deadline,
                             std::string request_id)
    : stub_(v1::BriefingService::NewStub(channel)),
      user_id_(user_id),
      options_(std::move(options)),
      deadline_(deadline),
      request_id_(std::move(request_id)),
      token_(std::move(resume_token)),
      backoff_(options_.backoff) {}

BriefingWatch::~BriefingWatch() {
  Cancel();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return stream_ == nullptr || stream_->done; });
}

absl::StatusOr<v1::WatchBriefingsResponse> BriefingWatch::Next() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    if (!ended_.ok()) return ended_;
    if (cancelled_) {
      ended_ = absl::CancelledError("watch cancelled");
      continue;
    }
    const absl::Time now = absl::Now();
    if (stream_ == nullptr) {
      if (now >= deadline_) {
        ended_ = absl::DeadlineExceededError("the watch's deadline ran out");
        continue;
      }
      if (now < resume_at_) {  // backing off; Cancel() wakes us
        changed_.wait_until(lock, absl::ToChronoTime(std::min(resume_at_, deadline_)));
        continue;
      }
      auto stream = std::make_shared<WatchStream>(*this, token_);
      stream_ = stream;
      lock.unlock();
      stream->Start();
      lock.lock();
      continue;
    }
    std::shared_ptr<WatchStream> stream = stream_;
    if (stream->live && !stream->live_reported) {
      stream->live_reported = true;
      if (options_.on_live) {
        lock.unlock();
        options_.on_live();
        lock.lock();
      }
      continue;
    }
    if (stream->message.has_value()) {
      v1::WatchBriefingsResponse change = std::move(*stream->message);
      stream->message.reset();
      stream->delivered = true;
      stream->reading = true;
      token_ = change.resume_token();
      lock.unlock();
      stream->ReadNext();
      return change;
    }
    if (stream->done) {
      const absl::Status status = stream->status;
      stream_.reset();
      if (cancelled_) continue;
      if (!status.ok() && !WatchResumesAfter(status.code())) {
        ended_ = status;
        continue;
      }
      // A stream that went well starts the backoff over; one that failed at once grows it.
      if (stream->delivered || now - stream->live_since > options_.backoff.max) backoff_.Reset();
      const absl::Duration delay = backoff_.Next();
      resume_at_ = now + delay;
      if (options_.on_resume) {
        lock.unlock();
        options_.on_resume(status, delay);
        lock.lock();
      }
      continue;
    }
    changed_.wait(lock);
  }
}

void BriefingWatch::Cancel() {
  std::shared_ptr<WatchStream> stream;
  bool read = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled_ = true;
    stream = stream_;
    if (stream != nullptr && !stream->reading && !stream->reads_over && !stream->done) {
      stream->message.reset();  // never delivered: resume_token() stays before it
      stream->reading = true;
      read = true;
    }
    changed_.notify_all();
  }
  if (stream == nullptr) return;
  stream->Cancel();
  if (read) stream->ReadNext();  // fails at once: the call can finish
}

std::string BriefingWatch::resume_token() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return token_;
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

std::string RetryServiceConfig(int max_attempts) {
  if (max_attempts < 2) return "{}";
  std::vector<std::string> names;
  for (const auto& [service, method] : kIdempotentMethods) {
    names.push_back(
        absl::StrCat(R"({"service": ")", service, R"(", "method": ")", method, R"("})"));
  }
  return absl::StrCat(R"({"methodConfig": [{"name": [)", absl::StrJoin(names, ", "),
                      R"(], "retryPolicy": {"maxAttempts": )", std::min(max_attempts, 5),
                      R"(, "initialBackoff": "0.05s", "maxBackoff": "1s",)",
                      R"( "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]})");
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("target: must not be empty");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be positive");
  }
  if (options.keepalive < kMinKeepalive) {
    return absl::InvalidArgumentError(
        "keepalive: must be at least 10s (the server answers faster pings with GOAWAY)");
  }
  grpc::ChannelArguments arguments;
  arguments.SetServiceConfigJSON(RetryServiceConfig(options.max_attempts));
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(options.keepalive)));
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // gRPC sends two pings and then waits for this client to send data: a watch stream is quiet
  // on our side for hours, and a server that vanished would go unnoticed after two pings.
  arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.root_certificates;
    ssl.pem_cert_chain = options.client_certificate;
    ssl.pem_private_key = options.client_key;
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  return std::unique_ptr<Client>(
      new Client(options, grpc::CreateCustomChannel(options.target, credentials, arguments)));
}

Client::Client(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel)
    : options_(options),
      channel_(std::move(channel)),
      users_(v1::UserService::NewStub(channel_)),
      identities_(v1::IdentityService::NewStub(channel_)),
      briefings_(v1::BriefingService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> Client::Context(const CallOptions& call) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + call.timeout.value_or(options_.timeout)));
  if (!call.request_id.empty()) context->AddMetadata("x-request-id", call.request_id);
  return context;
}

absl::StatusOr<bool> Client::Healthy(const CallOptions& call) {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  auto context = Context(call);
  grpc::health::v1::HealthCheckRequest request;
  auto response = Invoke(*stub, &grpc::health::v1::Health::Stub::Check, *context, request);
  if (!response.ok()) return response.status();
  return response->status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

absl::StatusOr<v1::User> Client::CreateUser(const v1::User& user, const CallOptions& call) {
  v1::CreateUserRequest request;
  *request.mutable_user() = user;
  return Invoke(*users_, &v1::UserService::Stub::CreateUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::GetUser(int64_t id, bool show_deleted, const CallOptions& call) {
  v1::GetUserRequest request;
  request.set_id(id);
  request.set_show_deleted(show_deleted);
  return Invoke(*users_, &v1::UserService::Stub::GetUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::GetUserByEmail(const std::string& email, const CallOptions& call) {
  v1::GetUserByEmailRequest request;
  request.set_email(email);
  return Invoke(*users_, &v1::UserService::Stub::GetUserByEmail, *Context(call), request);
}

absl::StatusOr<v1::ListUsersResponse> Client::ListUsers(const v1::ListUsersRequest& request,
                                                        const CallOptions& call) {
  return Invoke(*users_, &v1::UserService::Stub::ListUsers, *Context(call), request);
}

absl::StatusOr<v1::User> Client::UpdateUser(const v1::UpdateUserRequest& request,
                                            const CallOptions& call) {
  return Invoke(*users_, &v1::UserService::Stub::UpdateUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::DeleteUser(int64_t id, const CallOptions& call) {
  v1::DeleteUserRequest request;
  request.set_id(id);
  return Invoke(*users_, &v1::UserService::Stub::DeleteUser, *Context(call), request);
}

absl::StatusOr<v1::User> Client::UndeleteUser(int64_t id, const CallOptions& call) {
  v1::UndeleteUserRequest request;
  request.set_id(id);
  return Invoke(*users_, &v1::UserService::Stub::UndeleteUser, *Context(call), request);
}

absl::Status Client::EraseUser(int64_t id, const std::string& etag, const CallOptions& call) {
  v1::EraseUserRequest request;
  request.set_id(id);
  request.set_etag(etag);
  return Invoke(*users_, &v1::UserService::Stub::EraseUser, *Context(call), request).status();
}

absl::StatusOr<v1::ExportUserResponse> Client::ExportUser(int64_t id, const CallOptions& call,
                                                          int* messages) {
  v1::ExportUserRequest request;
  request.set_id(id);
  auto context = Context(call);
  std::unique_ptr<grpc::ClientReader<v1::ExportUserResponse>> reader =
      users_->ExportUser(context.get(), request);
  v1::ExportUserResponse whole;
  v1::ExportUserResponse message;
  int count = 0;
  while (reader->Read(&message)) {
    whole.MergeFrom(message);  // appends the briefings; the user comes once
    ++count;
  }
  if (messages != nullptr) *messages = count;
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromGrpc(status);
  return whole;
}

absl::StatusOr<v1::SignInResponse> Client::SignIn(const v1::SignInRequest& request,
                                                  const CallOptions& call) {
  return Invoke(*identities_, &v1::IdentityService::Stub::SignIn, *Context(call), request);
}

absl::StatusOr<v1::AuthIdentity> Client::GetIdentity(int64_t id, const CallOptions& call) {
  v1::GetIdentityRequest request;
  request.set_id(id);
  return Invoke(*identities_, &v1::IdentityService::Stub::GetIdentity, *Context(call), request);
}

absl::StatusOr<v1::ListIdentitiesResponse> Client::ListIdentities(int64_t user_id,
                                                                  const CallOptions& call) {
  v1::ListIdentitiesRequest request;
  request.set_user_id(user_id);
  return Invoke(*identities_, &v1::IdentityService::Stub::ListIdentities, *Context(call), request);
}

absl::StatusOr<v1::AuthIdentity> Client::UpdateTokens(int64_t identity_id,
                                                      const v1::OAuthTokens& tokens,
                                                      const CallOptions& call) {
  v1::UpdateTokensRequest request;
  request.set_identity_id(identity_id);
  *request.mutable_tokens() = tokens;
  return Invoke(*identities_, &v1::IdentityService::Stub::UpdateTokens, *Context(call), request);
}

absl::StatusOr<v1::OAuthTokens> Client::GetTokens(int64_t identity_id, const CallOptions& call) {
  v1::GetTokensRequest request;
  request.set_identity_id(identity_id);
  return Invoke(*identities_, &v1::IdentityService::Stub::GetTokens, *Context(call), request);
}

absl::Status Client::DeleteIdentity(int64_t id, const CallOptions& call) {
  v1::DeleteIdentityRequest request;
  request.set_id(id);
  return Invoke(*identities_, &v1::IdentityService::Stub::DeleteIdentity, *Context(call), request)
      .status();
}

absl::StatusOr<v1::Briefing> Client::CreateBriefing(int64_t user_id, const std::string& request_id,
                                                    const CallOptions& call) {
  v1::CreateBriefingRequest request;
  request.set_user_id(user_id);
  request.set_request_id(request_id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::CreateBriefing, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::GetBriefing(int64_t id, const CallOptions& call) {
  v1::GetBriefingRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::GetBriefing, *Context(call), request);
}

absl::StatusOr<v1::ListBriefingsResponse> Client::ListBriefings(
    const v1::ListBriefingsRequest& request, const CallOptions& call) {
  return Invoke(*briefings_, &v1::BriefingService::Stub::ListBriefings, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::StartBriefing(int64_t id, const CallOptions& call) {
  v1::StartBriefingRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::StartBriefing, *Context(call), request);
}

absl::StatusOr<std::optional<v1::Briefing>> Client::ClaimNextBriefing(
    std::optional<absl::Duration> lease, const CallOptions& call) {
  return ClaimNextBriefing(lease, absl::ZeroDuration(), call);
}

absl::StatusOr<std::optional<v1::Briefing>> Client::ClaimNextBriefing(
    std::optional<absl::Duration> lease, absl::Duration wait, const CallOptions& call) {
  v1::ClaimNextBriefingRequest request;
  if (lease.has_value()) SetDuration(*lease, request.mutable_lease());
  CallOptions waiting = call;
  if (wait != absl::ZeroDuration()) {
    // A negative wait goes to the server as it is, to be refused there like any bad request.
    SetDuration(wait, request.mutable_wait());
    waiting.timeout =
        call.timeout.value_or(options_.timeout) + std::max(wait, absl::ZeroDuration());
  }
  auto response = Invoke(*briefings_, &v1::BriefingService::Stub::ClaimNextBriefing,
                         *Context(waiting), request);
  if (!response.ok()) return response.status();
  if (!response->has_briefing()) return std::optional<v1::Briefing>();
  return std::optional<v1::Briefing>(std::move(*response->mutable_briefing()));
}

absl::StatusOr<v1::Briefing> Client::CompleteBriefing(int64_t id,
                                                      const google::protobuf::Struct& content,
                                                      const CallOptions& call) {
  v1::CompleteBriefingRequest request;
  request.set_id(id);
  *request.mutable_content() = content;
  return Invoke(*briefings_, &v1::BriefingService::Stub::CompleteBriefing, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::FailBriefing(int64_t id, const std::string& error_message,
                                                  const CallOptions& call) {
  v1::FailBriefingRequest request;
  request.set_id(id);
  request.set_error_message(error_message);
  return Invoke(*briefings_, &v1::BriefingService::Stub::FailBriefing, *Context(call), request);
}

absl::StatusOr<v1::Briefing> Client::MarkBriefingRead(int64_t id, const CallOptions& call) {
  v1::MarkBriefingReadRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::MarkBriefingRead, *Context(call), request);
}

absl::Status Client::DeleteBriefing(int64_t id, const CallOptions& call) {
  v1::DeleteBriefingRequest request;
  request.set_id(id);
  return Invoke(*briefings_, &v1::BriefingService::Stub::DeleteBriefing, *Context(call), request)
      .status();
}

std::unique_ptr<BriefingWatch> Client::WatchBriefings(int64_t user_id, std::string resume_token,
                                                      WatchOptions watch, const CallOptions& call) {
  const absl::Time deadline =
      call.timeout.has_value() ? absl::Now() + *call.timeout : absl::InfiniteFuture();
  return std::unique_ptr<BriefingWatch>(new BriefingWatch(
      channel_, user_id, std::move(resume_token), std::move(watch), deadline, call.request_id));
}

}  // namespace firstsip::client
