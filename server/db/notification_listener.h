// One connection that LISTENs on a channel and hands each notification to a handler, driven
// without blocking: its own small event loop (epoll over the socket and a wake-up fd) reads
// what arrives with PQconsumeInput and PQnotifies. When the connection drops, the handler hears
// so (everything announced until it is back is missed), and the listener reconnects with
// backoff and LISTENs again. One listener serves every watcher of the process.
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace firstsip::db {

struct ListenerOptions {
  std::string dsn;
  std::string channel;  // an SQL identifier: lower-case letters, digits and '_'
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration reconnect_min = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(5);
  // A connection that has said nothing for this long is asked for a round trip; one that does
  // not answer within it is dropped (a half-open TCP connection never reports an error).
  absl::Duration probe_interval = absl::Seconds(10);
};

// What the listener reports, all on its own thread, in order. Handlers must not block.
struct ListenerHandler {
  // LISTEN is in effect (after the first connect and after every reconnect).
  absl::AnyInvocable<void()> listening;
  // One notification's payload.
  absl::AnyInvocable<void(absl::string_view payload)> notified;
  // The connection dropped (or could not LISTEN); notifications are missed until `listening`.
  absl::AnyInvocable<void(const absl::Status& why)> lost;
};

class NotificationListener {
 public:
  // Starts connecting at once; does not wait for the database.
  NotificationListener(ListenerOptions options, ListenerHandler handler);
  ~NotificationListener();
  NotificationListener(const NotificationListener&) = delete;
  NotificationListener& operator=(const NotificationListener&) = delete;

  // Closes the connection and joins the thread; no handler runs after it returns. Idempotent.
  void Stop();

  bool listening() const { return listening_.load(); }

 private:
  enum class Phase { kIdle, kConnecting, kSubscribing, kListening };

  void Run();
  void StartConnect();
  void Advance(uint32_t events);
  void ContinueConnect();
  void ReadSubscribeResults();
  void ReadNotifications();
  void SendProbe();
  void Drop(absl::string_view what);
  void Watch(uint32_t events);
  int TimeoutMs() const;

  const ListenerOptions options_;
  ListenerHandler handler_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> listening_{false};
  bool stopped_ = false;  // Stop() ran (caller's thread only)

  // Loop-thread state.
  PGconn* conn_ = nullptr;
  Phase phase_ = Phase::kIdle;
  int watched_fd_ = -1;
  uint32_t watched_events_ = 0;
  int failures_ = 0;
  absl::Time next_attempt_ = absl::InfinitePast();
  absl::Time phase_deadline_ = absl::InfiniteFuture();
  absl::Time last_heard_ = absl::InfinitePast();
  bool probe_in_flight_ = false;

  std::thread loop_;
};

}  // namespace firstsip::db
