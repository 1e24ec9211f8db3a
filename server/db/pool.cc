#include "db/pool.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "db/sql_error.h"

namespace firstsip::db {
namespace {

constexpr uint64_t kWakeToken = ~uint64_t{0};
constexpr int kMaxEvents = 64;
constexpr int kMaxAttempts = 2;
// A cancel that reaches the server between two statements is ignored there, so a cancelled
// statement still running after this long gets another one.
constexpr absl::Duration kCancelRetry = absl::Milliseconds(100);

uint32_t EpollMask(Connection::Interest interest) {
  switch (interest) {
    case Connection::Interest::kRead:
      return EPOLLIN;
    case Connection::Interest::kWrite:
      return EPOLLOUT;
    case Connection::Interest::kReadWrite:
      return EPOLLIN | EPOLLOUT;
    case Connection::Interest::kNone:
      return 0;
  }
  return 0;
}

bool CancelledByUs(const absl::Status& status) { return SqlStateOf(status) == "57014"; }

// A write refused because the server is read-only (25006): the connection reached a standby, or
// its server was demoted in a failover. Nothing was written; the connection is of no use for
// writes any more.
bool RefusedAsReadOnly(const absl::StatusOr<Result>& outcome) {
  return !outcome.ok() && SqlStateOf(outcome.status()) == "25006";
}

}  // namespace

Pool::Pool(PoolOptions options) : options_(std::move(options)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.u64 = kWakeToken;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  for (int i = 0; i < std::max(1, options_.size); ++i)
    slots_.push_back(std::make_unique<Slot>(options_.prepare_statements));
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-db-loop");
    Run();
  });
  canceller_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-db-cancel");
    RunCanceller();
  });
}

Pool::~Pool() {
  Stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void Pool::Wake() {
  if (wake_pending_.exchange(true)) return;  // the loop will look anyway
  uint64_t one = 1;
  // A full eventfd counter still wakes the loop, so a failed write needs no retry.
  [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof(one));
}

void Pool::Execute(const Query& query, Params params, const CallOptions& call,
                   ResultCallback done) {
  if (params.contains_nul()) {
    std::move(done)(
        absl::InternalError(absl::StrCat("parameter of ", query.name, " contains a NUL byte")));
    return;
  }
  Submit(Request::ForStatement(query, std::move(params), call, std::move(done)));
}

void Pool::Find(const Lookup& lookup, std::string key, const CallOptions& call, RowCallback done) {
  if (key.find('\0') != std::string::npos) {
    std::move(done)(
        absl::InternalError(absl::StrCat("key of ", lookup.name, " contains a NUL byte")));
    return;
  }
  Submit(Request::ForLookup(lookup, std::move(key), call, std::move(done)));
}

void Pool::Submit(Request request) {
  if (request.call.cancellation) {
    request.call.cancellation->set_notify([this] {
      cancel_pending_.store(true);
      Wake();
    });
  }
  {
    std::lock_guard<std::mutex> lock(submit_mutex_);
    if (!stopped_) {
      submitted_.push_back(std::move(request));
      Wake();
      return;
    }
  }
  request.Fail(ConnectionLost("the service is shutting down"));
}

void Pool::Stop() {
  {
    std::lock_guard<std::mutex> lock(submit_mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);
  Wake();
  if (loop_.joinable()) loop_.join();
  {
    std::lock_guard<std::mutex> lock(cancel_mutex_);
    canceller_stop_ = true;
  }
  cancel_ready_.notify_all();
  if (canceller_.joinable()) canceller_.join();
}

PoolStats Pool::stats() const {
  return PoolStats{connected_.load(), busy_.load(),     in_flight_.load(),  waiting_count_.load(),
                   errors_.load(),    requests_.load(), statements_.load(), syncs_.load()};
}

void Pool::RunCanceller() {
  std::unique_lock<std::mutex> lock(cancel_mutex_);
  while (true) {
    cancel_ready_.wait(lock, [this] { return canceller_stop_ || !cancels_.empty(); });
    if (cancels_.empty()) return;  // stopping, nothing left
    PGcancel* cancel = cancels_.front();
    cancels_.pop_front();
    lock.unlock();
    char error[256];
    PQcancel(cancel, error, sizeof(error));
    PQfreeCancel(cancel);
    lock.lock();
  }
}

void Pool::Run() {
  epoll_event events[kMaxEvents];
  while (!stopping_.load()) {
    absl::Time now = absl::Now();
    ConnectDue(now);
    int ready = epoll_wait(epoll_fd_, events, kMaxEvents, TimeoutMs(now));
    if (ready < 0 && errno != EINTR) {
      LogError(absl::StrCat("epoll_wait failed: ", std::strerror(errno)));
      break;
    }
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u64 == kWakeToken) {
        uint64_t count;
        [[maybe_unused]] ssize_t got = read(wake_fd_, &count, sizeof(count));
        continue;
      }
      HandleEvent(static_cast<size_t>(events[i].data.u64), events[i].events);
    }
    TakeSubmissions();
    now = absl::Now();
    ExpireWaiting(now);
    CancelRunning(now);
    Dispatch();
    PublishStats();
  }
  // Shutting down: nothing new is accepted (stopped_ is set), so fail what is left.
  TakeSubmissions();
  absl::Status gone = ConnectionLost("the service is shutting down");
  FailAllWaiting(gone);
  for (auto& slot : slots_) {
    for (Request& request : slot->connection.TakeAllInFlight()) Complete(std::move(request), gone);
    slot->connection.Reset();
  }
  PublishStats();
}

