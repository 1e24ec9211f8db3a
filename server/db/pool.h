// The asynchronous database engine: a fixed set of pipelined connections driven by one
// event-loop thread (epoll over the libpq sockets). Callers hand in a named statement and a
// callback and return at once; no caller thread ever waits on PostgreSQL.
//
// Batches that clock themselves (as ioredis' auto-pipelining and postgres.js do): a connection
// carries `batches_per_connection` batches at once, and what arrives while they are out waits,
// then goes together as the next batch, so a quiet pool sends each call at once and a busy one
// sends fewer, fuller batches; nothing waits on a timer. In a batch, every write is its own
// segment [Execute Sync] and commits alone; the reads share one Sync, which PostgreSQL answers
// with one flush and one ReadyForQuery instead of one per call; and the lookups of one kind
// (Find) become one statement over the array of their keys, each caller handed its own row.
// A read that fails in a shared segment fails only itself: the reads PostgreSQL skipped after
// it, and the keys of a merged lookup that failed, are sent again (the keys alone).
//
// A statement whose deadline passes, or whose caller cancels, is answered at once; it is
// cancelled on the server when it is the one running and every caller it serves has gone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/connection.h"
#include "db/executor.h"
#include "db/lookup_statements.h"
#include "db/params.h"
#include "db/query.h"

namespace firstsip::db {

struct PoolOptions {
  std::string dsn;
  int size = 4;
  // Callers' requests in flight on one connection at once (1: one at a time, no batching).
  int pipeline_depth = 64;
  // Batches in flight on one connection at once: while they are out, the next one fills.
  int batches_per_connection = 1;
  // Prepare each statement once per connection (see Connection); false for transaction poolers.
  bool prepare_statements = true;
  // Requests waiting for a connection beyond this fail with RESOURCE_EXHAUSTED.
  int max_waiting = 10000;
  absl::Duration connect_timeout = absl::Seconds(5);
  // Reconnects back off exponentially between these bounds, with jitter.
  absl::Duration reconnect_min = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(5);
};

struct PoolStats {
  int connected = 0;   // ready connections
  int busy = 0;        // ready connections with requests in flight
  int in_flight = 0;   // requests sent and not yet answered
  int waiting = 0;     // requests waiting for room on a connection
  int64_t errors = 0;  // requests that failed in PostgreSQL or lost their connection, ever
  // Ever sent: callers' requests, the statements that carried them (a merged lookup carries
  // several), and the Syncs that closed those statements' segments.
  int64_t requests = 0;
  int64_t statements = 0;
  int64_t syncs = 0;
};

class Pool final : public Executor {
 public:
  // Starts the event loop and begins connecting; does not wait for the database.
  explicit Pool(PoolOptions options);
  // Stops the loop (see Stop).
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs `query` with `params` and calls `done` exactly once, on the pool's thread (or on the
  // calling thread when the pool is stopped), with the rows or with:
  //   UNAVAILABLE        the database cannot be reached, or the connection broke mid-call;
  //   DEADLINE_EXCEEDED  call.deadline passed (while waiting, or the server cancelled it);
  //   CANCELLED          call.cancellation fired;
  //   RESOURCE_EXHAUSTED too many requests already waiting;
  //   INTERNAL           a parameter contains a NUL byte (validate input before this);
  //   anything StatusFromResult maps the statement's own error to.
  // `done` must not block: it runs on the loop that serves every other request.
  void Execute(const Query& query, Params params, const CallOptions& call,
               ResultCallback done) override;
  // As Execute, for one key of `lookup` (see Executor::Find); INTERNAL for a key with a NUL byte.
  void Find(const Lookup& lookup, std::string key, const CallOptions& call,
            RowCallback done) override;

  // Fails every waiting and running request with UNAVAILABLE, closes the connections and
  // joins the loop thread. Idempotent.
  void Stop();

  PoolStats stats() const;

 private:
  struct Slot {
    explicit Slot(bool prepare) : connection(prepare) {}
    Connection connection;
    int registered_fd = -1;
    uint32_t registered_mask = 0;  // the events epoll watches on registered_fd
    int failures = 0;
    absl::Time next_attempt = absl::InfinitePast();
    absl::Time connect_deadline = absl::InfiniteFuture();
  };

  void Submit(Request request);
  void Run();
  void RunCanceller();
  void TakeSubmissions();
  void Dispatch();
  // The ready connection with room for another batch, least loaded first; slots_.size(): none.
  size_t PickConnection() const;
  // Takes what waits, up to the connection's room, and sends it as one batch.
  Connection::Step SendBatch(Connection& connection);
  void ExpireWaiting(absl::Time now);
  void CancelRunning(absl::Time now);
  void ConnectDue(absl::Time now);
  void HandleEvent(size_t index, uint32_t events);
  // Answers the callers of a segment whose Sync came back; what must go again goes first in
  // line. True when a write was refused as read-only.
  bool FinishSegment(Segment segment);
  void FinishStatement(Statement& statement, std::deque<Request>& again);
  // A failed request: answered, or sent again when a cancel meant for another hit it.
  void FinishWithError(Request request, absl::Status status, std::deque<Request>& again);
  void OnBroken(size_t index);
  void FailAllWaiting(const absl::Status& status);
  void UpdateWatch(size_t index);
  int TimeoutMs(absl::Time now) const;
  void Complete(Request request, absl::Status status);
  void PublishStats();
  void Wake();

  const PoolOptions options_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;

  std::mutex submit_mutex_;
  std::vector<Request> submitted_;  // guarded by submit_mutex_
  bool stopped_ = false;            // guarded by submit_mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cancel_pending_{false};
  // Set while a wake-up is on its way, so a burst of submissions costs one eventfd write.
  std::atomic<bool> wake_pending_{false};

  // Loop-thread state.
  std::vector<std::unique_ptr<Slot>> slots_;
  std::deque<Request> waiting_;
  LookupStatements lookup_statements_;
  bool unreachable_ = false;
  std::mt19937_64 jitter_{std::random_device{}()};

  // PQcancel opens a connection of its own and blocks, so it runs on a thread of its own.
  std::mutex cancel_mutex_;
  std::condition_variable cancel_ready_;
  std::deque<PGcancel*> cancels_;  // guarded by cancel_mutex_
  bool canceller_stop_ = false;    // guarded by cancel_mutex_

  std::atomic<int> connected_{0};
  std::atomic<int> busy_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> waiting_count_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> statements_{0};
  std::atomic<int64_t> syncs_{0};

  std::thread loop_;
  std::thread canceller_;
};

}  // namespace firstsip::db
