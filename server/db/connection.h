// One PostgreSQL connection driven without blocking: connect, prepare, execute, read, each a
// step the pool's event loop advances when the socket is ready. Owns its PGconn; a connection
// that fails is marked broken and must be reset before it is used again.
#pragma once

#include <libpq-fe.h>

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "db/params.h"
#include "db/query.h"
#include "db/result.h"

namespace firstsip::db {

using ResultCallback = absl::AnyInvocable<void(absl::StatusOr<Result>) &&>;

// One statement waiting for, or holding, a connection.
struct Request {
  Query query;
  Params params;
  absl::Time deadline = absl::InfiniteFuture();
  ResultCallback done;
};

class Connection {
 public:
  enum class State { kDisconnected, kConnecting, kIdle, kBusy };
  // What the socket should be watched for.
  enum class Interest { kNone, kRead, kWrite, kReadWrite };
  // Where a step left the connection.
  enum class Step { kPending, kReady, kCompleted, kBroken };

  Connection() = default;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  State state() const { return state_; }
  int socket() const { return conn_ ? PQsocket(conn_) : -1; }
  Interest interest() const { return interest_; }

  // kDisconnected -> kConnecting. A failure leaves the connection kDisconnected.
  absl::Status StartConnect(const std::string& dsn);
  // Advances the handshake: kPending (watch interest()), kReady (now kIdle) or kBroken.
  Step ContinueConnect();

  // kIdle -> kBusy: sends the request's statement, preparing it first on this connection if
  // needed. Returns kPending, or kBroken (the request can then be taken back with TakeRequest).
  Step Begin(Request request);
  // Advances a busy connection after its socket became ready. kCompleted: the outcome is ready
  // (TakeRequest + TakeOutcome) and the connection is kIdle again.
  Step OnSocketReady(bool readable, bool writable);
  // Reads whatever arrived on an idle connection (e.g. the server closing it): kReady or kBroken.
  Step PollIdle();

  Request TakeRequest() { return std::move(request_); }
  absl::StatusOr<Result> TakeOutcome() { return std::move(outcome_); }

  // Why the connection broke, for logs and for the requests it fails. Never holds secrets:
  // libpq's connection messages name host and port, never the password.
  const std::string& last_error() const { return last_error_; }

  // Closes the connection (if any) and returns to kDisconnected.
  void Reset();

 private:
  Step Broken(absl::string_view what);
  Step Flush();
  Step SendExecute();
  Step DrainResults();

  enum class Stage { kPreparing, kExecuting };

  PGconn* conn_ = nullptr;
  State state_ = State::kDisconnected;
  Interest interest_ = Interest::kNone;
  Stage stage_ = Stage::kExecuting;
  absl::flat_hash_set<std::string> prepared_;
  Request request_;
  absl::StatusOr<Result> outcome_;
  bool saw_result_ = false;
  std::string last_error_;
};

}  // namespace firstsip::db