void Pool::TakeSubmissions() {
  // Cleared before taking the batch: anything submitted after this wakes the loop again.
  wake_pending_.store(false);
  std::vector<Request> batch;
  {
    std::lock_guard<std::mutex> lock(submit_mutex_);
    batch.swap(submitted_);
  }
  for (Request& request : batch) {
    if (unreachable_) {
      Complete(std::move(request), ConnectionLost("cannot connect to the database"));
    } else if (static_cast<int>(waiting_.size()) >= options_.max_waiting) {
      Complete(std::move(request),
               absl::ResourceExhaustedError("too many database requests waiting"));
    } else {
      waiting_.push_back(std::move(request));
    }
  }
}

void Pool::Dispatch() {
  std::vector<bool> sent(slots_.size(), false);
  while (!waiting_.empty()) {
    size_t best = PickConnection();
    if (best == slots_.size()) break;
    if (SendBatch(slots_[best]->connection) == Connection::Step::kBroken) {
      OnBroken(best);
      continue;
    }
    sent[best] = true;
  }
  // One flush per connection for whatever its Syncs left unsent.
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (!sent[i]) continue;
    if (slots_[i]->connection.Flush() == Connection::Step::kBroken) {
      OnBroken(i);
    } else {
      UpdateWatch(i);
    }
  }
}

size_t Pool::PickConnection() const {
  size_t best = slots_.size();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Connection& connection = slots_[i]->connection;
    if (connection.state() != Connection::State::kReady ||
        connection.batches() >= options_.batches_per_connection ||
        connection.depth() >= options_.pipeline_depth) {
      continue;
    }
    if (best == slots_.size() || connection.depth() < slots_[best]->connection.depth()) best = i;
  }
  return best;
}

Connection::Step Pool::SendBatch(Connection& connection) {
  std::vector<Segment> writes;
  Segment reads;
  // Where each kind of lookup in this batch has its merged statement in `reads`.
  absl::flat_hash_map<absl::string_view, size_t> merged;
  int room = std::max(1, options_.pipeline_depth - connection.depth());
  int64_t requests = 0;
  for (; room > 0 && !waiting_.empty(); --room) {
    Request request = std::move(waiting_.front());
    waiting_.pop_front();
    ++request.attempts;
    ++requests;
    if (request.query.access == Access::kWrite) {
      Segment& own = writes.emplace_back();
      own.statements.emplace_back(request.query);
      own.statements.back().requests.push_back(std::move(request));
      continue;
    }
    if (request.lookup && !request.alone) {
      auto [at, added] = merged.try_emplace(request.query.name, reads.statements.size());
      if (added) reads.statements.emplace_back(request.query);
      reads.statements[at->second].requests.push_back(std::move(request));
      continue;
    }
    reads.statements.emplace_back(request.query);
    reads.statements.back().requests.push_back(std::move(request));
  }
  // A lookup goes with its callers' keys, each once (db/lookup_statements.h).
  for (Statement& statement : reads.statements) {
    if (!statement.requests.front().lookup) continue;
    std::vector<absl::string_view> keys;
    keys.reserve(statement.requests.size());
    for (const Request& request : statement.requests) keys.push_back(request.key);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::tie(statement.query, statement.keys) = lookup_statements_.For(statement.query, keys);
  }
  if (!reads.statements.empty()) writes.push_back(std::move(reads));
  writes.back().ends_batch = true;
  requests_.fetch_add(requests, std::memory_order_relaxed);
  syncs_.fetch_add(static_cast<int64_t>(writes.size()), std::memory_order_relaxed);
  for (size_t i = 0; i < writes.size(); ++i) {
    statements_.fetch_add(static_cast<int64_t>(writes[i].statements.size()),
                          std::memory_order_relaxed);
    if (connection.Send(std::move(writes[i])) == Connection::Step::kBroken) {
      // What never reached the connection waits for another, first in line, in order (what did
      // reach it fails with the connection).
      for (size_t k = writes.size(); k-- > i + 1;) {
        for (auto s = writes[k].statements.rbegin(); s != writes[k].statements.rend(); ++s) {
          for (auto r = s->requests.rbegin(); r != s->requests.rend(); ++r) {
            --r->attempts;
            waiting_.push_front(std::move(*r));
          }
        }
      }
      return Connection::Step::kBroken;
    }
  }
  return Connection::Step::kPending;
}

