#include "transport/watch_briefings_call.h"

#include <algorithm>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "logic/resume_token.h"
#include "logic/validators.h"
#include "transport/grpc_status.h"
#include "transport/request_parser.h"

namespace firstsip::transport {
namespace {

// Changes read per query. Small, because a change carries its briefing's content (up to
// 1 MiB): a read holds the whole batch in memory at once.
constexpr int kReadBatch = 64;
// One read of the feed; a stream has no deadline of its own to hand the database.
constexpr absl::Duration kReadTimeout = absl::Seconds(30);

}  // namespace

// The stream's state, shared with the feed (which calls it on the listener's thread) and with
// the reads in flight (answered on the pool's thread), so that it outlives the call object.
class WatchSession final : public push::ChangeSubscriber,
                           public std::enable_shared_from_this<WatchSession> {
 public:
  WatchSession(WatchBriefingsCall* stream, const WatchServices& services)
      : services_(services), stream_(stream) {}

  // The call arrived with `request`: subscribe, find where the feed stands, send the headers
  // and start reading. On the queue's thread.
  void Open(const v1::WatchBriefingsRequest& request) {
    user_id_ = request.user_id();
    if (absl::Status valid = logic::ValidateId(user_id_, "user_id"); !valid.ok()) {
      return End(valid);
    }
    std::optional<int64_t> resume_from;
    if (!request.resume_token().empty()) {
      absl::StatusOr<int64_t> position = logic::DecodeResumeToken(request.resume_token(), user_id_);
      if (!position.ok()) return End(position.status());
      resume_from = *position;
    }
    absl::StatusOr<uint64_t> subscription = services_.feed->Subscribe(user_id_, shared_from_this());
    if (!subscription.ok()) return End(subscription.status());
    {
      std::lock_guard<std::mutex> lock(mutex_);
      subscription_ = *subscription;
      subscribed_ = true;
    }
    if (services_.metrics != nullptr) services_.metrics->WatchOpened();
    counted_ = true;
    services_.changes->Position(
        user_id_, resume_from, ReadOptions(),
        [self = shared_from_this(), resume_from](absl::StatusOr<int64_t> current) {
          self->OnPosition(current, resume_from);
        });
  }

  void OnChange(int64_t change_seq) override {
    std::lock_guard<std::mutex> lock(mutex_);
    known_ = std::max(known_, change_seq);
    ReadLocked();
  }

  void OnFeedLost(const absl::Status& why) override {
    std::lock_guard<std::mutex> lock(mutex_);
    subscribed_ = false;
    EndLocked(why);
  }

  void Drained() {
    std::lock_guard<std::mutex> lock(mutex_);
    paused_ = false;
    ReadLocked();
  }

  // The call is over: nothing more is sent, the read in flight stops, the subscription goes.
  void Close() {
    bool unsubscribe = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stream_ = nullptr;
      unsubscribe = subscribed_;
      subscribed_ = false;
    }
    cancellation_->Cancel();
    if (unsubscribe) services_.feed->Unsubscribe(user_id_, subscription_);
    if (counted_ && services_.metrics != nullptr) services_.metrics->WatchClosed();
  }

 private:
  db::CallOptions ReadOptions() const {
    return db::CallOptions{absl::Now() + kReadTimeout, cancellation_};
  }

