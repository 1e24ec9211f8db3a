#include "db/connection.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "db/sql_error.h"

namespace firstsip::db {
namespace {

std::string ConnectionMessage(PGconn* conn) {
  if (conn == nullptr) return "no connection";
  return std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
}

}  // namespace

Connection::~Connection() { Reset(); }

void Connection::Reset() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = nullptr;
  state_ = State::kDisconnected;
  interest_ = Interest::kNone;
  prepared_.clear();
  in_flight_.clear();
  depth_ = 0;
  batches_ = 0;
}

std::vector<Request> Connection::TakeAllInFlight() {
  std::vector<Request> requests;
  for (Segment& segment : in_flight_) {
    for (Statement& statement : segment.statements) {
      for (Request& request : statement.requests) requests.push_back(std::move(request));
    }
  }
  in_flight_.clear();
  depth_ = 0;
  batches_ = 0;
  return requests;
}

absl::Status Connection::StartConnect(const std::string& dsn) {
  Reset();
  // expand_dbname lets `dbname` carry a whole URL or key=value string; the fallback name
  // shows who we are in pg_stat_activity unless the DSN says otherwise.
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {dsn.c_str(), "firstsip-server", nullptr};
  conn_ = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr) return ConnectionLost("out of memory starting a connection");
  if (PQstatus(conn_) == CONNECTION_BAD) {
    last_error_ = ConnectionMessage(conn_);
    Reset();
    return ConnectionLost(last_error_);
  }
  state_ = State::kConnecting;
  // libpq's protocol: before the first PQconnectPoll, act as if it had asked to write.
  interest_ = Interest::kWrite;
  return absl::OkStatus();
}

Connection::Step Connection::ContinueConnect() {
  switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_READING:
      interest_ = Interest::kRead;
      return Step::kPending;
    case PGRES_POLLING_WRITING:
      interest_ = Interest::kWrite;
      return Step::kPending;
    case PGRES_POLLING_OK:
      if (PQsetnonblocking(conn_, 1) != 0) return Broken("cannot enter nonblocking mode");
      if (PQenterPipelineMode(conn_) != 1) return Broken("cannot enter pipeline mode");
      state_ = State::kReady;
      interest_ = Interest::kRead;
      return Step::kReady;
    default:
      return Broken("connect failed");
  }
}

Connection::Step Connection::Broken(absl::string_view what) {
  last_error_ = absl::StrCat(what, ": ", ConnectionMessage(conn_));
  return Step::kBroken;
}

Connection::Step Connection::Send(Segment segment) {
  // Both segments are in flight before anything goes out, so a failure midway leaves every
  // request where TakeAllInFlight finds it.
  Segment prepares;
  prepares.prepares = true;
  if (prepare_) {
    for (const Statement& statement : segment.statements) {
      // Counted as prepared from now on: later statements in this pipeline run after it.
      if (prepared_.insert(std::string(statement.query.name)).second) {
        prepares.statements.emplace_back(statement.query);
      }
    }
  }
  const bool prepare_first = !prepares.statements.empty();
  if (prepare_first) in_flight_.push_back(std::move(prepares));
  for (const Statement& statement : segment.statements) {
    depth_ += static_cast<int>(statement.requests.size());
  }
  batches_ += segment.ends_batch;
  in_flight_.push_back(std::move(segment));
  if (prepare_first) {
    for (const Statement& prepare : in_flight_[in_flight_.size() - 2].statements) {
      if (PQsendPrepare(conn_, std::string(prepare.query.name).c_str(),
                        std::string(prepare.query.sql).c_str(), 0, nullptr) != 1) {
        return Broken("cannot send prepare");
      }
    }
    if (PQpipelineSync(conn_) != 1) return Broken("cannot send sync");
  }
  for (const Statement& statement : in_flight_.back().statements) {
    if (SendStatement(statement) == Step::kBroken) return Step::kBroken;
  }
  if (PQpipelineSync(conn_) != 1) return Broken("cannot send sync");
  return Step::kPending;
}

