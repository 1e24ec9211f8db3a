#include "firstsip/client/backoff.h"

#include <algorithm>

namespace firstsip::client {

Backoff::Backoff(const BackoffOptions& options) : Backoff(options, std::random_device()()) {}

Backoff::Backoff(const BackoffOptions& options, uint64_t seed) : options_(options), random_(seed) {
  options_.initial = std::max(options_.initial, absl::ZeroDuration());
  options_.max = std::max(options_.max, options_.initial);
  options_.multiplier = std::max(options_.multiplier, 1.0);
  options_.jitter = std::clamp(options_.jitter, 0.0, 1.0);
  nominal_ = options_.initial;
}

absl::Duration Backoff::Next() {
  const absl::Duration nominal = nominal_;
  nominal_ = std::min(nominal_ * options_.multiplier, options_.max);
  const double cut = std::uniform_real_distribution<double>(0.0, options_.jitter)(random_);
  return nominal * (1.0 - cut);
}

void Backoff::Reset() { nominal_ = options_.initial; }

}  // namespace firstsip::client