void Pool::ExpireWaiting(absl::Time now) {
  bool check_cancelled = cancel_pending_.load();
  auto leaving = [&](const Request& request) {
    return request.expired(now) || (check_cancelled && request.cancelled());
  };
  // This runs on every loop turn: rebuild the queue only when someone actually leaves it.
  if (std::none_of(waiting_.begin(), waiting_.end(), leaving)) return;
  std::deque<Request> kept;
  for (Request& request : waiting_) {
    if (!leaving(request)) {
      kept.push_back(std::move(request));
    } else if (request.expired(now)) {
      Complete(std::move(request),
               absl::DeadlineExceededError("deadline passed while waiting for the database"));
    } else {
      Complete(std::move(request), absl::CancelledError("the caller cancelled"));
    }
  }
  waiting_.swap(kept);
}

void Pool::CancelRunning(absl::Time now) {
  cancel_pending_.store(false);
  for (auto& slot : slots_) {
    Connection& connection = slot->connection;
    for (Segment& segment : connection.in_flight()) {
      for (Statement& statement : segment.statements) {
        for (Request& request : statement.requests) {
          if (request.answered()) continue;
          bool expired = request.expired(now);
          if (!expired && !request.cancelled()) continue;
          // The caller hears now; the statement's result, when it comes, is dropped for it.
          // Nothing can be taken back out of a pipeline, so a statement behind others still
          // runs (a write may still commit, as with any deadline error).
          request.Fail(
              expired ? absl::DeadlineExceededError("deadline passed; the statement was cancelled")
                      : absl::CancelledError("the caller cancelled; the statement was cancelled"));
        }
      }
    }
    // Only the statement the server runs can be stopped, and only when nobody it serves is left:
    // a merged lookup goes on for the callers still waiting. If it finished meanwhile, the next
    // statement may be hit instead: FinishWithError notices that and runs the innocent again.
    if (connection.in_flight().empty()) continue;
    Segment& head = connection.in_flight().front();
    Statement* running = head.running();
    if (running == nullptr || running->requests.empty() ||
        !std::all_of(running->requests.begin(), running->requests.end(),
                     [](const Request& request) { return request.answered(); }) ||
        now - head.cancel_sent < kCancelRetry) {
      continue;
    }
    if (PGcancel* cancel = connection.CancelHandle()) {
      head.cancel_sent = now;
      {
        std::lock_guard<std::mutex> lock(cancel_mutex_);
        cancels_.push_back(cancel);
      }
      cancel_ready_.notify_one();
    }
  }
}

void Pool::ConnectDue(absl::Time now) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    Connection& connection = slot.connection;
    if (connection.state() == Connection::State::kConnecting && now >= slot.connect_deadline) {
      LogWarning(absl::StrCat("database connection ", i, ": connect timed out"));
      OnBroken(i);
      continue;
    }
    if (connection.state() != Connection::State::kDisconnected || now < slot.next_attempt) continue;
    if (absl::Status started = connection.StartConnect(options_.dsn); !started.ok()) {
      OnBroken(i);
      continue;
    }
    slot.connect_deadline = now + options_.connect_timeout;
    UpdateWatch(i);
  }
}

