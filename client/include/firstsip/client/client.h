// firstsip::client: typed C++ calls to the First Sip data service.
//
//   firstsip::client::ClientOptions options;   // target 127.0.0.1:50051, 5 s deadlines
//   auto client = firstsip::client::Client::Create(options);
//   absl::StatusOr<firstsip::v1::User> user = (*client)->GetUser(42);
//
// Every call returns absl::StatusOr with the server's status code and message. Each call gets a
// deadline (ClientOptions::timeout unless CallOptions says otherwise). Calls that are safe to
// repeat (reads, and the updates that set absolute values) are retried on UNAVAILABLE by gRPC
// itself, through the channel's service config. Thread-safe: share one Client.
//
// Push: WatchBriefings streams a user's changes and resumes by itself (see BriefingWatch); it
// has no deadline unless CallOptions gives one. ClaimNextBriefing with a wait lets a worker
// wait for work instead of polling.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "firstsip/client/backoff.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/identity.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace firstsip::client {

// The shortest ClientOptions::keepalive: the server answers pings more frequent than this with
// GOAWAY "too_many_pings".
inline constexpr absl::Duration kMinKeepalive = absl::Seconds(10);

struct ClientOptions {
  std::string target = "127.0.0.1:50051";
  // Deadline of each call unless overridden per call.
  absl::Duration timeout = absl::Seconds(5);
  // While a call is open (a watch stream, a waiting claim), an HTTP/2 ping after this long
  // without traffic; a server that does not answer within 10 s counts as gone (UNAVAILABLE,
  // and BriefingWatch resumes). At least kMinKeepalive, the most often the server accepts.
  absl::Duration keepalive = absl::Seconds(30);
  // TLS: off (the sidecar listens on loopback). When on, the server's certificate is checked
  // against root_certificates (PEM), or the system roots when empty.
  bool tls = false;
  std::string root_certificates;
  // Mutual TLS: this client's certificate chain and key (PEM), when the server asks for one.
  std::string client_certificate;
  std::string client_key;
  // Retries of idempotent calls on UNAVAILABLE (0 turns them off).
  int max_attempts = 4;
};

struct CallOptions {
  std::optional<absl::Duration> timeout;
  std::string request_id;  // sent as x-request-id metadata when set
};

// The service config that enables retries of idempotent methods (exposed for tests). Neither
// WatchBriefings (BriefingWatch resumes from its token instead) nor ClaimNextBriefing is in it.
std::string RetryServiceConfig(int max_attempts);

// Whether a watch resumes after its stream ended with `code`: UNAVAILABLE (the server stopped or
// lost its database feed) and RESOURCE_EXHAUSTED (the reader fell behind). Exposed for tests.
bool WatchResumesAfter(absl::StatusCode code);

struct WatchOptions {
  // The delays before resuming. The backoff starts over once a stream has delivered a change or
  // stayed live for longer than backoff.max.
  BackoffOptions backoff;
  // Called on the thread in Next() each time a stream is live (the server subscribed: every
  // change committed from now on will be delivered), the first time and after each resume.
  std::function<void()> on_live;
  // Called on the thread in Next() when a stream ended with a code the watch resumes on, before
  // it waits `delay` and resumes from resume_token().
  std::function<void(const absl::Status& ended, absl::Duration delay)> on_resume;
};

class WatchStream;  // one WatchBriefings call (client.cc)

// A WatchBriefings stream that resumes by itself: when the stream ends with UNAVAILABLE or
// RESOURCE_EXHAUSTED it opens a new one from the token of the last change Next() returned, after
// a jittered backoff. Delivery is at least once: a change is repeated only if the process stops
// between Next() and persisting its token. Made by Client::WatchBriefings.
//
//   auto watch = client->WatchBriefings(user_id, saved_token);
//   for (auto change = watch->Next(); change.ok(); change = watch->Next()) {
//     Apply(change->briefing());
//     Save(change->resume_token());           // the same as watch->resume_token()
//   }
//
// One thread calls Next(); Cancel() and resume_token() may be called from any thread. Destroy
// the watch only once no Next() is running (Cancel() first from another thread).
class BriefingWatch {
 public:
  BriefingWatch(const BriefingWatch&) = delete;
  BriefingWatch& operator=(const BriefingWatch&) = delete;
  // Cancels the stream and waits until gRPC has let go of it.
  ~BriefingWatch();

  // Blocks until the next change and returns it, resuming as often as needed. Errors end the
  // watch (Next() then returns the same error again):
  //   CANCELLED          Cancel() was called;
  //   DEADLINE_EXCEEDED  the watch was given a timeout (CallOptions) and it ran out;
  //   INVALID_ARGUMENT   a malformed or another user's resume token, or a bad user id;
  //   NOT_FOUND          no such user;
  //   OUT_OF_RANGE       the token is too old: list afresh, then watch from the listing's
  //                      ListBriefingsResponse.resume_token;
  //   any other code from the server (PERMISSION_DENIED, INTERNAL, ...) but the two it resumes on.
  absl::StatusOr<v1::WatchBriefingsResponse> Next();
  // Ends the watch: a Next() running on another thread, or the next one, returns CANCELLED.
  void Cancel();
  // The token of the last change Next() returned (the starting token before the first):
  // persist it to resume a later watch where this one stopped.
  std::string resume_token() const;

 private:
  friend class Client;
  friend class WatchStream;
  BriefingWatch(std::shared_ptr<grpc::Channel> channel, int64_t user_id, std::string resume_token,
                WatchOptions options, absl::Time deadline, std::string request_id);

