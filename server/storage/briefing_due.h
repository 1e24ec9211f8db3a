// How a write that sets a user's next briefing time tells this replica's scheduler
// (schedule/briefing_scheduler.h), so it wakes early when that time is closer than the one it
// sleeps until. Stores call it on the pool's thread after the statement succeeded.
#pragma once

#include <functional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "firstsip/v1/user.pb.h"
#include "storage/done.h"

namespace firstsip::storage {

// Must not block (it runs on the pool's thread). May be empty: nobody schedules here.
using BriefingDue = std::function<void(absl::Time due)>;

// `done`, which first tells `due` of the user's next_briefing_time when the call succeeded with
// one.
inline Done<v1::User> TellingDue(const BriefingDue& due, Done<v1::User> done) {
  if (!due) return done;
  return [&due, done = std::move(done)](absl::StatusOr<v1::User> user) mutable {
    if (user.ok() && user->has_next_briefing_time()) {
      due(absl::FromUnixSeconds(user->next_briefing_time().seconds()) +
          absl::Nanoseconds(user->next_briefing_time().nanos()));
    }
    std::move(done)(std::move(user));
  };
}

}  // namespace firstsip::storage
