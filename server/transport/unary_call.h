// How every unary RPC of ours is served. The services register their methods "raw" (bytes in,
// bytes out) so that a request protobuf refuses is answered INVALID_ARGUMENT naming the field
// (request_parser.h), instead of the bare UNIMPLEMENTED gRPC's typed handlers give. Serve()
// parses the request into a UnaryCall and hands it to the method's handler; the handler validates
// with the logic rules, starts the storage call, and the call finishes when the database answers,
// on the pool's thread. No gRPC thread waits on PostgreSQL.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/call_options.h"
#include "grpcpp/grpcpp.h"
#include "logic/validators.h"
#include "transport/grpc_status.h"
#include "transport/request_parser.h"

namespace firstsip::transport {

// One call in flight: owns its request and response, carries the call's deadline and a
// cancellation that fires when gRPC cancels the call (caller gone, or deadline passed), so the
// statement running for it is cancelled too. Deletes itself when gRPC is done with it.
template <typename Request, typename Response>
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(const grpc::CallbackServerContext& context, grpc::ByteBuffer* wire_response)
      : options_{DeadlineOf(context), std::make_shared<db::Cancellation>()},
        wire_response_(wire_response) {}

  const Request& request() const { return request_; }
  Request& mutable_request() { return request_; }
  Response& response() { return response_; }
  const db::CallOptions& options() const { return options_; }

  // Answers the call: the response when `status` is OK, else `status` as a gRPC error. Any thread.
  void Finish(const absl::Status& status) {
    if (!status.ok()) return ServerUnaryReactor::Finish(ToGrpcStatus(status));
    bool own_buffer = false;
    grpc::Status serialized =
        grpc::SerializationTraits<Response>::Serialize(response_, wire_response_, &own_buffer);
    ServerUnaryReactor::Finish(serialized);
  }

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

  void OnCancel() override { options_.cancellation->Cancel(); }
  void OnDone() override { delete this; }

 private:
  Request request_;
  Response response_;
  db::CallOptions options_;
  grpc::ByteBuffer* wire_response_;
};

// Serves one raw method: parses the request and, when it parses, runs `handler(call)`, which
// must finish the call (now or later). Returns the call for gRPC to own.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* wire_request,
                                grpc::ByteBuffer* wire_response, Handler&& handler) {
  auto* call = new UnaryCall<Request, Response>(*context, wire_response);
  if (absl::Status parsed = ParseRequest(*wire_request, call->mutable_request()); !parsed.ok()) {
    call->Finish(parsed);
  } else {
    std::forward<Handler>(handler)(*call);
  }
  return call;
}

// Serves a method whose one rule is a positive id: the id `id_of` reads from the request is
// validated as `field` (INVALID_ARGUMENT naming it), then `start(id, call)` runs.
template <typename Request, typename Response, typename Start>
grpc::ServerUnaryReactor* ServeById(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* wire_request,
                                    grpc::ByteBuffer* wire_response,
                                    int64_t (Request::*id_of)() const, absl::string_view field,
                                    Start start) {
  return Serve<Request, Response>(
      context, wire_request, wire_response, [&](UnaryCall<Request, Response>& call) {
        const int64_t id = (call.request().*id_of)();
        if (absl::Status valid = logic::ValidateId(id, field); !valid.ok()) {
          return call.Finish(valid);
        }
        start(id, call);
      });
}

}  // namespace firstsip::transport