  const std::unique_ptr<v1::BriefingService::Stub> stub_;
  const int64_t user_id_;
  const WatchOptions options_;
  const absl::Time deadline_;
  const std::string request_id_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  // Guarded by mutex_ (as are the fields of stream_ that its callbacks change).
  std::string token_;
  bool cancelled_ = false;
  absl::Status ended_;                   // the error Next() returns once the watch ended
  std::shared_ptr<WatchStream> stream_;  // the current call, until it is done
  absl::Time resume_at_ = absl::InfinitePast();
  Backoff backoff_;
};

class Client {
 public:
  // INVALID_ARGUMENT when the options are unusable (empty target, bad timeout).
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);

  // grpc.health.v1 status of the server ("" = the server as a whole): true when SERVING.
  absl::StatusOr<bool> Healthy(const CallOptions& call = {});

  // UserService.
  absl::StatusOr<v1::User> CreateUser(const v1::User& user, const CallOptions& call = {});
  absl::StatusOr<v1::User> GetUser(int64_t id, bool show_deleted = false,
                                   const CallOptions& call = {});
  absl::StatusOr<v1::User> GetUserByEmail(const std::string& email, const CallOptions& call = {});
  absl::StatusOr<v1::ListUsersResponse> ListUsers(const v1::ListUsersRequest& request,
                                                  const CallOptions& call = {});
  absl::StatusOr<v1::User> UpdateUser(const v1::UpdateUserRequest& request,
                                      const CallOptions& call = {});
  absl::StatusOr<v1::User> DeleteUser(int64_t id, const CallOptions& call = {});
  absl::StatusOr<v1::User> UndeleteUser(int64_t id, const CallOptions& call = {});
  // Erases the user for good (docs/API.md); `etag` is the user's current one (GetUser, with
  // show_deleted for a deleted user). Not retried: a retry after a success would be NOT_FOUND.
  absl::Status EraseUser(int64_t id, const std::string& etag, const CallOptions& call = {});
  // Everything the service holds about the user: the ExportUser stream's messages merged into
  // one (the user, its identities, every briefing oldest first). `messages` (may be null) gets
  // how many messages the stream had. The deadline (CallOptions or ClientOptions) bounds the
  // whole stream.
  absl::StatusOr<v1::ExportUserResponse> ExportUser(int64_t id, const CallOptions& call = {},
                                                    int* messages = nullptr);

  // IdentityService.
  absl::StatusOr<v1::SignInResponse> SignIn(const v1::SignInRequest& request,
                                            const CallOptions& call = {});
  absl::StatusOr<v1::AuthIdentity> GetIdentity(int64_t id, const CallOptions& call = {});
  absl::StatusOr<v1::ListIdentitiesResponse> ListIdentities(int64_t user_id,
                                                            const CallOptions& call = {});
  absl::StatusOr<v1::AuthIdentity> UpdateTokens(int64_t identity_id, const v1::OAuthTokens& tokens,
                                                const CallOptions& call = {});
  absl::StatusOr<v1::OAuthTokens> GetTokens(int64_t identity_id, const CallOptions& call = {});
  absl::Status DeleteIdentity(int64_t id, const CallOptions& call = {});

  // BriefingService.
  absl::StatusOr<v1::Briefing> CreateBriefing(int64_t user_id, const std::string& request_id = "",
                                              const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> GetBriefing(int64_t id, const CallOptions& call = {});
  absl::StatusOr<v1::ListBriefingsResponse> ListBriefings(const v1::ListBriefingsRequest& request,
                                                          const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> StartBriefing(int64_t id, const CallOptions& call = {});
  // nullopt when there is nothing to do.
  absl::StatusOr<std::optional<v1::Briefing>> ClaimNextBriefing(
      std::optional<absl::Duration> lease = std::nullopt, const CallOptions& call = {});
  // The same, but when nothing can be claimed the server waits up to `wait` (at most 5 minutes;
  // INVALID_ARGUMENT beyond) for a briefing to become claimable and claims it; nullopt at the end
  // of the wait. The call's deadline is `wait` plus the usual timeout (CallOptions or
  // ClientOptions), so the server answers before it. Not retried: resending a claim that was
  // answered would lose the briefing the first attempt took, until its lease runs out.
  absl::StatusOr<std::optional<v1::Briefing>> ClaimNextBriefing(std::optional<absl::Duration> lease,
                                                                absl::Duration wait,
                                                                const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> CompleteBriefing(int64_t id, const google::protobuf::Struct& content,
                                                const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> FailBriefing(int64_t id, const std::string& error_message,
                                            const CallOptions& call = {});
  absl::StatusOr<v1::Briefing> MarkBriefingRead(int64_t id, const CallOptions& call = {});
  absl::Status DeleteBriefing(int64_t id, const CallOptions& call = {});
  // Streams every change to the user's briefings committed after `resume_token` (a token from a
  // change or from ListBriefingsResponse; empty: from when the first stream is live), resuming
  // by itself; see BriefingWatch. Nothing is sent until the first Next(). Unlike the other
  // calls, a watch has no deadline: it runs until Cancel() or an error, unless call.timeout is
  // set, which then bounds the whole watch, resumes included. call.request_id goes with every
  // stream. The watch holds its own reference to the channel: it may outlive this Client.
  std::unique_ptr<BriefingWatch> WatchBriefings(int64_t user_id, std::string resume_token = "",
                                                WatchOptions watch = {},
                                                const CallOptions& call = {});

 private:
  Client(const ClientOptions& options, std::shared_ptr<grpc::Channel> channel);
  std::unique_ptr<grpc::ClientContext> Context(const CallOptions& call) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::UserService::Stub> users_;
  std::unique_ptr<v1::IdentityService::Stub> identities_;
  std::unique_ptr<v1::BriefingService::Stub> briefings_;
};

// gRPC status -> absl::Status (the codes share their numbers).
absl::Status FromGrpc(const grpc::Status& status);

}  // namespace firstsip::client
