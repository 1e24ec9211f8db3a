// One ExportUser stream: everything held about a user, read by one statement (one snapshot,
// storage/lifecycle_store.h), then sent oldest briefing first in messages of at most
// `max_message_bytes`, at the pace the caller reads: a message is built only while the
// stream's queue is under half full, and Drained() builds the next ones. The rows stay in the
// statement's result until their message is built, so memory holds the export once.
#pragma once

#include <cstddef>
#include <memory>

#include "storage/lifecycle_store.h"
#include "transport/server_stream.h"

namespace firstsip::transport {

// What every ExportUser stream shares.
struct ExportServices {
  storage::LifecycleStore* store = nullptr;
  // A message holds as many whole briefings as fit in this many bytes (serialized); a briefing
  // larger than that travels in a message of its own.
  size_t max_message_bytes = size_t{1} << 20;
};

class ExportSession;

class ExportUserCall final : public ServerStreamBase {
 public:
  // Messages queued per stream; the pacing keeps the queue at half of this or less.
  static constexpr size_t kMaxQueued = 16;

  ExportUserCall(const ServedMethod& method, ServingQueue& queue, const ExportServices& services);
  ~ExportUserCall() override;

 private:
  void Start() override;
  void Closed() override;
  void Drained() override;

  const ExportServices& services_;
  std::shared_ptr<ExportSession> session_;
};

}  // namespace firstsip::transport
