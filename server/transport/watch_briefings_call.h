// One WatchBriefings stream: subscribe to the user's feed, then replay from the resume token,
// then live changes, with no gap and no repeat across the seam.
//
// Everything the stream sends is read from the database (ChangeStore::ChangesAfter): a
// notification only says that the user's feed moved. The stream keeps a cursor, the
// change_seq of the last change it queued, and reads "after the cursor" whenever the feed is
// known to be ahead of it. Subscribing before the first read means a change committed at any
// moment is either in that read or announced after it; the cursor drops what both deliver.
//
// Flow control: at most one read is in flight, and the queue is bounded (kMaxQueued messages,
// kMaxQueuedBytes). Catching up on a backlog (a read came back full) waits for the queue to
// drain below half before the next read, so replaying a long history never overflows it; a
// reader that falls behind the live changes lets it fill up and is ended with
// RESOURCE_EXHAUSTED, to resume from its last token.
#pragma once

#include <cstdint>
#include <memory>

#include "firstsip/v1/briefing.pb.h"
#include "push/change_feed.h"
#include "storage/change_store.h"
#include "transport/metrics.h"
#include "transport/server_stream.h"

namespace firstsip::transport {

// What every WatchBriefings stream of the server shares.
struct WatchServices {
  push::ChangeFeed* feed = nullptr;
  storage::ChangeStore* changes = nullptr;
  Metrics* metrics = nullptr;  // may be null
};

class WatchSession;

class WatchBriefingsCall final : public ServerStreamBase {
 public:
  // Messages queued per stream before a reader counts as too slow.
  static constexpr size_t kMaxQueued = 1024;
  static constexpr size_t kMaxQueuedBytes = size_t{8} << 20;

  WatchBriefingsCall(const ServedMethod& method, ServingQueue& queue,
                     const WatchServices& services);
  ~WatchBriefingsCall() override;

 private:
  void Start() override;
  void Closed() override;
  void Drained() override;
  void Finished(grpc::StatusCode code) override;

  const WatchServices& services_;
  std::shared_ptr<WatchSession> session_;
};

}  // namespace firstsip::transport
