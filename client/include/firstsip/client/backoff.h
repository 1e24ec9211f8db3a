// firstsip::client::Backoff: the delays between attempts of something that failed for a while
// (a watch resuming after UNAVAILABLE, a worker whose claims fail): exponential, capped and
// jittered, so that many clients that lost the same server do not come back in step.
//
//   firstsip::client::Backoff backoff;                // 100 ms, 200 ms, ... up to 10 s
//   while (!TryIt()) absl::SleepFor(backoff.Next());
//   backoff.Reset();                                  // after a success
//
// Not thread-safe: one per loop.
#pragma once

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace firstsip::client {

struct BackoffOptions {
  // The first delay, before jitter.
  absl::Duration initial = absl::Milliseconds(100);
  // No delay is longer than this.
  absl::Duration max = absl::Seconds(10);
  // Each delay is this many times the previous one, up to `max`.
  double multiplier = 2.0;
  // Each delay is cut by a random fraction up to this (0: no jitter, 1: anywhere from 0 to the
  // nominal delay).
  double jitter = 0.2;
};

class Backoff {
 public:
  // A random seed unless one is given (for tests).
  explicit Backoff(const BackoffOptions& options = {});
  Backoff(const BackoffOptions& options, uint64_t seed);

  // The delay before the next attempt: initial * multiplier^n for the n-th call since Reset(),
  // capped at max, less up to `jitter` of it at random.
  absl::Duration Next();
  // After a success: the next delay is `initial` again.
  void Reset();

 private:
  BackoffOptions options_;
  absl::Duration nominal_;  // of the next delay
  std::mt19937_64 random_;
};

}  // namespace firstsip::client
