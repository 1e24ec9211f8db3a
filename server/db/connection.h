// One PostgreSQL connection in libpq pipeline mode, driven without blocking: many statements
// in flight, their results matched in order. Each request is sent as
//   [Prepare, if this connection has not prepared the statement yet] Execute Sync
// so every request is its own implicit transaction, and a failing statement fails only its own
// request (the Sync ends the aborted stretch). Owns its PGconn; a connection that fails is
// reset and every request in flight on it fails with UNAVAILABLE.
#pragma once

#include <libpq-fe.h>

#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "db/params.h"
#include "db/query.h"
#include "db/result.h"

namespace firstsip::db {

// One statement waiting for, or on, a connection.
struct Request {
  Query query;
  Params params;
  CallOptions call;
  ResultCallback done;
  // When a cancel request last went to the server while this one ran (InfinitePast: never).
  absl::Time cancel_sent = absl::InfinitePast();
  int attempts = 0;
};

// A request whose results are all in.
struct Completion {
  Request request;
  absl::StatusOr<Result> outcome;
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
  // Requests sent and not yet complete.
  size_t depth() const { return in_flight_.size(); }
  // The request the server is working on (the oldest in flight), or nullptr.
  Request* head() { return in_flight_.empty() ? nullptr : &in_flight_.front().request; }
  const Request* head() const { return in_flight_.empty() ? nullptr : &in_flight_.front().request; }

  // Calls f(Request&, bool is_head) for each request in flight, oldest first.
  template <typename F>
  void ForEachInFlight(F f) {
    bool first = true;
    for (InFlight& entry : in_flight_) {
      f(entry.request, first);
      first = false;
    }
  }

  // kDisconnected -> kConnecting. A failure leaves the connection kDisconnected.
  absl::Status StartConnect(const std::string& dsn);
  // Advances the handshake: kPending (watch interest()), kReady (pipeline mode on) or kBroken.
  Step ContinueConnect();

  // Queues the request's commands on the wire. kBroken: the connection failed (the request is
  // then in TakeAllInFlight with the others).
  Step Send(Request request);
  // Flushes what Send queued; call once after a batch of Sends.
  Step Flush();
  // Reads what arrived; appends finished requests to `completed` in order.
  Step OnSocketReady(bool readable, bool writable, std::vector<Completion>& completed);

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
  struct InFlight {
    Request request;
    absl::StatusOr<Result> outcome = absl::UnknownError("no result");
    bool prepares = false;      // the first command is this statement's Prepare
    int commands_finished = 0;  // commands whose closing NULL has arrived
  };

  Step Broken(absl::string_view what);
  Step Drain(std::vector<Completion>& completed);

  const bool prepare_;
  PGconn* conn_ = nullptr;
  State state_ = State::kDisconnected;
  Interest interest_ = Interest::kNone;
  absl::flat_hash_set<std::string> prepared_;  // names whose Prepare was sent on this connection
  std::deque<InFlight> in_flight_;
  std::string last_error_;
};

}  // namespace firstsip::db
