// A server-streaming call on the asynchronous API (route_guide's ServerWriteReactor, on a
// completion queue): one write in flight at a time, a bounded queue behind it (in messages and
// in bytes), and the end decided in one place. A caller that does not read never makes memory
// grow: when the queue is full, the stream ends with RESOURCE_EXHAUSTED.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "transport/grpc_status.h"
#include "transport/incoming_call.h"
#include "transport/rpc_server.h"

namespace firstsip::transport {

class ServerStreamBase : public IncomingCall {
 public:
  ServerStreamBase(const ServedMethod& method, ServingQueue& queue, size_t max_queued,
                   size_t max_queued_bytes = SIZE_MAX)
      : IncomingCall(method, queue),
        max_queued_(max_queued),
        max_queued_bytes_(max_queued_bytes),
        arrived_(this),
        written_(this),
        finished_(this),
        done_(this) {}
  virtual ~ServerStreamBase() = default;

  // Asks gRPC for the method's next call; this object then owns itself.
  void AwaitCall() {
    context_.AsyncNotifyWhenDone(&done_);
    method_.service->RequestServerStream(method_.index, &context_, &request_bytes_, &writer_,
                                         queue_.queue.get(), &arrived_);
  }

  // Queues `message` for the caller. False when the stream is over, or its queue was full (the
  // stream then ends with RESOURCE_EXHAUSTED). Any thread.
  template <typename Message>
  bool Send(const Message& message) {
    grpc::ByteBuffer bytes;
    bool own_buffer = false;
    if (!grpc::SerializationTraits<Message>::Serialize(message, &bytes, &own_buffer).ok()) {
      End(grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize a stream message"));
      return false;
    }
    const size_t size = bytes.Length();
    std::lock_guard<std::mutex> lock(mutex_);
    if (end_.has_value() || done_seen_) return false;
    if (pending_.size() >= max_queued_ || pending_bytes_ + size > max_queued_bytes_) {
      pending_.clear();
      pending_bytes_ = 0;
      end_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "the caller is not reading fast enough; resume from the last message");
      PumpLocked();
      return false;
    }
    pending_.push_back(std::move(bytes));
    pending_bytes_ += size;
    PumpLocked();
    return true;
  }

  // Sends the response headers now, before any message (a caller learns that the stream is
  // live). Any thread; once.
  void SendHeaders() {
    std::lock_guard<std::mutex> lock(mutex_);
    headers_wanted_ = true;
    PumpLocked();
  }

  // The queue holds half of what it may, in messages or bytes. Any thread.
  bool HalfFull() {
    std::lock_guard<std::mutex> lock(mutex_);
    return pending_.size() * 2 >= max_queued_ || pending_bytes_ * 2 >= max_queued_bytes_;
  }

  // Ends the stream with `status` once what is queued has been written. Any thread; only the
  // first end counts.
  void End(const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (end_.has_value()) return;
    end_ = status;
    PumpLocked();
  }

 protected:
  // The call arrived: parse request_bytes() and start sending (or End).
  virtual void Start() = 0;
  // The call is over (ended, cancelled, or past its deadline): stop whatever feeds Send. Runs
  // once, on the queue's thread; Send may still be called until it returns, and is ignored.
  virtual void Closed() = 0;
  // Everything queued has been written: a producer that paused may go on. On the queue's
  // thread, outside any lock of the stream.
  virtual void Drained() {}
  // The stream is over with `code` (CANCELLED when the caller left first); just before it is
  // deleted.
  virtual void Finished(grpc::StatusCode /*code*/) {}

 private:
  void OnArrived(bool ok) {
    if (!Arrived(ok)) {
      delete this;
      return;
    }
    // With a policy, a caller it does not allow never reaches the stream's own Start.
    if (absl::Status allowed = Authorize(); !allowed.ok()) return End(ToGrpcStatus(allowed));
    Start();
  }
  void OnWritten(bool ok) {
    std::unique_lock<std::mutex> lock(mutex_);
    writing_ = false;
    if (!ok) {  // the call is gone; its end comes through OnDone
      pending_.clear();
      pending_bytes_ = 0;
    }
    PumpLocked();
    const bool drained = ok && pending_.empty() && !end_.has_value() && !done_seen_;
    if (ReleaseLocked(lock)) return;
    lock.unlock();
    if (drained) Drained();
  }
  void OnFinished(bool /*ok*/) {
    std::unique_lock<std::mutex> lock(mutex_);
    finish_completed_ = true;
    ReleaseLocked(lock);
  }
  void OnDone(bool /*ok*/) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_seen_ = true;
      pending_.clear();
      pending_bytes_ = 0;
    }
    Closed();
    std::unique_lock<std::mutex> lock(mutex_);
    ReleaseLocked(lock);
  }

  // Starts the next write, or the finish once nothing is left to write.
  void PumpLocked() {
    if (writing_ || finishing_ || done_seen_) return;
    if (headers_wanted_ && !headers_sent_ && !end_.has_value()) {
      headers_sent_ = writing_ = true;
      writer_.SendInitialMetadata(&written_);
      return;
    }
    if (!pending_.empty()) {
      headers_sent_ = true;  // the first Write sends them
      writing_ = true;
      writer_.Write(pending_.front(), &written_);  // gRPC keeps its own reference to the bytes
      pending_bytes_ -= pending_.front().Length();
      pending_.pop_front();
    } else if (end_.has_value()) {
      finishing_ = true;
      writer_.Finish(*end_, &finished_);
    }
  }

  // Deletes the stream once gRPC has handed back every tag it holds; true when it did.
  bool ReleaseLocked(std::unique_lock<std::mutex>& lock) {
    if (!done_seen_ || writing_ || (finishing_ && !finish_completed_)) return false;
    grpc::StatusCode code =
        finishing_ ? end_->error_code() : grpc::StatusCode::CANCELLED;  // never ended by us
    lock.unlock();
    Finished(code);
    Ended(code);
    delete this;
    return true;
  }

  const size_t max_queued_;
  const size_t max_queued_bytes_;
  grpc::ServerAsyncWriter<grpc::ByteBuffer> writer_{&context_};

  std::mutex mutex_;
  std::deque<grpc::ByteBuffer> pending_;  // guarded by mutex_; not yet handed to gRPC
  size_t pending_bytes_ = 0;              // guarded by mutex_
  std::optional<grpc::Status> end_;       // guarded by mutex_
  bool writing_ = false;                  // guarded by mutex_
  bool finishing_ = false;                // guarded by mutex_
  bool finish_completed_ = false;         // guarded by mutex_
  bool done_seen_ = false;                // guarded by mutex_
  bool headers_wanted_ = false;           // guarded by mutex_
  bool headers_sent_ = false;             // guarded by mutex_

  MemberEvent<ServerStreamBase, &ServerStreamBase::OnArrived> arrived_;
  MemberEvent<ServerStreamBase, &ServerStreamBase::OnWritten> written_;
  MemberEvent<ServerStreamBase, &ServerStreamBase::OnFinished> finished_;
  MemberEvent<ServerStreamBase, &ServerStreamBase::OnDone> done_;
};

}  // namespace firstsip::transport
