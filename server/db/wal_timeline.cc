#include "db/wal_timeline.h"

#include <algorithm>
#include <iterator>

namespace firstsip::db {

void WalTimeline::RecordPrimary(absl::Time at, uint64_t position) {
  if (!samples_.empty() && (position < samples_.back().position || at < samples_.back().at)) {
    samples_.clear();
  }
  samples_.push_back(Sample{at, position});
  // Keep one sample older than the window, so CaughtUpAt can still answer for a standby that
  // has everything up to it.
  while (samples_.size() > 2 && samples_[1].at < at - history_) samples_.pop_front();
}

std::optional<absl::Time> WalTimeline::CaughtUpAt(uint64_t replayed) const {
  // The last sample whose position the standby has reached.
  auto first_beyond = std::upper_bound(
      samples_.begin(), samples_.end(), replayed,
      [](uint64_t position, const Sample& sample) { return position < sample.position; });
  if (first_beyond == samples_.begin()) return std::nullopt;
  return std::prev(first_beyond)->at;
}

std::optional<absl::Duration> WalTimeline::LagAt(uint64_t replayed, absl::Time now) const {
  if (samples_.empty()) return std::nullopt;
  auto first_beyond = std::upper_bound(
      samples_.begin(), samples_.end(), replayed,
      [](uint64_t position, const Sample& sample) { return position < sample.position; });
  if (first_beyond == samples_.end()) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), now - first_beyond->at);
}

}  // namespace firstsip::db
