#include "transport/export_user_call.h"

#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/proto_time.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "logic/validators.h"
#include "transport/grpc_status.h"
#include "transport/request_parser.h"

namespace firstsip::transport {
namespace {

// Briefings mapped from rows at a time: enough to fill a message, few enough that a page of
// 1 MiB contents is a bounded amount of memory.
constexpr size_t kMapBatch = 16;

// A repeated message field's cost in its parent: the tag, the length and the message.
size_t FieldBytes(size_t message_bytes) {
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(message_bytes) + message_bytes;
}

}  // namespace

// The stream's state, shared with the statement in flight (answered on the pool's thread).
class ExportSession : public std::enable_shared_from_this<ExportSession> {
 public:
  ExportSession(ExportUserCall* stream, const ExportServices& services)
      : services_(services), stream_(stream) {}

  void Open(int64_t user_id, absl::Time deadline) {
    services_.store->Export(user_id, db::CallOptions{deadline, cancellation_},
                            [self = shared_from_this()](absl::StatusOr<storage::UserExport> data) {
                              self->OnRead(std::move(data));
                            });
  }

  void Drained() {
    std::lock_guard<std::mutex> lock(mutex_);
    PumpLocked();
  }

  void Close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stream_ = nullptr;
    }
    cancellation_->Cancel();
  }

 private:
  void OnRead(absl::StatusOr<storage::UserExport> data) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stream_ == nullptr) return;
    if (!data.ok()) return EndLocked(data.status());
    data_ = *std::move(data);
    read_ = true;
    PumpLocked();
  }

  // Builds and queues messages while the queue is under half full; ends the stream after the
  // last one.
  void PumpLocked() {
    if (stream_ == nullptr || !read_ || ended_) return;
    while (!stream_->HalfFull()) {
      v1::ExportUserResponse message;
      if (!first_sent_) {
        *message.mutable_user() = data_.user;
        for (const v1::AuthIdentity& identity : data_.identities) {
          // ExportedIdentity mirrors AuthIdentity field by field (tests/unit/
          // export_proto_test.cc), so the bytes of one are the other.
          message.add_identities()->ParseFromString(identity.SerializeAsString());
        }
        SetTimestampMicros(absl::ToUnixMicros(data_.snapshot_time),
                           message.mutable_snapshot_time());
      }
      size_t used = message.ByteSizeLong();
      while (true) {
        if (!MapMoreLocked()) return;
        if (next_ >= data_.briefing_rows.size()) break;
        const size_t index = next_ - mapped_first_;
        const size_t bytes = FieldBytes(sizes_[index]);
        // Whole briefings only; one that does not fit starts the next message, and one larger
        // than the limit travels alone.
        if (used > 0 && used + bytes > services_.max_message_bytes) break;
        *message.add_briefings() = std::move(mapped_[index]);
        used += bytes;
        ++next_;
      }
      first_sent_ = true;
      const bool last = next_ >= data_.briefing_rows.size();
      if (!stream_->Send(message)) {
        ended_ = true;
        return;
      }
      if (last) {
        ended_ = true;
        stream_->End(grpc::Status::OK);
        return;
      }
    }
  }

  // Makes sure briefing next_ is mapped, mapping the next batch of rows when it is not; false
  // (the stream ended) when a row cannot be mapped.
  bool MapMoreLocked() {
    if (next_ < mapped_first_ + mapped_.size() || next_ >= data_.briefing_rows.size()) {
      return true;
    }
    absl::StatusOr<std::vector<v1::Briefing>> batch = storage::BriefingsAt(data_, next_, kMapBatch);
    if (!batch.ok()) {
      EndLocked(batch.status());
      return false;
    }
    mapped_first_ = next_;
    mapped_ = *std::move(batch);
    sizes_.clear();
    for (const v1::Briefing& briefing : mapped_) sizes_.push_back(briefing.ByteSizeLong());
    return true;
  }

  void EndLocked(const absl::Status& status) {
    ended_ = true;
    if (stream_ != nullptr) stream_->End(ToGrpcStatus(status));
  }

  const ExportServices& services_;
  const std::shared_ptr<db::Cancellation> cancellation_ = std::make_shared<db::Cancellation>();

  std::mutex mutex_;
  ExportUserCall* stream_;            // guarded by mutex_; null once the call is over
  bool read_ = false;                 // guarded by mutex_; data_ holds the export
  bool ended_ = false;                // guarded by mutex_
  bool first_sent_ = false;           // guarded by mutex_
  storage::UserExport data_;          // guarded by mutex_
  size_t next_ = 0;                   // guarded by mutex_; the next briefing to send
  size_t mapped_first_ = 0;           // guarded by mutex_; the index of mapped_[0]
  std::vector<v1::Briefing> mapped_;  // guarded by mutex_
  std::vector<size_t> sizes_;         // guarded by mutex_; mapped_'s serialized sizes
};

ExportUserCall::ExportUserCall(const ServedMethod& method, ServingQueue& queue,
                               const ExportServices& services)
    : ServerStreamBase(method, queue, kMaxQueued), services_(services) {}

ExportUserCall::~ExportUserCall() = default;

void ExportUserCall::Start() {
  v1::ExportUserRequest request;
  if (absl::Status parsed = ParseRequest(request_bytes(), request); !parsed.ok()) {
    return End(ToGrpcStatus(parsed));
  }
  if (absl::Status valid = logic::ValidateId(request.id(), "id"); !valid.ok()) {
    return End(ToGrpcStatus(valid));
  }
  if (services_.store == nullptr) {
    return End(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "export is not configured"));
  }
  session_ = std::make_shared<ExportSession>(this, services_);
  session_->Open(request.id(), DeadlineOf(context_));
}

void ExportUserCall::Closed() {
  if (session_ != nullptr) session_->Close();
}

void ExportUserCall::Drained() {
  if (session_ != nullptr) session_->Drained();
}

}  // namespace firstsip::transport