Connection::Step Connection::SendStatement(const Statement& statement) {
  const Params& params = statement.params();
  std::vector<const char*> values = params.ValuePointers();
  int sent = prepare_ ? PQsendQueryPrepared(conn_, std::string(statement.query.name).c_str(),
                                            params.size(), values.data(), nullptr, nullptr,
                                            /*resultFormat=*/0)
                      : PQsendQueryParams(conn_, std::string(statement.query.sql).c_str(),
                                          params.size(), nullptr, values.data(), nullptr, nullptr,
                                          /*resultFormat=*/0);
  return sent == 1 ? Step::kPending : Broken("cannot send query");
}

Connection::Step Connection::Flush() {
  int flushed = PQflush(conn_);
  if (flushed < 0) return Broken("cannot send to the server");
  // While output is pending, libpq wants both directions: the server may be waiting for us
  // to read before it accepts more.
  interest_ = flushed == 1 ? Interest::kReadWrite : Interest::kRead;
  return Step::kPending;
}

Connection::Step Connection::OnSocketReady(bool readable, bool writable,
                                           std::vector<Segment>& completed) {
  if (readable && PQconsumeInput(conn_) != 1) return Broken("lost the server");
  if (interest_ == Interest::kReadWrite && (readable || writable)) {
    if (Flush() == Step::kBroken) return Step::kBroken;
  }
  return Drain(completed);
}

void Connection::Forget(const Segment& segment) {
  for (const Statement& statement : segment.statements) {
    depth_ -= static_cast<int>(statement.requests.size());
  }
  batches_ -= segment.ends_batch;
}

void Connection::OnPrepareResult(const Statement& prepare, ExecStatusType status,
                                 const PGresult* raw) {
  if (status == PGRES_COMMAND_OK) return;
  // Not prepared after all: the next statement of this name prepares it again. One already sent
  // without its Prepare fails ("does not exist"); the cause is logged here, once.
  prepared_.erase(std::string(prepare.query.name));
  if (status == PGRES_FATAL_ERROR) {
    LogError(absl::StrCat("cannot prepare ", prepare.query.name, ": ",
                          StatusFromResult(raw, prepare.query.name).message()));
  }
}

Connection::Step Connection::Drain(std::vector<Segment>& completed) {
  int nulls_in_a_row = 0;
  while (!in_flight_.empty() && PQisBusy(conn_) == 0) {
    PGresult* raw = PQgetResult(conn_);
    Segment& head = in_flight_.front();
    Statement* statement = head.running();
    if (raw == nullptr) {
      // A NULL closes one command's results; two in a row mean nothing more is ready.
      if (++nulls_in_a_row > 1) break;
      if (statement != nullptr) ++head.finished;
      continue;
    }
    nulls_in_a_row = 0;
    Result result(raw);
    ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_SYNC) {
      if (!head.prepares) {
        Forget(head);
        completed.push_back(std::move(head));
      }
      in_flight_.pop_front();
      continue;
    }
    if (statement == nullptr) continue;  // nothing of ours: a stray result before the Sync
    if (head.prepares) {
      OnPrepareResult(*statement, status, raw);
      continue;
    }
    bool unanswered =
        statement->outcome.ok() || statement->outcome.status().code() == absl::StatusCode::kUnknown;
    if (status == PGRES_FATAL_ERROR) {
      if (unanswered) statement->outcome = StatusFromResult(raw, statement->query.name);
    } else if (status == PGRES_PIPELINE_ABORTED) {
      if (unanswered) {
        statement->aborted = true;
        statement->outcome = absl::AbortedError("statement skipped after an earlier error");
      }
    } else if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
      statement->outcome = std::move(result);
    }
  }
  if (PQstatus(conn_) == CONNECTION_BAD) return Broken("lost the server");
  return Step::kPending;
}

}  // namespace firstsip::db
