#include "db/connection.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
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
}

std::vector<Request> Connection::TakeAllInFlight() {
  std::vector<Request> requests;
  for (InFlight& entry : in_flight_) requests.push_back(std::move(entry.request));
  in_flight_.clear();
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

Connection::Step Connection::Send(Request request) {
  std::string name(request.query.name);
  in_flight_.push_back(InFlight{std::move(request)});
  InFlight& entry = in_flight_.back();
  std::vector<const char*> values = entry.request.params.ValuePointers();
  if (!prepare_) {
    std::string sql(entry.request.query.sql);
    if (PQsendQueryParams(conn_, sql.c_str(), entry.request.params.size(), nullptr, values.data(),
                          nullptr, nullptr, /*resultFormat=*/0) != 1) {
      return Broken("cannot send query");
    }
    if (PQpipelineSync(conn_) != 1) return Broken("cannot send sync");
    return Step::kPending;
  }
  if (!prepared_.contains(name)) {
    std::string sql(entry.request.query.sql);
    if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) != 1) {
      return Broken("cannot send prepare");
    }
    // Counted as prepared from now on: later requests in this pipeline run after it.
    prepared_.insert(name);
    entry.prepares = true;
  }
  if (PQsendQueryPrepared(conn_, name.c_str(), entry.request.params.size(), values.data(), nullptr,
                          nullptr, /*resultFormat=*/0) != 1) {
    return Broken("cannot send query");
  }
  if (PQpipelineSync(conn_) != 1) return Broken("cannot send sync");
  return Step::kPending;
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
                                           std::vector<Completion>& completed) {
  if (readable && PQconsumeInput(conn_) != 1) return Broken("lost the server");
  if (interest_ == Interest::kReadWrite && (readable || writable)) {
    if (Flush() == Step::kBroken) return Step::kBroken;
  }
  return Drain(completed);
}

Connection::Step Connection::Drain(std::vector<Completion>& completed) {
  int nulls_in_a_row = 0;
  while (!in_flight_.empty() && PQisBusy(conn_) == 0) {
    PGresult* raw = PQgetResult(conn_);
    InFlight& head = in_flight_.front();
    if (raw == nullptr) {
      // A NULL closes one command's results; two in a row mean nothing more is ready.
      if (++nulls_in_a_row > 1) break;
      ++head.commands_finished;
      continue;
    }
    nulls_in_a_row = 0;
    Result result(raw);
    ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_SYNC) {
      completed.push_back(Completion{std::move(head.request), std::move(head.outcome)});
      in_flight_.pop_front();
      continue;
    }
    bool is_prepare = head.prepares && head.commands_finished == 0;
    if (status == PGRES_FATAL_ERROR) {
      if (head.outcome.ok() || head.outcome.status().code() == absl::StatusCode::kUnknown) {
        head.outcome = StatusFromResult(raw, head.request.query.name);
      }
      // A statement that failed to prepare must be prepared again next time.
      if (is_prepare) prepared_.erase(std::string(head.request.query.name));
    } else if (status == PGRES_PIPELINE_ABORTED) {
      if (head.outcome.ok() || head.outcome.status().code() == absl::StatusCode::kUnknown) {
        head.outcome = absl::AbortedError("statement skipped after an earlier error");
      }
    } else if (!is_prepare && (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)) {
      head.outcome = std::move(result);
    }
  }
  if (PQstatus(conn_) == CONNECTION_BAD) return Broken("lost the server");
  return Step::kPending;
}

}  // namespace firstsip::db
