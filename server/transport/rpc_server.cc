#include "transport/rpc_server.h"

#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace firstsip::transport {

namespace {

const google::protobuf::ServiceDescriptor& FindService(absl::string_view full_name) {
  const google::protobuf::ServiceDescriptor* found =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(std::string(full_name));
  if (found == nullptr) {
    std::fprintf(stderr, "service %s is not linked in\n", std::string(full_name).c_str());
    std::abort();
  }
  return *found;
}

}  // namespace

RawService::RawService(absl::string_view full_name) : descriptor_(FindService(full_name)) {
  const google::protobuf::ServiceDescriptor& descriptor = descriptor_;
  paths_.reserve(static_cast<size_t>(descriptor.method_count()));
  for (int i = 0; i < descriptor.method_count(); ++i) {
    const google::protobuf::MethodDescriptor& method = *descriptor.method(i);
    paths_.push_back(absl::StrCat("/", descriptor.full_name(), "/", method.name()));
    grpc::internal::RpcMethod::RpcType type =
        method.client_streaming()
            ? (method.server_streaming() ? grpc::internal::RpcMethod::BIDI_STREAMING
                                         : grpc::internal::RpcMethod::CLIENT_STREAMING)
            : (method.server_streaming() ? grpc::internal::RpcMethod::SERVER_STREAMING
                                         : grpc::internal::RpcMethod::NORMAL_RPC);
    // No handler: served through the asynchronous API; raw: the request arrives as bytes.
    AddMethod(new grpc::internal::RpcServiceMethod(paths_.back().c_str(), type, nullptr));
    MarkMethodRaw(i);
  }
}

int RawService::IndexOf(absl::string_view method) const {
  for (int i = 0; i < descriptor_.method_count(); ++i) {
    if (descriptor_.method(i)->name() == method) return i;
  }
  return -1;
}

namespace {

// The queue the current thread drains, if any.
thread_local const ServingQueue* current_queue = nullptr;

}  // namespace

bool ServingQueue::IsCurrentThread() const { return current_queue == this; }

void QueueMailbox::Post(absl::AnyInvocable<void() &&> task) {
  std::lock_guard<std::mutex> lock(mutex_);
  tasks_.push_back(std::move(task));
  if (armed_) return;  // the alarm set for the tasks before this one takes it along
  armed_ = true;
  alarm_.Set(queue_, gpr_time_0(GPR_CLOCK_MONOTONIC), &fired_);
}

void QueueMailbox::OnFired(bool /*ok*/) {
  // Also when the alarm was cancelled by the queue's shutdown: the tasks must run regardless.
  std::vector<absl::AnyInvocable<void() &&>> tasks;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks.swap(tasks_);
    armed_ = false;
  }
  for (auto& task : tasks) std::move(task)();
}

void ServedMethod::PostNext(ServingQueue& queue) const {
  std::lock_guard<std::mutex> lock(queue.mutex);
  if (queue.accepting) post(*this, queue);
}

RpcServer::RpcServer(int threads, CallTracker& tracker, Authorizer* authorizer)
    : threads_(std::max(1, threads)), tracker_(tracker), authorizer_(authorizer) {}

RpcServer::~RpcServer() { Stop(); }

void RpcServer::AddService(grpc::ServerBuilder& builder, RawService& service) {
  builder.RegisterService(&service);
  services_.push_back(&service);
  if (!queues_.empty()) return;
  for (int i = 0; i < threads_; ++i) {
    auto serving = std::make_unique<ServingQueue>();
    serving->queue = builder.AddCompletionQueue();
    serving->mailbox = std::make_unique<QueueMailbox>(serving->queue.get());
    queues_.push_back(std::move(serving));
  }
}

void RpcServer::AuditCalls(RawService& service, absl::string_view method) {
  bool found = false;
  for (ServedMethod& served : methods_) {
    if (served.service == &service && served.method_name == method) found = served.audited = true;
  }
  if (!found) {
    unknown_audited_.push_back(absl::StrCat(service.descriptor().full_name(), "/", method));
  }
}

absl::Status RpcServer::Start() {
  if (!unknown_audited_.empty()) {
    return absl::InternalError(
        absl::StrCat("AuditCalls names a method with no handler: ", unknown_audited_.front()));
  }
  for (const ServedMethod& method : methods_) {
    if (method.index < 0) {
      return absl::InternalError(absl::StrCat("a handler names a method ",
                                              method.service->descriptor().full_name(),
                                              " does not have: ", method.method_name));
    }
  }
  for (RawService* service : services_) {
    for (int i = 0; i < service->descriptor().method_count(); ++i) {
      bool handled = std::any_of(methods_.begin(), methods_.end(), [&](const ServedMethod& m) {
        return m.service == service && m.index == i;
      });
      if (!handled) return absl::InternalError(absl::StrCat(service->path(i), " has no handler"));
    }
  }
  started_ = true;
  for (auto& queue : queues_) {
    for (const ServedMethod& method : methods_) method.PostNext(*queue);
  }
  for (size_t i = 0; i < queues_.size(); ++i) {
    ServingQueue& queue = *queues_[i];
    queue.thread = std::thread([this, &queue, i] {
      pthread_setname_np(pthread_self(), absl::StrCat("fs-grpc-", i).c_str());
      Drain(queue);
    });
  }
  return absl::OkStatus();
}

void RpcServer::Drain(ServingQueue& queue) {
  current_queue = &queue;
  void* tag = nullptr;
  bool ok = false;
  while (queue.queue->Next(&tag, &ok)) static_cast<CompletionEvent*>(tag)->OnComplete(ok);
}

void RpcServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& queue : queues_) {
    {
      std::lock_guard<std::mutex> lock(queue->mutex);
      queue->accepting = false;
    }
    queue->queue->Shutdown();
  }
  for (auto& queue : queues_) {
    if (queue->thread.joinable()) {
      queue->thread.join();
    } else if (!started_) {
      // Never drained: a shut-down queue must still be emptied before it is destroyed.
      void* tag = nullptr;
      bool ok = false;
      while (queue->queue->Next(&tag, &ok)) {
      }
    }
  }
}

}  // namespace firstsip::transport