  void OnPosition(const absl::StatusOr<int64_t>& current, std::optional<int64_t> resume_from) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stream_ == nullptr) return;
    if (!current.ok()) return EndLocked(current.status());
    cursor_ = resume_from.value_or(*current);
    catching_up_ = resume_from.has_value();
    known_ = std::max(known_, *current);
    positioned_ = true;
    stream_->SendHeaders();
    ReadLocked();
  }

  // Starts a read when the feed is ahead of the cursor and none is running; while catching up
  // on a backlog, only once the queue has room for a whole batch.
  void ReadLocked() {
    if (stream_ == nullptr || ended_ || !positioned_ || reading_ || paused_ || known_ <= cursor_) {
      return;
    }
    if (catching_up_ && stream_->HalfFull()) {
      paused_ = true;  // Drained() resumes
      return;
    }
    reading_ = true;
    services_.changes->ChangesAfter(
        user_id_, cursor_, kReadBatch, ReadOptions(),
        [self = shared_from_this()](absl::StatusOr<std::vector<storage::BriefingChange>> changes) {
          self->OnRead(std::move(changes));
        });
  }

  void OnRead(absl::StatusOr<std::vector<storage::BriefingChange>> changes) {
    std::lock_guard<std::mutex> lock(mutex_);
    reading_ = false;
    if (stream_ == nullptr) return;
    if (!changes.ok()) {
      // The database cannot be read: the caller resumes from its last token elsewhere.
      return EndLocked(absl::UnavailableError(
          absl::StrCat("cannot read the change feed: ", changes.status().message())));
    }
    // A full batch may have more behind it: the stream is catching up on a backlog, and
    // queues only what the reader can take; the rest is read again after Drained.
    const bool full = static_cast<int>(changes->size()) == kReadBatch;
    const bool paced = catching_up_ || full;
    bool truncated = false;
    for (storage::BriefingChange& change : *changes) {
      if (change.change_seq <= cursor_) continue;
      if (paced && stream_->HalfFull()) {
        truncated = true;
        break;
      }
      v1::WatchBriefingsResponse message;
      *message.mutable_briefing() = std::move(change.briefing);
      message.set_resume_token(logic::EncodeResumeToken(user_id_, change.change_seq));
      if (!stream_->Send(message)) {  // ended (too slow, or gone)
        ended_ = true;
        return;
      }
      cursor_ = change.change_seq;
      if (services_.metrics != nullptr) services_.metrics->WatchEventSent();
    }
    catching_up_ = full || truncated;
    if (catching_up_) known_ = std::max(known_, cursor_ + 1);
    ReadLocked();
  }

  void End(const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    EndLocked(status);
  }
  void EndLocked(const absl::Status& status) {
    ended_ = true;
    if (stream_ != nullptr) stream_->End(ToGrpcStatus(status));
  }

  const WatchServices& services_;
  const std::shared_ptr<db::Cancellation> cancellation_ = std::make_shared<db::Cancellation>();
  int64_t user_id_ = 0;
  uint64_t subscription_ = 0;
  bool counted_ = false;  // in the open-streams gauge (Open and Close: the queue's thread)

  std::mutex mutex_;
  WatchBriefingsCall* stream_;  // guarded by mutex_; null once the call is over
  bool subscribed_ = false;     // guarded by mutex_
  bool ended_ = false;          // guarded by mutex_; nothing more is sent (or read)
  bool positioned_ = false;     // guarded by mutex_; cursor_ is set
  bool reading_ = false;        // guarded by mutex_
  bool paused_ = false;         // guarded by mutex_
  // guarded by mutex_: replaying a backlog (resumed from a token, or the last read came back
  // full), paced by the reader; otherwise live, and a reader that falls behind overflows.
  bool catching_up_ = false;
  int64_t cursor_ = 0;  // guarded by mutex_; the last change queued
  int64_t known_ = 0;   // guarded by mutex_; the furthest the feed is known to be
};

WatchBriefingsCall::WatchBriefingsCall(const ServedMethod& method, ServingQueue& queue,
                                       const WatchServices& services)
    : ServerStreamBase(method, queue, kMaxQueued, kMaxQueuedBytes), services_(services) {}

WatchBriefingsCall::~WatchBriefingsCall() = default;

void WatchBriefingsCall::Start() {
  v1::WatchBriefingsRequest request;
  if (absl::Status parsed = ParseRequest(request_bytes(), request); !parsed.ok()) {
    return End(ToGrpcStatus(parsed));
  }
  session_ = std::make_shared<WatchSession>(this, services_);
  session_->Open(request);
}

void WatchBriefingsCall::Closed() {
  if (session_ != nullptr) session_->Close();
}

void WatchBriefingsCall::Drained() {
  if (session_ != nullptr) session_->Drained();
}

void WatchBriefingsCall::Finished(grpc::StatusCode code) {
  if (services_.metrics != nullptr) {
    services_.metrics->WatchEnded(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
  }
}

}  // namespace firstsip::transport
