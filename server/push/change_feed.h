// The process's end of the change feed: notifications from the one LISTEN connection
// (db/notification_listener.h), parsed and fanned out in process to the watchers of the user
// they concern, and the workers' wake-ups handed to ClaimWaiters. What a notification says is
// written by the statements of storage/briefing_store.h and announced, once committed, by
// change_announcer.h (of whichever replica made the change):
//   "<user_id> <change_seq> <sent_us> <kind>[ <lease_expiry_us>]"
// with kind 'p' (a briefing became claimable), 'l' (a lease was taken, running out at
// lease_expiry_us), 'x' (any other change) or 'e' (the user was erased, storage/
// lifecycle_store.h: the user's watches end with NOT_FOUND); sent_us is the statement's clock,
// for the lag.
//
// A notification only says that something changed; watchers read what from the database (a
// notification can be missed while the connection is down, the database cannot).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace firstsip::push {

class ClaimWaiters;

// One watcher of one user's changes. Both calls come on the listener's thread, must not block,
// and may come after Unsubscribe started (a watcher ignores what comes after it closed).
class ChangeSubscriber {
 public:
  virtual ~ChangeSubscriber() = default;
  // The user's feed reached `change_seq` (or further).
  virtual void OnChange(int64_t change_seq) = 0;
  // Changes may be missed from now on (the connection dropped, or the server is stopping):
  // the watcher must end. Called once; the subscription is gone when it comes.
  virtual void OnFeedLost(const absl::Status& why) = 0;
};

// A notification as written by storage/briefing_store.h.
struct ChangeNotice {
  int64_t user_id = 0;
  int64_t change_seq = 0;
  absl::Time sent;
  char kind = 'x';
  std::optional<absl::Time> lease_expiry;  // with kind 'l'
};

// nullopt for a payload that is not a notice (logged by the caller, never trusted).
std::optional<ChangeNotice> ParseChangeNotice(absl::string_view payload);

class ChangeFeed {
 public:
  // `waiters` (may be null) hears of claimable work; `on_lag` (may be empty) of each notice's
  // delay from its statement to this process.
  ChangeFeed(ClaimWaiters* waiters, std::function<void(absl::Duration)> on_lag);

  // Watching needs the feed to be live: UNAVAILABLE while the LISTEN connection is down or
  // the server is stopping. Returns the subscription's id, for Unsubscribe.
  absl::StatusOr<uint64_t> Subscribe(int64_t user_id, std::shared_ptr<ChangeSubscriber> watcher);
  void Unsubscribe(int64_t user_id, uint64_t id);

  // From the listener (db::ListenerHandler).
  void OnListening();
  void OnNotification(absl::string_view payload);
  void OnLost(const absl::Status& why);

  // The user's feed is known to stand at `change_seq` (ChangeSweeper): the user's watchers
  // read what they have not seen. No lag is measured, no waiter woken.
  void Nudge(int64_t user_id, int64_t change_seq);

  // The user is gone (erased): each of its watchers ends with `why` (NOT_FOUND).
  void EndUser(int64_t user_id, const absl::Status& why);

  // Ends every watch with UNAVAILABLE and refuses new ones: SIGTERM.
  void Shutdown();

  bool live() const;
  size_t watchers() const;

 private:
  struct Entry {
    uint64_t id;
    std::shared_ptr<ChangeSubscriber> watcher;
  };
  void EndAll(const absl::Status& why, bool shutting_down);
  void FanOut(int64_t user_id, int64_t change_seq);

  ClaimWaiters* const waiters_;
  const std::function<void(absl::Duration)> on_lag_;
  mutable std::mutex mutex_;
  absl::flat_hash_map<int64_t, std::vector<Entry>> by_user_;  // guarded by mutex_
  size_t count_ = 0;                                          // guarded by mutex_
  uint64_t next_id_ = 1;                                      // guarded by mutex_
  bool live_ = false;                                         // guarded by mutex_
  bool shut_down_ = false;                                    // guarded by mutex_
};

}  // namespace firstsip::push
