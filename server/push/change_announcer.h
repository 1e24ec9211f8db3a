// Announces committed changes: the notices that briefing statements return (storage/
// briefing_store.h) are NOTIFYed after their commit, many at a time, in one short transaction
// of their own. A statement that NOTIFYed itself would take PostgreSQL's cluster-wide notify
// lock through its commit, and every briefing write would commit one at a time.
//
// One batch is in flight at a time; notices that arrive meanwhile form the next one, so under
// load a batch carries whatever arrived during the previous round trip. A notice is a hint:
// one lost to a crash between commit and announcing is made up for by ChangeSweeper.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "storage/change_store.h"

namespace firstsip::push {

class ChangeAnnouncer {
 public:
  // Notices per NOTIFY statement, at most.
  static constexpr size_t kMaxBatch = 1000;

  explicit ChangeAnnouncer(storage::ChangeStore& store) : store_(store) {}

  // Any thread; never blocks on the database.
  void Announce(std::string notice);

 private:
  void Send(std::vector<std::string> batch);
  void Sent(const absl::Status& status);

  storage::ChangeStore& store_;
  std::mutex mutex_;
  std::vector<std::string> pending_;  // guarded by mutex_
  bool in_flight_ = false;            // guarded by mutex_
};

}  // namespace firstsip::push
