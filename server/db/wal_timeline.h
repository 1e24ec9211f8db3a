// Turns write-ahead-log positions into time, to tell how far behind a standby is.
//
// The primary's flushed position is sampled every probe; a standby reports the position it has
// replayed. Comparing positions, not replay timestamps, keeps an idle primary's standbys at lag
// zero (pg_last_xact_replay_timestamp() stands still when nothing commits, so "now minus replay
// time" grows without the standby being behind at all).
#pragma once

#include <cstdint>
#include <deque>
#include <optional>

#include "absl/time/time.h"

namespace firstsip::db {

class WalTimeline {
 public:
  // Samples older than `history` are forgotten.
  explicit WalTimeline(absl::Duration history) : history_(history) {}

  // The primary had flushed up to `position` at `at` (the time the probe was sent, so that a
  // position is never thought to be older than it is). A position lower than the last one
  // means a new primary with a history of its own: the old samples no longer compare.
  void RecordPrimary(absl::Time at, uint64_t position);

  // The last time the primary is known to have had nothing that a standby which replayed up
  // to `replayed` lacks; nullopt when no sample that recent is left. A standby is at most
  // `now - CaughtUpAt(...)` behind, whatever happened after the last sample.
  std::optional<absl::Time> CaughtUpAt(uint64_t replayed) const;

  // How long the oldest WAL the standby has not replayed has existed on the primary, at `now`:
  // zero when it has everything of the latest sample. Its resolution is the sampling interval.
  // nullopt before the first sample.
  std::optional<absl::Duration> LagAt(uint64_t replayed, absl::Time now) const;

  // When the primary's position was last sampled (InfinitePast: never).
  absl::Time last_sample() const {
    return samples_.empty() ? absl::InfinitePast() : samples_.back().at;
  }

 private:
  struct Sample {
    absl::Time at;
    uint64_t position;
  };

  const absl::Duration history_;
  std::deque<Sample> samples_;  // in time order; positions never decrease
};

}  // namespace firstsip::db
