// Storage for the lifecycle of personal data: erasing a user (on request, and the users
// soft-deleted longer than --erase-deleted-after), exporting everything held about a user, and
// removing briefings past --briefing-retention. The multi-statement transactions live in
// PostgreSQL functions (migrations 000008 and 000010): each is still one named statement here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "db/call_options.h"
#include "db/executor.h"
#include "db/result.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "storage/briefing_store.h"
#include "storage/done.h"

namespace firstsip::storage {

// Everything held about one user, read by one statement (so from one snapshot). The briefings
// stay rows until asked for, a few at a time (BriefingsAt), so a large export is not held
// twice over, as rows and as protos.
struct UserExport {
  v1::User user;
  std::vector<v1::AuthIdentity> identities;
  absl::Time snapshot_time;
  db::Result rows;
  std::vector<int> briefing_rows;  // rows of `rows` holding briefings, oldest first
};

// `count` briefings of `data` from the `first`-th (oldest first).
absl::StatusOr<std::vector<v1::Briefing>> BriefingsAt(const UserExport& data, size_t first,
                                                      size_t count);

// What one batch of retention removed.
struct RemovedBriefings {
  int64_t briefings = 0;
  int64_t changes = 0;
};

class LifecycleStore {
 public:
  // `announce` (may be empty) hears of each erasure once committed: its notice ends the user's
  // open watches (push/change_feed.h).
  LifecycleStore(db::Executor& primary, AnnounceChange announce = nullptr)
      : primary_(primary), announce_(std::move(announce)) {}

  // Erases the user in one transaction if its revision is `revision`. NOT_FOUND for an unknown
  // or already erased user (the message says when it was erased); ABORTED when the revision is
  // stale, or when the user's rows stayed locked by others (retry).
  void Erase(int64_t id, int64_t revision, const db::CallOptions& call, Done<bool> done);

  // Erases up to `limit` users soft-deleted before `deleted_before`, skipping any that another
  // replica or a writer holds; how many it erased.
  void EraseDeleted(absl::Time deleted_before, int limit, const db::CallOptions& call,
                    Done<int> done);

  // Everything held about the user, live or soft-deleted, from one snapshot. NOT_FOUND for an
  // unknown or erased user.
  void Export(int64_t id, const db::CallOptions& call, Done<UserExport> done);

  // Removes up to `limit` briefings created before `created_before`, with their change-feed
  // entries, passing over briefings being changed right now.
  void RemoveOldBriefings(absl::Time created_before, int limit, const db::CallOptions& call,
                          Done<RemovedBriefings> done);

 private:
  void AnnounceAll(const db::Result& result, int column) const;

  db::Executor& primary_;
  AnnounceChange announce_;
};

}  // namespace firstsip::storage
