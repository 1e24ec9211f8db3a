// Storage for the change feed behind WatchBriefings and waiting claims: where a user's feed
// stands, the user's changes after a point of it, when the next lease runs out, and the
// retention of the log. The feed itself is written by every statement of briefing_store.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "firstsip/v1/briefing.pb.h"
#include "storage/done.h"

namespace firstsip::storage {

// A briefing as one change left it, and that change's place in its user's feed.
struct BriefingChange {
  v1::Briefing briefing;
  int64_t change_seq = 0;
};

class ChangeStore {
 public:
  explicit ChangeStore(db::Executor& primary) : primary_(primary) {}

  // Where the user's feed stands (its latest change_seq), for a watch that resumes from
  // `resume_from` (or starts now). NOT_FOUND for a missing or deleted user; OUT_OF_RANGE when
  // the feed cannot replay from `resume_from`: the database is behind it (restored from a
  // backup), or its changes are past retention.
  void Position(int64_t user_id, std::optional<int64_t> resume_from, const db::CallOptions& call,
                Done<int64_t> done);

  // The user's changes after `after`, in feed order, at most `limit`, each with the briefing
  // as that change left it.
  void ChangesAfter(int64_t user_id, int64_t after, int limit, const db::CallOptions& call,
                    Done<std::vector<BriefingChange>> done);

  // Deletes up to `batch` changes older than `retention`; how many it deleted. Replicas
  // pruning at once take turns (an advisory lock): a replica that finds it taken deletes none.
  void Prune(absl::Duration retention, int batch, const db::CallOptions& call, Done<int> done);

  // NOTIFYs each of `notices` (committed changes, see briefing_store.h) on the changes
  // channel, in one short transaction.
  void Announce(const std::vector<std::string>& notices, const db::CallOptions& call,
                Done<bool> done);

  // Where the feed of each user changed within `window` stands: (user_id, latest change_seq).
  // A watcher that missed an announcement (its writer died between commit and announcing)
  // catches up from this.
  void RecentlyChanged(absl::Duration window, const db::CallOptions& call,
                       Done<std::vector<std::pair<int64_t, int64_t>>> done);

  // Users erased within `window`: their watchers end (the erasure's own notice may have been
  // lost with its announcer).
  void RecentlyErased(absl::Duration window, const db::CallOptions& call,
                      Done<std::vector<int64_t>> done);

  // When the earliest lease of a PROCESSING briefing runs out (maybe already past); nullopt
  // when no briefing is leased.
  void NextLeaseExpiry(const db::CallOptions& call, Done<std::optional<absl::Time>> done);

 private:
  db::Executor& primary_;
};

}  // namespace firstsip::storage
