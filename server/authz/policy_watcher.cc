#include "authz/policy_watcher.h"

#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace firstsip::authz {
namespace {

// The file's bytes (at most one more than kMaxPolicyBytes, so an oversized file is noticed),
// or INVALID_ARGUMENT when it cannot be read.
absl::StatusOr<std::string> ReadContents(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::string contents;
  contents.resize(kMaxPolicyBytes + 1);
  file.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (file.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  contents.resize(static_cast<size_t>(file.gcount()));
  return contents;
}

absl::StatusOr<Policy> ParseFrom(const std::string& path, const std::string& contents) {
  absl::StatusOr<Policy> policy = Policy::Parse(contents);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", policy.status().message()));
  }
  return policy;
}

}  // namespace

absl::StatusOr<Policy> ReadPolicyFile(const std::string& path) {
  absl::StatusOr<std::string> contents = ReadContents(path);
  if (!contents.ok()) return contents.status();
  return ParseFrom(path, *contents);
}

absl::StatusOr<std::unique_ptr<PolicyWatcher>> PolicyWatcher::Create(std::string path,
                                                                     absl::Duration interval,
                                                                     ReloadListener on_reload) {
  absl::StatusOr<std::string> contents = ReadContents(path);
  if (!contents.ok()) return contents.status();
  absl::StatusOr<Policy> policy = ParseFrom(path, *contents);
  if (!policy.ok()) return policy.status();
  std::unique_ptr<PolicyWatcher> watcher(new PolicyWatcher(
      std::move(path), *std::move(contents), *std::move(policy), std::move(on_reload)));
  watcher->thread_ = std::make_unique<PeriodicThread>("fs-authz-policy", interval,
                                                      [raw = watcher.get()] { raw->Reread(); });
  return watcher;
}

PolicyWatcher::PolicyWatcher(std::string path, std::string contents, Policy policy,
                             ReloadListener on_reload)
    : path_(std::move(path)),
      on_reload_(std::move(on_reload)),
      last_contents_(std::move(contents)),
      current_(std::make_shared<const Policy>(std::move(policy))) {}

PolicyWatcher::~PolicyWatcher() {
  if (thread_ != nullptr) thread_->Stop();
}

void PolicyWatcher::Reread() {
  absl::StatusOr<std::string> contents = ReadContents(path_);
  // An unreadable file (deleted, or a mount being replaced) is reported like a bad one, once;
  // the same good content coming back afterwards counts as new.
  if (!contents.ok()) {
    if (!last_contents_.has_value()) return;
    last_contents_.reset();
    if (on_reload_) on_reload_(contents.status(), nullptr);
    return;
  }
  if (last_contents_.has_value() && *contents == *last_contents_) return;
  last_contents_ = *std::move(contents);
  absl::StatusOr<Policy> policy = ParseFrom(path_, *last_contents_);
  if (!policy.ok()) {
    if (on_reload_) on_reload_(policy.status(), nullptr);
    return;
  }
  auto loaded = std::make_shared<const Policy>(*std::move(policy));
  current_.store(loaded, std::memory_order_release);
  if (on_reload_) on_reload_(absl::OkStatus(), loaded.get());
}

}  // namespace firstsip::authz
