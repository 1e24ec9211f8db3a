// What every call the transport serves shares, unary or streaming: the method and queue it
// belongs to, the gRPC context, the request's bytes, and the bookkeeping of its arrival and end
// (the next call of the method is asked for, the CallTracker hears of both). With a policy,
// the call is authorized here before anything reads its request (authorizer.h); a call of an
// audited method (RpcServer::AuditCalls) collects what its audit line says as it goes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "transport/call_tracker.h"
#include "transport/rpc_server.h"

namespace firstsip::transport {

class IncomingCall {
 public:
  IncomingCall(const IncomingCall&) = delete;
  IncomingCall& operator=(const IncomingCall&) = delete;

  // Adds `name`=`value` to the call's audit line (ignored unless the method is audited). On the
  // thread that runs the call's handler or answers it, before the answer.
  void AddAuditField(std::string name, std::string value) {
    if (method_.audited) audit_fields_.emplace_back(std::move(name), std::move(value));
  }

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

  // OK, or PERMISSION_DENIED when the policy in force does not let this caller call this
  // method. Once, when the call arrived, before its request is read.
  absl::Status Authorize();

  // For an audited method: puts the ids `request` names (its integer fields called id or
  // *_id) on the audit line. Cheap to call for any method.
  void NoteRequestForAudit(const google::protobuf::Message& request) {
    if (method_.audited) AddRequestIds(request);
  }

  // The call is over, having answered `code` (CANCELLED when the caller left first).
  void Ended(grpc::StatusCode code) {
    method_.tracker->Finished(method_.path(), code, absl::Now() - started_, context_);
    if (method_.audited) {
      method_.tracker->Audit(method_.path(), code, denied_, context_, audit_fields_);
    }
  }

  const ServedMethod& method_;
  ServingQueue& queue_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_bytes_;

 private:
  void AddRequestIds(const google::protobuf::Message& request);

  absl::Time started_;
  bool denied_ = false;  // by the policy
  std::vector<std::pair<std::string, std::string>> audit_fields_;
};

}  // namespace firstsip::transport
