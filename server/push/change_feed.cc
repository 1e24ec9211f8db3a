#include "push/change_feed.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "push/claim_waiters.h"

namespace firstsip::push {

std::optional<ChangeNotice> ParseChangeNotice(absl::string_view payload) {
  std::vector<absl::string_view> parts = absl::StrSplit(payload, ' ');
  if (parts.size() != 4 && parts.size() != 5) return std::nullopt;
  ChangeNotice notice;
  int64_t sent_us = 0;
  if (!absl::SimpleAtoi(parts[0], &notice.user_id) ||
      !absl::SimpleAtoi(parts[1], &notice.change_seq) || !absl::SimpleAtoi(parts[2], &sent_us) ||
      parts[3].size() != 1) {
    return std::nullopt;
  }
  notice.sent = absl::FromUnixMicros(sent_us);
  notice.kind = parts[3][0];
  if (notice.kind == 'l') {
    int64_t expiry_us = 0;
    if (parts.size() != 5 || !absl::SimpleAtoi(parts[4], &expiry_us)) return std::nullopt;
    notice.lease_expiry = absl::FromUnixMicros(expiry_us);
  } else if (parts.size() != 4 ||
             (notice.kind != 'p' && notice.kind != 'x' && notice.kind != 'e')) {
    return std::nullopt;
  }
  return notice;
}

ChangeFeed::ChangeFeed(ClaimWaiters* waiters, std::function<void(absl::Duration)> on_lag)
    : waiters_(waiters), on_lag_(std::move(on_lag)) {}

absl::StatusOr<uint64_t> ChangeFeed::Subscribe(int64_t user_id,
                                               std::shared_ptr<ChangeSubscriber> watcher) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shut_down_) return absl::UnavailableError("the server is shutting down; watch another one");
  if (!live_) {
    return absl::UnavailableError(
        "the change feed is not connected to the database; retry with the last resume_token");
  }
  const uint64_t id = next_id_++;
  by_user_[user_id].push_back(Entry{id, std::move(watcher)});
  ++count_;
  return id;
}

void ChangeFeed::Unsubscribe(int64_t user_id, uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = by_user_.find(user_id);
  if (found == by_user_.end()) return;
  std::vector<Entry>& entries = found->second;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].id != id) continue;
    entries[i] = std::move(entries.back());
    entries.pop_back();
    --count_;
    break;
  }
  if (entries.empty()) by_user_.erase(found);
}

void ChangeFeed::OnListening() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!shut_down_) live_ = true;
  }
  // Wake-ups may have been missed while the connection was down.
  if (waiters_ != nullptr) waiters_->WakeAll();
}

void ChangeFeed::OnNotification(absl::string_view payload) {
  std::optional<ChangeNotice> notice = ParseChangeNotice(payload);
  if (!notice.has_value()) {
    LogWarning("change feed: ignored a notification that is not a change notice");
    return;
  }
  if (on_lag_) on_lag_(absl::Now() - notice->sent);
  if (waiters_ != nullptr) {
    if (notice->kind == 'p') waiters_->WorkAvailable();
    if (notice->lease_expiry.has_value()) waiters_->LeaseTaken(*notice->lease_expiry);
  }
  if (notice->kind == 'e') {
    return EndUser(notice->user_id,
                   absl::NotFoundError(absl::StrCat("user ", notice->user_id, " was erased")));
  }
  FanOut(notice->user_id, notice->change_seq);
}

void ChangeFeed::EndUser(int64_t user_id, const absl::Status& why) {
  std::vector<Entry> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = by_user_.find(user_id);
    if (found == by_user_.end()) return;
    ended = std::move(found->second);
    by_user_.erase(found);
    count_ -= ended.size();
  }
  for (Entry& entry : ended) entry.watcher->OnFeedLost(why);
}

void ChangeFeed::Nudge(int64_t user_id, int64_t change_seq) { FanOut(user_id, change_seq); }

void ChangeFeed::FanOut(int64_t user_id, int64_t change_seq) {
  // Called outside the lock: a watcher's OnChange may start a query, and its close unsubscribes.
  std::vector<std::shared_ptr<ChangeSubscriber>> targets;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = by_user_.find(user_id);
    if (found == by_user_.end()) return;
    targets.reserve(found->second.size());
    for (const Entry& entry : found->second) targets.push_back(entry.watcher);
  }
  for (const std::shared_ptr<ChangeSubscriber>& watcher : targets) watcher->OnChange(change_seq);
}

void ChangeFeed::OnLost(const absl::Status& why) {
  EndAll(
      absl::UnavailableError(absl::StrCat("the change feed lost its database connection (",
                                          why.message(), "); resume with the last resume_token")),
      /*shutting_down=*/false);
}

void ChangeFeed::Shutdown() {
  EndAll(absl::UnavailableError("the server is shutting down; resume with the last resume_token"),
         /*shutting_down=*/true);
}

void ChangeFeed::EndAll(const absl::Status& why, bool shutting_down) {
  absl::flat_hash_map<int64_t, std::vector<Entry>> ended;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    live_ = false;
    if (shutting_down) shut_down_ = true;
    ended.swap(by_user_);
    count_ = 0;
  }
  for (auto& [user_id, entries] : ended) {
    for (Entry& entry : entries) entry.watcher->OnFeedLost(why);
  }
}

bool ChangeFeed::live() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_;
}

size_t ChangeFeed::watchers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return count_;
}

}  // namespace firstsip::push
