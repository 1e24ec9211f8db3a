// The gRPC transport on the asynchronous completion-queue API: one completion queue and one
// thread per core, the shape of gRPC's own benchmark server (test/cpp/qps/server_async.cc).
//
// Why not the callback API: in gRPC 1.51 it runs every call's callbacks through threads of its
// own (a "nexting" thread per queue that hands callbacks to an executor pool), so each call
// crosses threads several times; on two cores those wake-ups cost more than the call's work.
// Here a call is received, parsed, validated and handed to the database without leaving the
// thread that drained it from its queue, and its answer is written from whichever thread the
// database answered on (gRPC needs no thread of its own for the write).
//
// Every method is registered raw (bytes in, bytes out), so the transport parses requests itself
// and a malformed one is answered INVALID_ARGUMENT naming the field (request_parser.h).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/rpc_service_method.h"
#include "grpcpp/impl/service_type.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/async_unary_call.h"
#include "transport/call_tracker.h"

namespace firstsip::transport {

// What a completion queue delivers: every tag this transport hands gRPC points to one.
class CompletionEvent {
 public:
  virtual void OnComplete(bool ok) = 0;

 protected:
  ~CompletionEvent() = default;
};

// A CompletionEvent that calls `Owner::*kHandler(ok)`.
template <typename Owner, void (Owner::*kHandler)(bool)>
class MemberEvent final : public CompletionEvent {
 public:
  explicit MemberEvent(Owner* owner) : owner_(owner) {}
  void OnComplete(bool ok) override { (owner_->*kHandler)(ok); }

 private:
  Owner* owner_;
};

// One proto service with every method registered raw on the asynchronous API.
class RawService final : public grpc::Service {
 public:
  // `full_name` ("firstsip.v1.UserService") must be in the generated descriptor pool, i.e. its
  // generated code linked in.
  explicit RawService(absl::string_view full_name);

  const google::protobuf::ServiceDescriptor& descriptor() const { return descriptor_; }
  // The index of `method` ("GetUser"), or -1.
  int IndexOf(absl::string_view method) const;
  // "/firstsip.v1.UserService/GetUser": the method's HTTP/2 path, as logs and metrics name it.
  const std::string& path(int index) const { return paths_[static_cast<size_t>(index)]; }

  void RequestUnary(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                    grpc::ServerAsyncResponseWriter<grpc::ByteBuffer>* responder,
                    grpc::ServerCompletionQueue* queue, void* tag) {
    RequestAsyncUnary(index, context, request, responder, queue, queue, tag);
  }
  void RequestServerStream(int index, grpc::ServerContext* context, grpc::ByteBuffer* request,
                           grpc::ServerAsyncWriter<grpc::ByteBuffer>* writer,
                           grpc::ServerCompletionQueue* queue, void* tag) {
    RequestAsyncServerStreaming(index, context, request, writer, queue, queue, tag);
  }

 private:
  const google::protobuf::ServiceDescriptor& descriptor_;
  std::vector<std::string> paths_;  // stable: gRPC keeps pointers to them
};

class Authorizer;
class RpcServer;
struct ServedMethod;

// Work handed to a queue's thread from other threads, run there in batches: one wake-up of
// the queue's thread for whatever arrived meanwhile (an alarm due at once is gRPC's way to
// post to a completion queue).
class QueueMailbox {
 public:
  explicit QueueMailbox(grpc::ServerCompletionQueue* queue) : queue_(queue), fired_(this) {}

  // Runs `task` on the queue's thread. Any thread; never after the queue shut down.
  void Post(absl::AnyInvocable<void() &&> task);

 private:
  void OnFired(bool ok);

  grpc::ServerCompletionQueue* const queue_;
  std::mutex mutex_;
  std::vector<absl::AnyInvocable<void() &&>> tasks_;  // guarded by mutex_
  bool armed_ = false;                                // guarded by mutex_
  grpc::Alarm alarm_;
  MemberEvent<QueueMailbox, &QueueMailbox::OnFired> fired_;
};

// One completion queue, its thread, and the rule that no call is requested on it once it is
// shutting down (gRPC aborts on a request to a queue that is shut down).
struct ServingQueue {
  std::unique_ptr<grpc::ServerCompletionQueue> queue;
  std::unique_ptr<QueueMailbox> mailbox;
  std::mutex mutex;
  bool accepting = true;  // guarded by mutex
  std::thread thread;

  // True on the thread that drains this queue.
  bool IsCurrentThread() const;
};

// A method with its handler: `post` creates the object that waits for the method's next call
// on a queue and asks gRPC for that call.
struct ServedMethod {
  RawService* service = nullptr;
  int index = -1;  // -1: the service has no method of that name
  std::string method_name;
  CallTracker* tracker = nullptr;
  Authorizer* authorizer = nullptr;  // null: no policy, every call proceeds
  bool audited = false;              // each call writes an audit line (RpcServer::AuditCalls)
  std::function<void(const ServedMethod&, ServingQueue&)> post;

  const std::string& path() const { return service->path(index); }
  // Asks for the method's next call on `queue`, unless the queue is shutting down.
  void PostNext(ServingQueue& queue) const;
};

// The completion queues and their threads, and the methods served on them.
class RpcServer {
 public:
  // `threads` queues, each drained by a thread of its own. The tracker, and the authorizer when
  // there is one (a policy: every call is checked against it), must outlive this.
  RpcServer(int threads, CallTracker& tracker, Authorizer* authorizer = nullptr);
  ~RpcServer();
  RpcServer(const RpcServer&) = delete;
  RpcServer& operator=(const RpcServer&) = delete;

  // Registers `service` with the builder (which keeps a pointer to it) and, the first time,
  // adds this server's completion queues. Every method of the service needs a handler
  // (HandleUnary / HandleServerStream) before Start.
  void AddService(grpc::ServerBuilder& builder, RawService& service);

  // Serves `method` of `service` by creating a Call (constructed with the ServedMethod, the
  // queue and `handler`) for each call.
  template <typename Call, typename Handler>
  void Handle(RawService& service, absl::string_view method, Handler handler) {
    ServedMethod served;
    served.service = &service;
    served.index = service.IndexOf(method);
    served.method_name = std::string(method);
    served.tracker = &tracker_;
    served.authorizer = authorizer_;
    auto shared = std::make_shared<Handler>(std::move(handler));
    served.post = [shared](const ServedMethod& self, ServingQueue& queue) {
      (new Call(self, queue, *shared))->AwaitCall();
    };
    methods_.push_back(std::move(served));
  }

  // Every call of `method` (already handled) writes an audit line when it ends: the caller, the
  // ids its request named, what the handler added, and how it ended (call_tracker.h). For
  // methods that hand out secrets.
  void AuditCalls(RawService& service, absl::string_view method);

  // After the grpc::Server is built: asks for the first call of every method on every queue
  // and starts the threads. INTERNAL when a method of a registered service has no handler (a
  // call to it would wait forever), or a handler or AuditCalls names no method.
  absl::Status Start();

  // After grpc::Server::Shutdown returned and every call is answered: shuts the queues down
  // and joins their threads. Idempotent.
  void Stop();

 private:
  void Drain(ServingQueue& queue);

  const int threads_;
  CallTracker& tracker_;
  Authorizer* const authorizer_;
  std::vector<RawService*> services_;
  std::vector<std::string> unknown_audited_;  // AuditCalls names no handled method
  std::vector<ServedMethod> methods_;
  std::vector<std::unique_ptr<ServingQueue>> queues_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace firstsip::transport