void Pool::HandleEvent(size_t index, uint32_t events) {
  Slot& slot = *slots_[index];
  Connection& connection = slot.connection;
  bool readable = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0;
  bool writable = (events & EPOLLOUT) != 0;
  Connection::Step step = Connection::Step::kPending;
  if (connection.state() == Connection::State::kConnecting) {
    step = connection.ContinueConnect();
    if (step == Connection::Step::kReady) {
      if (slot.failures > 0) LogInfo(absl::StrCat("database connection ", index, " restored"));
      slot.failures = 0;
      unreachable_ = false;
    }
  } else if (connection.state() == Connection::State::kReady) {
    std::vector<Segment> completed;
    step = connection.OnSocketReady(readable, writable, completed);
    bool read_only = false;
    for (Segment& segment : completed) read_only |= FinishSegment(std::move(segment));
    if (read_only && step != Connection::Step::kBroken) {
      // Dropped like a broken connection, so it reconnects with backoff; with a multi-host DSN
      // and target_session_attrs=read-write, libpq then finds whichever server is the primary.
      connection.MarkBroken("the server is read-only (a standby, or demoted by a failover)");
      step = Connection::Step::kBroken;
    }
  } else {
    return;
  }
  if (step == Connection::Step::kBroken) {
    OnBroken(index);
    return;
  }
  UpdateWatch(index);
}

bool Pool::FinishSegment(Segment segment) {
  bool read_only = false;
  std::deque<Request> again;
  for (Statement& statement : segment.statements) {
    read_only |= RefusedAsReadOnly(statement.outcome);
    FinishStatement(statement, again);
  }
  // First in line, in the order they came.
  for (auto it = again.rbegin(); it != again.rend(); ++it) waiting_.push_front(std::move(*it));
  return read_only;
}

void Pool::FinishStatement(Statement& statement, std::deque<Request>& again) {
  if (statement.aborted) {
    // Never ran: an earlier statement of its segment failed. Reads only (a write is alone in
    // its segment), so sending them again is safe, and it does not count as an attempt.
    for (Request& request : statement.requests) {
      if (request.answered()) continue;
      --request.attempts;
      again.push_back(std::move(request));
    }
    return;
  }
  if (!statement.outcome.ok()) {
    absl::Status status = statement.outcome.status();
    bool several_keys =
        statement.requests.size() > 1 &&
        std::any_of(statement.requests.begin(), statement.requests.end(),
                    [&](const Request& r) { return r.key != statement.requests.front().key; });
    if (several_keys && !CancelledByUs(status) && status.code() != absl::StatusCode::kUnavailable) {
      // One key may be what the database refused: each goes again alone, to fail only itself.
      for (Request& request : statement.requests) {
        if (request.answered()) continue;
        --request.attempts;
        request.alone = true;
        again.push_back(std::move(request));
      }
      return;
    }
    for (Request& request : statement.requests) {
      FinishWithError(std::move(request), status, again);
    }
    return;
  }
  if (!statement.requests.front().lookup) {
    statement.requests.front().Answer(std::move(statement.outcome));
    return;
  }
  // Each caller's row, by the key in the first column.
  auto rows = std::make_shared<const Result>(*std::move(statement.outcome));
  absl::flat_hash_map<absl::string_view, int> by_key;
  by_key.reserve(static_cast<size_t>(rows->rows()));
  for (int row = 0; row < rows->rows(); ++row) by_key.emplace(rows->Text(row, 0), row);
  for (Request& request : statement.requests) {
    auto found = by_key.find(request.key);
    request.AnswerRow(LookupRow{rows, found == by_key.end() ? -1 : found->second});
  }
}

void Pool::FinishWithError(Request request, absl::Status status, std::deque<Request>& again) {
  if (request.answered()) return;  // already answered (deadline or cancellation)
  if (CancelledByUs(status)) {
    if (request.expired(absl::Now())) {
      status = absl::DeadlineExceededError("deadline passed; the statement was cancelled");
    } else if (request.cancelled()) {
      status = absl::CancelledError("the caller cancelled; the statement was cancelled");
    } else if (request.attempts < kMaxAttempts) {
      // Hit by a cancel meant for the statement before it: nothing of it was kept, so run it
      // again, first in line.
      again.push_back(std::move(request));
      return;
    }
  }
  Complete(std::move(request), std::move(status));
}

