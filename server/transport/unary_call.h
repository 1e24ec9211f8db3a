// How every unary RPC of ours is served (rpc_server.h has the threads and queues). A UnaryCall
// waits for one call of its method; when it arrives, the call is authorized (with a policy,
// authorizer.h: PERMISSION_DENIED before anything else), parses its request (a request
// protobuf refuses is answered INVALID_ARGUMENT naming the field, request_parser.h) and runs the
// method's handler, which validates with the logic rules and starts the storage call. The call
// finishes when the database answers, on the pool's thread. No thread waits on PostgreSQL.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "db/call_options.h"
#include "grpcpp/grpcpp.h"
#include "logic/validators.h"
#include "transport/grpc_status.h"
#include "transport/incoming_call.h"
#include "transport/request_parser.h"
#include "transport/rpc_server.h"

namespace firstsip::transport {

// What every unary call shares, whatever its message types: the responder, the deadline and
// cancellation handed to the database, and the bookkeeping that deletes the call once gRPC is
// done with it.
class UnaryCallBase : public IncomingCall {
 public:
  UnaryCallBase(const ServedMethod& method, ServingQueue& queue)
      : IncomingCall(method, queue), arrived_(this), finished_(this), done_(this) {}
  virtual ~UnaryCallBase() = default;

  // Asks gRPC for the method's next call; this object then owns itself.
  void AwaitCall() {
    context_.AsyncNotifyWhenDone(&done_);
    method_.service->RequestUnary(method_.index, &context_, &request_bytes_, &responder_,
                                  queue_.queue.get(), &arrived_);
  }

  const db::CallOptions& options() const { return options_; }

 protected:
  // The call arrived: parse `request_bytes()` and run the handler, which answers (Respond)
  // exactly once, now or later, from any thread.
  virtual void Start() = 0;

  // Sends `response` when `status` is OK, else `status` as a gRPC error. Any thread, once.
  // From another thread (the database's), the answer is handed to this call's queue thread:
  // gRPC then writes it from a thread that polls the connection, with the answers of the same
  // batch, instead of from the database thread, where gRPC would hand part of the write to its
  // executor threads and the database loop would carry every call's write.
  template <typename Response>
  void Respond(const absl::Status& status, const Response& response) {
    if (!queue_.IsCurrentThread()) {
      queue_.mailbox->Post([this, status, &response] { Respond(status, response); });
      return;
    }
    if (!status.ok()) return RespondError(ToGrpcStatus(status));
    grpc::ByteBuffer bytes;
    bool own_buffer = false;
    grpc::Status serialized =
        grpc::SerializationTraits<Response>::Serialize(response, &bytes, &own_buffer);
    if (!serialized.ok()) return RespondError(serialized);
    code_ = grpc::StatusCode::OK;
    responder_.Finish(bytes, grpc::Status::OK, &finished_);
  }
  void RespondError(const grpc::Status& status) {
    code_ = status.error_code();
    responder_.FinishWithError(status, &finished_);
  }

 private:
  void OnArrived(bool ok) {
    if (!Arrived(ok)) {
      delete this;
      return;
    }
    options_ = db::CallOptions{DeadlineOf(context_), std::make_shared<db::Cancellation>()};
    Start();
  }
  void OnFinished(bool /*ok*/) { Release(); }
  void OnDone(bool /*ok*/) {
    // The caller went away or its deadline passed: the statement running for it stops too.
    if (context_.IsCancelled()) options_.cancellation->Cancel();
    Release();
  }
  // Both the answer's and the call's completion come back on this call's queue thread, in
  // either order; the second one ends the call.
  void Release() {
    if (--outstanding_ > 0) return;
    Ended(code_);
    delete this;
  }

  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> responder_{&context_};
  db::CallOptions options_;
  // A call whose answer never reached gRPC was cancelled by its caller.
  grpc::StatusCode code_ = grpc::StatusCode::CANCELLED;
  int outstanding_ = 2;  // the answer's completion and the call's
  MemberEvent<UnaryCallBase, &UnaryCallBase::OnArrived> arrived_;
  MemberEvent<UnaryCallBase, &UnaryCallBase::OnFinished> finished_;
  MemberEvent<UnaryCallBase, &UnaryCallBase::OnDone> done_;
};

// One call of a method taking `Request` and answering `Response`: owns both messages.
template <typename RequestT, typename ResponseT>
class UnaryCall final : public UnaryCallBase {
 public:
  using Request = RequestT;
  using Response = ResponseT;
  using Handler = std::function<void(UnaryCall&)>;

  UnaryCall(const ServedMethod& method, ServingQueue& queue, const Handler& handler)
      : UnaryCallBase(method, queue), handler_(handler) {}

  const Request& request() const { return request_; }
  Response& response() { return response_; }

  // Answers the call: the response when `status` is OK, else `status` as a gRPC error. Any thread.
  void Finish(const absl::Status& status) { Respond(status, response_); }

  // A storage completion that moves the value into the response and finishes the call.
  auto FinishWithValue() {
    return [this](absl::StatusOr<Response> result) {
      if (result.ok()) response_ = *std::move(result);
      Finish(result.status());
    };
  }

  // A storage completion for responses that carry nothing (google.protobuf.Empty).
  auto FinishWithStatus() {
    return [this](const auto& result) { Finish(result.status()); };
  }

 private:
  void Start() override {
    if (absl::Status allowed = Authorize(); !allowed.ok()) {
      // A denied call's request is read only for its audit line (which ids it asked for).
      if (method_.audited && ParseRequest(request_bytes(), request_).ok()) {
        NoteRequestForAudit(request_);
      }
      return Finish(allowed);
    }
    if (absl::Status parsed = ParseRequest(request_bytes(), request_); !parsed.ok()) {
      return Finish(parsed);
    }
    NoteRequestForAudit(request_);
    handler_(*this);
  }

  const Handler& handler_;
  Request request_;
  Response response_;
};

// Registers `handler` (a member of `owner` taking UnaryCall<Request, Response>&) for `method`.
template <typename Owner, typename Request, typename Response>
void HandleUnary(RpcServer& server, RawService& service, absl::string_view method, Owner* owner,
                 void (Owner::*handler)(UnaryCall<Request, Response>&)) {
  using Call = UnaryCall<Request, Response>;
  server.Handle<Call>(service, method, typename Call::Handler([owner, handler](Call& call) {
                        (owner->*handler)(call);
                      }));
}

// For methods whose one rule is a positive id: the id `id_of` reads from the request is
// validated as `field` (INVALID_ARGUMENT naming it), then `start(id)` runs.
template <typename Call, typename Start>
void ServeById(Call& call, int64_t (Call::Request::*id_of)() const, absl::string_view field,
               Start start) {
  const int64_t id = (call.request().*id_of)();
  if (absl::Status valid = logic::ValidateId(id, field); !valid.ok()) return call.Finish(valid);
  start(id);
}

}  // namespace firstsip::transport
