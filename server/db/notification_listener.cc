#include "db/notification_listener.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"

namespace firstsip::db {
namespace {

constexpr uint64_t kWakeToken = ~uint64_t{0};

std::string ErrorOf(PGconn* conn) {
  std::string message = conn ? PQerrorMessage(conn) : "no connection";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

}  // namespace

NotificationListener::NotificationListener(ListenerOptions options, ListenerHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event wake{};
  wake.events = EPOLLIN;
  wake.data.u64 = kWakeToken;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake);
  loop_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-db-listen");
    Run();
  });
}

NotificationListener::~NotificationListener() {
  Stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void NotificationListener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  stopping_.store(true);
  uint64_t one = 1;
  [[maybe_unused]] ssize_t written = write(wake_fd_, &one, sizeof(one));
  if (loop_.joinable()) loop_.join();
}

void NotificationListener::Run() {
  epoll_event events[4];
  while (!stopping_.load()) {
    const absl::Time now = absl::Now();
    if (phase_ == Phase::kIdle && now >= next_attempt_) StartConnect();
    if (phase_ == Phase::kConnecting || phase_ == Phase::kSubscribing) {
      if (now >= phase_deadline_) Drop("timed out connecting and subscribing");
    } else if (phase_ == Phase::kListening) {
      SendProbe();
    }
    const int ready = epoll_wait(epoll_fd_, events, 4, TimeoutMs());
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u64 == kWakeToken) continue;  // Stop() asks; the loop condition ends it
      if (conn_ != nullptr) Advance(events[i].events);
    }
  }
  if (conn_ != nullptr) {
    Watch(0);
    PQfinish(conn_);
    conn_ = nullptr;
  }
  listening_.store(false);
}

int NotificationListener::TimeoutMs() const {
  absl::Time due = absl::InfiniteFuture();
  switch (phase_) {
    case Phase::kIdle:
      due = next_attempt_;
      break;
    case Phase::kConnecting:
    case Phase::kSubscribing:
      due = phase_deadline_;
      break;
    case Phase::kListening:
      due = last_heard_ + options_.probe_interval;
      break;
  }
  const absl::Duration wait = due - absl::Now();
  if (wait <= absl::ZeroDuration()) return 0;
  // Rounded up so the loop never wakes a hair early and spins.
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(wait) + 1, 60'000));
}

void NotificationListener::StartConnect() {
  const char* keywords[] = {"dbname", "fallback_application_name", nullptr};
  const char* values[] = {options_.dsn.c_str(), "firstsip-listener", nullptr};
  conn_ = PQconnectStartParams(keywords, values, /*expand_dbname=*/1);
  if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) return Drop("cannot connect");
  phase_ = Phase::kConnecting;
  phase_deadline_ = absl::Now() + options_.connect_timeout;
  // libpq's protocol: before the first PQconnectPoll, act as if it had asked to write.
  Watch(EPOLLOUT);
}

void NotificationListener::Advance(uint32_t events) {
  if (phase_ == Phase::kConnecting) return ContinueConnect();
  if ((events & EPOLLOUT) != 0) {
    const int flushed = PQflush(conn_);
    if (flushed < 0) return Drop("write failed");
    Watch(flushed == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT);
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) == 0) return;
  if (PQconsumeInput(conn_) == 0) return Drop("read failed");
  last_heard_ = absl::Now();
  if (phase_ == Phase::kSubscribing) return ReadSubscribeResults();
  ReadNotifications();
}