void Pool::OnBroken(size_t index) {
  Slot& slot = *slots_[index];
  std::string error = slot.connection.last_error();
  for (Request& request : slot.connection.TakeAllInFlight()) {
    Complete(std::move(request), ConnectionLost(error));
  }
  slot.connection.Reset();
  if (slot.registered_fd >= 0) {
    // The socket is usually closed already, which removed it from epoll; either way it's gone.
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, slot.registered_fd, nullptr);
    slot.registered_fd = -1;
  }
  ++slot.failures;
  absl::Duration backoff = options_.reconnect_min;
  for (int i = 1; i < slot.failures && backoff < options_.reconnect_max; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.reconnect_max);
  // Jitter in [backoff/2, backoff] keeps replicas from reconnecting in lockstep.
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  slot.next_attempt = absl::Now() + backoff * spread(jitter_);
  if (slot.failures == 1 || slot.failures % 20 == 0) {
    LogWarning(absl::StrCat("database connection ", index, " down (", slot.failures,
                            " failures): ", error));
  }
  bool any_usable = std::any_of(slots_.begin(), slots_.end(), [](const auto& s) {
    return s->connection.state() == Connection::State::kReady;
  });
  if (!any_usable) {
    // With no connection left there is nothing to wait for: fail fast so callers can retry
    // elsewhere instead of sitting out their deadlines.
    unreachable_ = true;
    FailAllWaiting(ConnectionLost("cannot connect to the database"));
  }
}

void Pool::FailAllWaiting(const absl::Status& status) {
  std::deque<Request> failed;
  failed.swap(waiting_);
  for (Request& request : failed) Complete(std::move(request), status);
}

void Pool::UpdateWatch(size_t index) {
  Slot& slot = *slots_[index];
  int fd = slot.connection.socket();
  uint32_t mask = EpollMask(slot.connection.interest());
  if (slot.registered_fd >= 0 && slot.registered_fd != fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, slot.registered_fd, nullptr);
    slot.registered_fd = -1;
  }
  if (fd < 0 || mask == 0) return;
  // Called after every event and every batch sent: most of the time nothing changed, and the
  // syscall is skipped. Not while connecting: libpq may then close the socket and open another
  // under the same number (multi-host DSNs), which silently leaves epoll's set.
  if (slot.registered_fd == fd && slot.registered_mask == mask &&
      slot.connection.state() == Connection::State::kReady) {
    return;
  }
  epoll_event event{};
  event.events = mask;
  event.data.u64 = index;
  if (slot.registered_fd == fd && epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) == 0) {
    slot.registered_mask = mask;
    return;
  }
  // libpq may have closed and reopened the socket under the same number (multi-host DSNs).
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0 && errno == EEXIST) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
  }
  slot.registered_fd = fd;
  slot.registered_mask = mask;
}

int Pool::TimeoutMs(absl::Time now) const {
  absl::Time wake = now + absl::Seconds(1);
  for (const auto& slot : slots_) {
    const Connection& connection = slot->connection;
    auto state = connection.state();
    if (state == Connection::State::kDisconnected) wake = std::min(wake, slot->next_attempt);
    if (state == Connection::State::kConnecting) wake = std::min(wake, slot->connect_deadline);
    // Deadlines of requests in flight: they get answered, and cancelled, then.
    for (const Segment& segment : connection.in_flight()) {
      for (const Statement& statement : segment.statements) {
        for (const Request& request : statement.requests) {
          if (!request.answered()) wake = std::min(wake, request.call.deadline);
        }
      }
    }
    if (!connection.in_flight().empty()) {
      const Segment& head = connection.in_flight().front();
      if (head.cancel_sent != absl::InfinitePast()) {
        wake = std::min(wake, head.cancel_sent + kCancelRetry);
      }
    }
  }
  for (const Request& request : waiting_) wake = std::min(wake, request.call.deadline);
  if (wake <= now) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(wake - now, absl::Milliseconds(1))));
}

void Pool::Complete(Request request, absl::Status status) {
  if (!SqlStateOf(status).empty() || status.code() == absl::StatusCode::kUnavailable) {
    errors_.fetch_add(1, std::memory_order_relaxed);
  }
  request.Fail(Detached(status));
}

void Pool::PublishStats() {
  int connected = 0;
  int busy = 0;
  int in_flight = 0;
  for (const auto& slot : slots_) {
    const Connection& connection = slot->connection;
    if (connection.state() != Connection::State::kReady) continue;
    ++connected;
    busy += connection.depth() > 0;
    in_flight += connection.depth();
  }
  connected_.store(connected);
  busy_.store(busy);
  in_flight_.store(in_flight);
  waiting_count_.store(static_cast<int>(waiting_.size()));
}

}  // namespace firstsip::db
