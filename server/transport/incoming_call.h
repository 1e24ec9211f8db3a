// What every call the transport serves shares, unary or streaming: the method and queue it
// belongs to, the gRPC context, the request's bytes, and the bookkeeping of its arrival and end
// (the next call of the method is asked for, the CallTracker hears of both).
#pragma once

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "transport/rpc_server.h"

namespace firstsip::transport {

class IncomingCall {
 public:
  IncomingCall(const IncomingCall&) = delete;
  IncomingCall& operator=(const IncomingCall&) = delete;

 protected:
  IncomingCall(const ServedMethod& method, ServingQueue& queue) : method_(method), queue_(queue) {}
  ~IncomingCall() = default;

  // The completion of the request for this call: false when it never arrived (the server is
  // shutting down; the caller deletes the object). Otherwise asks for the method's next call
  // on this queue and starts tracking this one.
  bool Arrived(bool ok) {
    if (!ok) return false;
    started_ = absl::Now();
    method_.PostNext(queue_);
    method_.tracker->Started();
    return true;
  }
  const grpc::ByteBuffer& request_bytes() const { return request_bytes_; }

  // The call is over, having answered `code` (CANCELLED when the caller left first).
  void Ended(grpc::StatusCode code) {
    method_.tracker->Finished(method_.path(), code, absl::Now() - started_, context_);
  }

  const ServedMethod& method_;
  ServingQueue& queue_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_bytes_;

 private:
  absl::Time started_;
};

}  // namespace firstsip::transport
