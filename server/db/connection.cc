#include "db/connection.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
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
      state_ = State::kIdle;
      interest_ = Interest::kRead;
      return Step::kReady;
    default:
      return Broken("connect failed");
  }
}

Connection::Step Connection::Broken(absl::string_view what) {
  last_error_ = absl::StrCat(what, ": ", ConnectionMessage(conn_));
  Reset();
  return Step::kBroken;
}

Connection::Step Connection::Begin(Request request) {
  request_ = std::move(request);
  outcome_ = absl::UnknownError("no result");
  saw_result_ = false;
  state_ = State::kBusy;
  std::string name(request_.query.name);
  if (prepared_.contains(name)) return SendExecute();
  std::string sql(request_.query.sql);
  if (PQsendPrepare(conn_, name.c_str(), sql.c_str(), 0, nullptr) != 1) {
    return Broken("cannot send prepare");
  }
  stage_ = Stage::kPreparing;
  return Flush();
}

Connection::Step Connection::SendExecute() {
  std::string name(request_.query.name);
  std::vector<const char*> values = request_.params.ValuePointers();
  if (PQsendQueryPrepared(conn_, name.c_str(), request_.params.size(), values.data(), nullptr,
                          nullptr, /*resultFormat=*/0) != 1) {
    return Broken("cannot send query");
  }
  stage_ = Stage::kExecuting;
  return Flush();
}

Connection::Step Connection::Flush() {
  int flushed = PQflush(conn_);
  if (flushed < 0) return Broken("cannot send to the server");
  // While output is pending, libpq wants both directions: the server may be waiting for us
  // to read before it accepts more.
  interest_ = flushed == 1 ? Interest::kReadWrite : Interest::kRead;
  return Step::kPending;
}

Connection::Step Connection::OnSocketReady(bool readable, bool writable) {
  if (readable && PQconsumeInput(conn_) != 1) return Broken("lost the server");
  if (interest_ == Interest::kReadWrite && (readable || writable)) {
    Step step = Flush();
    if (step != Step::kPending || interest_ == Interest::kReadWrite) return step;
  }
  return DrainResults();
}

Connection::Step Connection::DrainResults() {
  while (PQisBusy(conn_) == 0) {
    PGresult* raw = PQgetResult(conn_);
    if (raw != nullptr) {
      Result result(raw);
      ExecStatusType status = PQresultStatus(raw);
      bool ok = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
      if (!saw_result_ || outcome_.ok()) {
        // Keep the first error, else the last result.
        outcome_ = ok ? absl::StatusOr<Result>(std::move(result))
                      : absl::StatusOr<Result>(StatusFromResult(raw, request_.query.name));
      }
      saw_result_ = true;
      if (PQstatus(conn_) == CONNECTION_BAD) return Broken("lost the server");
      continue;
    }
    // A NULL result ends the command.
    if (PQstatus(conn_) == CONNECTION_BAD) return Broken("lost the server");
    if (stage_ == Stage::kPreparing) {
      if (!outcome_.ok() && SqlStateOf(outcome_.status()) != "42P05") {
        state_ = State::kIdle;
        interest_ = Interest::kRead;
        return Step::kCompleted;
      }
      prepared_.insert(std::string(request_.query.name));
      saw_result_ = false;
      outcome_ = absl::UnknownError("no result");
      Step step = SendExecute();
      if (step != Step::kPending) return step;
      continue;
    }
    if (!outcome_.ok() && IsConnectionFatal(SqlStateOf(outcome_.status()))) {
      return Broken("server ended the session");
    }
    state_ = State::kIdle;
    interest_ = Interest::kRead;
    return Step::kCompleted;
  }
  return Step::kPending;
}

Connection::Step Connection::PollIdle() {
  if (PQconsumeInput(conn_) != 1 || PQstatus(conn_) == CONNECTION_BAD) {
    return Broken("lost the server");
  }
  // Idle connections receive nothing we asked for; drop notifications and stray results.
  while (PGnotify* notify = PQnotifies(conn_)) PQfreemem(notify);
  while (PQisBusy(conn_) == 0) {
    PGresult* stray = PQgetResult(conn_);
    if (stray == nullptr) break;
    PQclear(stray);
  }
  if (PQstatus(conn_) == CONNECTION_BAD) return Broken("lost the server");
  return Step::kReady;
}

}  // namespace firstsip::db