void NotificationListener::ContinueConnect() {
  switch (PQconnectPoll(conn_)) {
    case PGRES_POLLING_READING:
      return Watch(EPOLLIN);
    case PGRES_POLLING_WRITING:
      return Watch(EPOLLOUT);
    case PGRES_POLLING_OK:
      break;
    default:
      return Drop("connect failed");
  }
  if (PQsetnonblocking(conn_, 1) != 0) return Drop("cannot enter nonblocking mode");
  // The channel is ours (a constant), but quoting keeps LISTEN exact whatever it is.
  char* quoted = PQescapeIdentifier(conn_, options_.channel.data(), options_.channel.size());
  if (quoted == nullptr) return Drop("cannot quote the channel name");
  const std::string listen = absl::StrCat("LISTEN ", quoted);
  PQfreemem(quoted);
  if (PQsendQuery(conn_, listen.c_str()) == 0) return Drop("cannot send LISTEN");
  phase_ = Phase::kSubscribing;
  const int flushed = PQflush(conn_);
  if (flushed < 0) return Drop("write failed");
  Watch(flushed == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

void NotificationListener::ReadSubscribeResults() {
  while (PQisBusy(conn_) == 0) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) {
      phase_ = Phase::kListening;
      phase_deadline_ = absl::InfiniteFuture();
      probe_in_flight_ = false;
      if (failures_ > 0) LogInfo(absl::StrCat("change feed listening again on ", options_.channel));
      failures_ = 0;
      listening_.store(true);
      if (handler_.listening) handler_.listening();
      // Notifications may already have come with the LISTEN's answer.
      return ReadNotifications();
    }
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    if (!ok) return Drop("LISTEN failed");
  }
}

void NotificationListener::ReadNotifications() {
  // The probe's answer (if one is out) is read off so PQnotifies sees what follows it.
  while (probe_in_flight_ && PQisBusy(conn_) == 0) {
    PGresult* result = PQgetResult(conn_);
    if (result == nullptr) {
      probe_in_flight_ = false;
      break;
    }
    PQclear(result);
  }
  while (PGnotify* notification = PQnotifies(conn_)) {
    if (handler_.notified) handler_.notified(notification->extra);
    PQfreemem(notification);
  }
}

void NotificationListener::SendProbe() {
  if (absl::Now() < last_heard_ + options_.probe_interval) return;
  if (probe_in_flight_) return Drop("no answer to a probe");
  // An empty query: a round trip that touches nothing.
  if (PQsendQuery(conn_, "") == 0) return Drop("cannot send a probe");
  probe_in_flight_ = true;
  last_heard_ = absl::Now();  // the answer is due within one more interval
  const int flushed = PQflush(conn_);
  if (flushed < 0) return Drop("write failed");
  Watch(flushed == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT);
}

void NotificationListener::Drop(absl::string_view what) {
  const std::string error = absl::StrCat(what, ": ", ErrorOf(conn_));
  if (conn_ != nullptr) {
    Watch(0);
    PQfinish(conn_);
    conn_ = nullptr;
  }
  const bool was_listening = phase_ == Phase::kListening;
  phase_ = Phase::kIdle;
  probe_in_flight_ = false;
  listening_.store(false);
  ++failures_;
  absl::Duration backoff = options_.reconnect_min;
  for (int i = 1; i < failures_ && backoff < options_.reconnect_max; ++i) backoff *= 2;
  backoff = std::min(backoff, options_.reconnect_max);
  static thread_local std::mt19937_64 jitter{std::random_device{}()};
  std::uniform_real_distribution<double> spread(0.5, 1.0);
  next_attempt_ = absl::Now() + backoff * spread(jitter);
  if (failures_ == 1 || failures_ % 20 == 0) {
    LogWarning(absl::StrCat("change feed connection down (", failures_, " failures): ", error));
  }
  if (was_listening && handler_.lost) handler_.lost(absl::UnavailableError(error));
}

void NotificationListener::Watch(uint32_t events) {
  const int fd = conn_ != nullptr ? PQsocket(conn_) : -1;
  if (fd != watched_fd_ && watched_fd_ >= 0) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, watched_fd_, nullptr);
    watched_fd_ = -1;
    watched_events_ = 0;
  }
  if (fd < 0 || events == 0) {
    if (watched_fd_ >= 0) epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, watched_fd_, nullptr);
    watched_fd_ = -1;
    watched_events_ = 0;
    return;
  }
  // Not skipped while connecting: with a multi-host DSN libpq closes the socket of a host it
  // gives up on (refused, or a standby failing target_session_attrs) and opens the next one,
  // often under the same number, and the closed one silently left epoll's set.
  if (fd == watched_fd_ && events == watched_events_ && phase_ != Phase::kConnecting) return;
  epoll_event event{};
  event.events = events;
  event.data.u64 = 0;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0 && errno == EEXIST) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
  }
  watched_fd_ = fd;
  watched_events_ = events;
}

}  // namespace firstsip::db
