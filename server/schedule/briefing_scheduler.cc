#include "schedule/briefing_scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "db/sql_error.h"

namespace firstsip::schedule {
namespace {

// When the last batch took every due user it could and due users remain, others hold them (a
// batch of another replica in flight): look again shortly rather than at once.
constexpr absl::Duration kHeldByOthers = absl::Milliseconds(50);
// A batch that lost a race on (user_id, request_id) to a CreateBriefing with the same key runs
// again at once (its retry sees the winner); this many times in a row at most.
constexpr int kRaceRetries = 3;

// Runs `start` (a store call taking its Done last) and waits for its answer, on this thread.
template <typename T, typename Start>
absl::StatusOr<T> Await(Start start) {
  auto answer = std::make_shared<std::promise<absl::StatusOr<T>>>();
  std::future<absl::StatusOr<T>> future = answer->get_future();
  start([answer](absl::StatusOr<T> value) { answer->set_value(std::move(value)); });
  return future.get();
}

}  // namespace

BriefingScheduler::BriefingScheduler(storage::ScheduleStore& store, SchedulerOptions options,
                                     SchedulerObserver observer)
    : store_(store),
      options_(options),
      observer_(std::move(observer)),
      backoff_(options.retry_after) {}

BriefingScheduler::~BriefingScheduler() { Stop(); }

void BriefingScheduler::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fs-schedule");
    Run();
  });
}

void BriefingScheduler::Stop() {
  alarm_.Stop();
  if (thread_.joinable()) thread_.join();
}

void BriefingScheduler::Run() {
  absl::Time wake = absl::Now();
  while (alarm_.SleepUntil(wake)) {
    wake = absl::Now() + Round();
  }
}

absl::Duration BriefingScheduler::Round() {
  const absl::Time started = absl::Now();
  int batches = 0, created = 0, existed = 0, missed = 0, races = 0;
  absl::Duration sleep = options_.max_sleep;
  for (; !alarm_.stopped();) {
    const absl::Time batch_start = absl::Now();
    absl::StatusOr<storage::ScheduleBatch> batch =
        Await<storage::ScheduleBatch>([&](storage::Done<storage::ScheduleBatch> done) {
          store_.RunDue(options_.batch_size, options_.max_lateness,
                        db::CallOptions::WithDeadline(absl::Now() + options_.statement_timeout),
                        std::move(done));
        });
    if (!batch.ok()) {
      if (db::ConstraintOf(batch.status()) == "briefings_user_request_id_key" &&
          ++races <= kRaceRetries) {
        continue;
      }
      if (Recover(batch.status(), "a batch of due briefings")) continue;
      sleep = backoff_;
      backoff_ = std::min(backoff_ * 2, options_.max_sleep);
      break;
    }
    races = 0;
    backoff_ = options_.retry_after;
    last_error_.clear();
    ++batches;
    created += batch->created;
    existed += batch->existed;
    missed += batch->missed;
    if (observer_.batch) observer_.batch(*batch, absl::Now() - batch_start);

    if (batch->unfilled) {
      int filled = 0;
      for (int round = options_.fill_batch_size; round == options_.fill_batch_size;) {
        absl::StatusOr<int> fill = Await<int>([&](storage::Done<int> done) {
          store_.Fill(options_.fill_batch_size,
                      db::CallOptions::WithDeadline(absl::Now() + options_.statement_timeout),
                      std::move(done));
        });
        if (!fill.ok()) {
          if (Recover(fill.status(), "filling in next_briefing_time")) continue;
          break;
        }
        round = *fill;
        filled += *fill;
        if (alarm_.stopped()) return absl::ZeroDuration();
      }
      if (filled > 0) {
        if (observer_.filled) observer_.filled(filled);
        LogInfo(absl::StrCat("schedule: computed the next briefing time of ", filled,
                             " users who had none"));
        continue;  // some may be due already
      }
    }

    if (batch->claimed == options_.batch_size) continue;
    if (!batch->next_due_in.has_value()) break;  // nobody to schedule: sleep the cap
    if (*batch->next_due_in <= absl::ZeroDuration()) {
      if (batch->claimed > 0) continue;  // due times moved into the past (catching up)
      sleep = kHeldByOthers;
      break;
    }
    sleep = std::min(*batch->next_due_in, options_.max_sleep);
    break;
  }
  if (created > 0 || missed > 0) {
    LogInfo(absl::StrCat("schedule: created ", created, " briefings", existed > 0 ? " (" : "",
                         existed > 0 ? absl::StrCat(existed, " existed already)") : "", ", ",
                         missed, " due times missed beyond --schedule-max-lateness, in ", batches,
                         " batches, ", absl::FormatDuration(absl::Now() - started)));
  }
  return sleep;
}

bool BriefingScheduler::Recover(const absl::Status& failure, const char* what) {
  // 22023 (invalid_parameter_value) is the time arithmetic meeting a zone the database does
  // not know: take those users out of the schedule, or they would fail every batch.
  if (db::SqlStateOf(failure) == "22023") {
    absl::StatusOr<std::vector<storage::UnschedulableUser>> quarantined =
        Await<std::vector<storage::UnschedulableUser>>(
            [&](storage::Done<std::vector<storage::UnschedulableUser>> done) {
              store_.Quarantine(
                  db::CallOptions::WithDeadline(absl::Now() + options_.statement_timeout),
                  std::move(done));
            });
    if (quarantined.ok() && !quarantined->empty()) {
      std::vector<std::string> named;
      for (const storage::UnschedulableUser& user : *quarantined) {
        if (named.size() == 20) break;
        named.push_back(absl::StrCat(user.id, " (\"", user.timezone, "\")"));
      }
      LogError(absl::StrCat(
          "schedule: ", quarantined->size(),
          " users have a time zone the database does not know, and get no briefings until "
          "UpdateUser sets one it knows (or the database server's tzdata is updated and their "
          "time zone is set again): ",
          absl::StrJoin(named, ", "), quarantined->size() > named.size() ? ", ..." : ""));
      if (observer_.unschedulable) observer_.unschedulable(static_cast<int>(quarantined->size()));
      return true;
    }
  }
  std::string error = absl::StrCat("schedule: ", what, " failed: ", failure.message());
  if (error != last_error_) {
    LogWarning(absl::StrCat(error, " (trying again, at most every ",
                            absl::FormatDuration(options_.max_sleep), ")"));
    last_error_ = error;
  }
  return false;
}

}  // namespace firstsip::schedule
