// One PostgreSQL connection in libpq pipeline mode, driven without blocking: many statements
// in flight, their results matched in order. Statements go in segments, each closed by one Sync:
//   [Prepare ... Sync, for statements this connection has not prepared yet]  Execute ... Sync
// A segment is one implicit transaction. A write goes in a segment of its own, so it commits
// alone and its failure touches nobody else; reads share one, so a whole batch of them costs
// PostgreSQL one Sync (one flush, one ReadyForQuery). After a failure PostgreSQL skips the rest
// of the segment (PIPELINE_ABORTED): those statements come back marked aborted, never run.
// Owns its PGconn; a connection that fails is reset and every request on it fails.
#pragma once

#include <libpq-fe.h>

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/params.h"
#include "db/query.h"
#include "db/request.h"
#include "db/result.h"

namespace firstsip::db {

// One Execute on the wire: a caller's statement, or the keys of several callers' lookups
// merged into one.
struct Statement {
  explicit Statement(const Query& statement_query) : query(statement_query) {}

  // The parameters to bind: the caller's, or the array of the lookup's keys. A request keeps
  // its own, so it can be sent again.
  const Params& params() const {
    return requests.empty() || requests.front().lookup ? keys : requests.front().params;
  }

  Query query;
  Params keys;                    // a lookup's keys
  std::vector<Request> requests;  // who waits for it: one caller, or each key's callers
  absl::StatusOr<Result> outcome = absl::UnknownError("no result");
  bool aborted = false;  // skipped by PostgreSQL after an earlier failure in its segment
};

// Statements closed by one Sync.
struct Segment {
  std::vector<Statement> statements;
  // Statements whose results are all in; statements[finished] is the one the server runs.
  size_t finished = 0;
  // The last segment of what the pool sent this connection in one go (its batch).
  bool ends_batch = false;
  // When a cancel request last went to the server while this segment ran (InfinitePast: never).
  absl::Time cancel_sent = absl::InfinitePast();
  // The connection's own segment of Prepares, sent ahead of the first segment that needs them:
  // in a segment of their own, a Prepare that fails (a bug in our SQL) or is skipped leaves no
  // other statement's Prepare undone.
  bool prepares = false;

  Statement* running() { return finished < statements.size() ? &statements[finished] : nullptr; }
};

class Connection {
 public:
  enum class State { kDisconnected, kConnecting, kReady };
  enum class Interest { kNone, kRead, kWrite, kReadWrite };
  enum class Step { kPending, kReady, kBroken };

  // `prepare`: each statement is prepared once per connection under its name and executed by
  // name after that; false sends every statement unnamed (Parse, Bind, Execute each time), as a
  // transaction pooler needs: it hands each transaction to any server connection, where a
  // statement prepared on another one does not exist.
  explicit Connection(bool prepare = true) : prepare_(prepare) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  State state() const { return state_; }
  int socket() const { return conn_ ? PQsocket(conn_) : -1; }
  Interest interest() const { return interest_; }
  // Callers' requests sent and not yet complete.
  int depth() const { return depth_; }
  // Batches sent and not yet complete (see Segment::ends_batch).
  int batches() const { return batches_; }
  // Segments sent and not yet complete, oldest (the one the server works on) first.
  std::deque<Segment>& in_flight() { return in_flight_; }
  const std::deque<Segment>& in_flight() const { return in_flight_; }

  // kDisconnected -> kConnecting. A failure leaves the connection kDisconnected.
  absl::Status StartConnect(const std::string& dsn);
  // Advances the handshake: kPending (watch interest()), kReady (pipeline mode on) or kBroken.
  Step ContinueConnect();

  // Queues the segment's commands on the wire (libpq 15 flushes at each Sync). kBroken: the
  // connection failed (the segment is then in TakeAllInFlight with the others).
  Step Send(Segment segment);
  // Flushes what is left; call once after a batch of Sends.
  Step Flush();
  // Reads what arrived; appends the segments whose Sync came back to `completed`, in order.
  Step OnSocketReady(bool readable, bool writable, std::vector<Segment>& completed);

  // A handle to cancel whatever the server is running on this connection (from any thread);
  // nullptr if unavailable. Free with PQfreeCancel.
  PGcancel* CancelHandle() const { return conn_ ? PQgetCancel(conn_) : nullptr; }

  // Every request still in flight (after kBroken, or at shutdown), oldest first.
  std::vector<Request> TakeAllInFlight();

  const std::string& last_error() const { return last_error_; }
  // Records why the pool gives up on this connection (before it calls Reset).
  void MarkBroken(absl::string_view why) { last_error_ = std::string(why); }

  // Closes the connection (if any) and returns to kDisconnected; in-flight requests must have
  // been taken first.
  void Reset();

 private:
  Step Broken(absl::string_view what);
  Step SendStatement(const Statement& statement);
  Step Drain(std::vector<Segment>& completed);
  // What the server said to our own segment of Prepares.
  void OnPrepareResult(const Statement& prepare, ExecStatusType status, const PGresult* raw);
  void Forget(const Segment& segment);

  const bool prepare_;
  PGconn* conn_ = nullptr;
  State state_ = State::kDisconnected;
  Interest interest_ = Interest::kNone;
  absl::flat_hash_set<std::string> prepared_;  // names whose Prepare was sent on this connection
  std::deque<Segment> in_flight_;
  int depth_ = 0;
  int batches_ = 0;
  std::string last_error_;
};

}  // namespace firstsip::db
