// firstsip: the operators' command line for the First Sip data service.
//
//   firstsip [--target=HOST:PORT] [--json] [--timeout=5s] GROUP COMMAND [ARGS] [--FLAGS]
//
// Tables for people by default, --json for scripts (one JSON document per call, protobuf's JSON
// mapping). Exit codes: 0 ok; 1 health not SERVING; 2 usage; 10 + the gRPC code for an error
// from the service (e.g. 15 NOT_FOUND, 13 INVALID_ARGUMENT... see kUsage).
//
// `briefings watch` runs until SIGINT/SIGTERM (exit 0) or an error: one line per change, or one
// JSON object per line with --json, each flushed as it comes; resumes are reported on stderr.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "firstsip/client/client.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

ABSL_FLAG(std::string, target, "", "server address (env FIRSTSIP_TARGET; default 127.0.0.1:50051)");
ABSL_FLAG(bool, json, false, "print one JSON document per call instead of a table");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "deadline of each call");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA to verify the server with: turns TLS on");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate, for mutual TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM client key, for mutual TLS");
// Command flags.
ABSL_FLAG(bool, show_deleted, false, "include soft-deleted users");
ABSL_FLAG(int, page_size, 0, "items per page (0: 50, at most 1000)");
ABSL_FLAG(std::string, page_token, "", "next_page_token of the previous page");
ABSL_FLAG(std::string, role, "", "user or admin");
ABSL_FLAG(std::string, email, "", "email address");
ABSL_FLAG(std::string, name, "", "display name");
ABSL_FLAG(std::string, timezone, "", "IANA time zone, e.g. Europe/Berlin");
ABSL_FLAG(std::string, briefing_time, "", "preferred briefing time, HH:MM");
ABSL_FLAG(std::string, etag, "", "etag from a previous read: refuse the update if stale");
ABSL_FLAG(bool, paused, false, "briefings paused: true stops scheduling them, false resumes");
ABSL_FLAG(std::string, provider, "google", "OAuth provider");
ABSL_FLAG(std::string, subject, "", "the provider's user id");
ABSL_FLAG(std::string, access_token, "", "OAuth access token");
ABSL_FLAG(std::string, refresh_token, "", "OAuth refresh token");
ABSL_FLAG(std::string, expiry, "", "token expiry, RFC 3339 (e.g. 2026-12-01T07:00:00Z)");
ABSL_FLAG(std::string, request_id, "", "idempotency key for briefings create");
ABSL_FLAG(std::string, status, "", "pending, processing, completed or failed");
ABSL_FLAG(bool, unread, false, "only briefings not yet read");
ABSL_FLAG(absl::Duration, lease, absl::ZeroDuration(), "claim lease (0: the server's 5m)");
ABSL_FLAG(absl::Duration, wait, absl::ZeroDuration(),
          "claim: wait up to this long for work (at most 5m; 0: answer at once)");
ABSL_FLAG(int64_t, user, 0, "briefings watch: the user whose briefings to watch");
ABSL_FLAG(std::string, resume, "", "briefings watch: resume after this token");
ABSL_FLAG(std::string, content, "{}", "briefing content, a JSON object");
ABSL_FLAG(std::string, error, "", "why the briefing failed");

namespace {

namespace v1 = firstsip::v1;
using firstsip::client::Client;

constexpr int kUsageError = 2;
constexpr int kNotServing = 1;
constexpr int kRpcErrorBase = 10;

constexpr char kUsage[] = R"(firstsip: call the First Sip data service.

usage: firstsip [--target=HOST:PORT] [--json] [--timeout=5s] GROUP COMMAND [ARGS] [--FLAGS]
       TLS: --tls-ca=CA.pem [--tls-cert=CLIENT.pem --tls-key=CLIENT.key]

groups:
  health                                     is the server SERVING?
  users       get|get-by-email|list|create|update|delete|undelete|erase|export
  signin                                     sign a user in with OAuth tokens
  identities  list|get|tokens|delete
  briefings   create|get|list|start|claim|complete|fail|read|delete|watch

  firstsip users export ID > ada.json   everything held about a user, as one JSON document
  firstsip users erase ID --etag=ETAG   erase a user for good (take the etag from users get)
  firstsip briefings claim --wait=30s [--lease=2m]   a worker waits for work instead of polling
  firstsip briefings watch --user=ID [--resume=TOKEN]
      one line per change to the user's briefings (--json: JSON lines) until Ctrl-C; resumes
      by itself when the server goes away (said on stderr); no deadline (--timeout is ignored)

Run `firstsip GROUP --help` or `firstsip GROUP COMMAND --help` for more. The target also comes
from FIRSTSIP_TARGET (default 127.0.0.1:50051).

exit codes: 0 ok, 1 not SERVING (health), 2 usage, 10 + gRPC code for errors from the service
(13 INVALID_ARGUMENT, 15 NOT_FOUND, 16 ALREADY_EXISTS, 19 FAILED_PRECONDITION, 20 ABORTED,
24 UNAVAILABLE, 14 DEADLINE_EXCEEDED, ...); errors print as `error: CODE: message` on stderr.
)";

struct Command {
  std::string usage;   // arguments and flags
  std::string help;    // one line
  int positional = 0;  // required positional arguments
  std::function<int(Client&, const std::vector<std::string>&)> run;
};

std::set<std::string> given_flags;  // flags named on the command line

bool Given(const char* flag) { return given_flags.count(flag) > 0; }

std::string CodeName(absl::StatusCode code) { return absl::StatusCodeToString(code); }

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "error: %s: %s\n", CodeName(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kRpcErrorBase + static_cast<int>(status.code());
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "firstsip: %s (see --help)\n", message.c_str());
  return kUsageError;
}

std::string Time(const google::protobuf::Timestamp& t, bool has) {
  if (!has) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
                          absl::UTCTimeZone());
}

// Prints rows as aligned columns; the first row is the header.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  std::printf("%s\n", json.c_str());
}

std::vector<std::string> UserHeader() {
  return {"ID",     "EMAIL", "NAME", "TIMEZONE", "BRIEFING", "NEXT BRIEFING",
          "PAUSED", "ROLE",  "ETAG", "DELETED"};
}
std::vector<std::string> UserRow(const v1::User& u) {
  return {absl::StrCat(u.id()),
          u.email(),
          u.name(),
          u.timezone(),
          u.preferred_briefing_time(),
          Time(u.next_briefing_time(), u.has_next_briefing_time()),
          u.briefings_paused() ? "yes" : "no",
          u.role() == v1::ROLE_ADMIN ? "admin" : "user",
          u.etag(),
          Time(u.delete_time(), u.has_delete_time())};
}
std::vector<std::string> IdentityHeader() {
  return {"ID", "USER", "PROVIDER", "SUBJECT", "ACCESS", "REFRESH", "EXPIRY"};
}
std::vector<std::string> IdentityRow(const v1::AuthIdentity& i) {
  return {absl::StrCat(i.id()),
          absl::StrCat(i.user_id()),
          i.provider(),
          i.provider_user_id(),
          i.has_access_token() ? "yes" : "no",
          i.has_refresh_token() ? "yes" : "no",
          Time(i.token_expiry(), i.has_token_expiry())};
}
std::vector<std::string> TokensHeader() { return {"ACCESS", "REFRESH", "EXPIRY"}; }
std::vector<std::string> TokensRow(const v1::OAuthTokens& t) {
  return {t.access_token(), t.refresh_token(), Time(t.expiry(), t.has_expiry())};
}
std::vector<std::string> BriefingHeader() {
  return {"ID", "USER", "STATUS", "CREATED", "READ", "ERROR"};
}
std::vector<std::string> BriefingRow(const v1::Briefing& b) {
  std::string status = v1::BriefingStatus_Name(b.status());
  return {absl::StrCat(b.id()),
          absl::StrCat(b.user_id()),
          status.substr(std::string("BRIEFING_STATUS_").size()),
          Time(b.create_time(), b.has_create_time()),
          Time(b.read_at(), b.has_read_at()),
          b.error_message().empty() ? "-" : b.error_message()};
}

// One line for one change: what a person watching needs, and the token to resume after it.
std::string ChangeLine(const v1::WatchBriefingsResponse& change) {
  const v1::Briefing& b = change.briefing();
  std::string status = v1::BriefingStatus_Name(b.status());
  return absl::StrCat(
      "briefing=", b.id(), " status=", status.substr(std::string("BRIEFING_STATUS_").size()),
      " read=", b.has_read_at() ? "yes" : "no", " deleted=", b.has_delete_time() ? "yes" : "no",
      " updated=", Time(b.update_time(), b.has_update_time()), " resume=", change.resume_token());
}

// SIGINT and SIGTERM cancel `watch` from a thread of their own: the handler only writes to a
// pipe (async-signal-safe), the thread reads it and calls Cancel().
class CancelOnSignal {
 public:
  explicit CancelOnSignal(firstsip::client::BriefingWatch& watch) {
    if (pipe2(fds_, O_CLOEXEC) != 0) return;
    write_fd_ = fds_[1];
    struct sigaction action = {};
    action.sa_handler = [](int) {
      char byte = 's';
      (void)!write(write_fd_, &byte, 1);
    };
    action.sa_flags = SA_RESTART;  // a print the signal interrupts goes on, whole
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    thread_ = std::thread([this, &watch] {
      char byte = 0;
      while (read(fds_[0], &byte, 1) < 0 && errno == EINTR) {
      }
      if (byte == 's') {
        signalled_ = true;
        watch.Cancel();
      }
    });
  }
  ~CancelOnSignal() {
    if (!thread_.joinable()) return;
    char byte = 'q';  // the watch ended by itself: let the thread go
    (void)!write(fds_[1], &byte, 1);
    thread_.join();
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    close(fds_[0]);
    close(fds_[1]);
  }
  // True once a signal cancelled the watch (read after the watch ended).
  bool signalled() const { return signalled_; }

 private:
  static inline int write_fd_ = -1;
  int fds_[2] = {-1, -1};
  std::atomic<bool> signalled_ = false;
  std::thread thread_;
};

int Watch(Client& client, int64_t user_id) {
  const bool json = absl::GetFlag(FLAGS_json);
  firstsip::client::WatchOptions options;
  bool resumed = false;
  options.on_live = [&] {
    if (resumed) {
      std::fprintf(stderr, "watch: resumed\n");
    } else {
      std::fprintf(stderr, "watch: watching the briefings of user %lld (Ctrl-C to stop)\n",
                   static_cast<long long>(user_id));
    }
  };
  options.on_resume = [&](const absl::Status& ended, absl::Duration delay) {
    resumed = true;
    std::fprintf(stderr, "watch: stream ended (%s: %s); resuming in %s\n",
                 CodeName(ended.code()).c_str(), std::string(ended.message()).c_str(),
                 absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(1))).c_str());
  };
  auto watch = client.WatchBriefings(user_id, absl::GetFlag(FLAGS_resume), std::move(options));
  CancelOnSignal cancel_on_signal(*watch);
  while (true) {
    absl::StatusOr<v1::WatchBriefingsResponse> change = watch->Next();
    if (!change.ok()) {
      if (cancel_on_signal.signalled()) return 0;
      return Fail(change.status());
    }
    if (json) {
      PrintJson(*change);
    } else {
      std::printf("%s\n", ChangeLine(*change).c_str());
    }
    std::fflush(stdout);
  }
}

template <typename T>
int Show(const absl::StatusOr<T>& result, std::vector<std::string> header,
         std::vector<std::string> (*row)(const T&)) {
  if (!result.ok()) return Fail(result.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*result);
  } else {
    PrintTable({header, row(*result)});
  }
  return 0;
}

int ShowEmpty(const absl::Status& status) {
  if (!status.ok()) return Fail(status);
  if (absl::GetFlag(FLAGS_json)) std::printf("{}\n");
  return 0;
}

std::optional<int64_t> ParseId(const std::string& text) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(text, &id)) return std::nullopt;
  return id;
}

std::optional<v1::Role> ParseRole(const std::string& text) {
  if (text == "user") return v1::ROLE_USER;
  if (text == "admin") return v1::ROLE_ADMIN;
  return std::nullopt;
}

std::optional<v1::BriefingStatus> ParseStatus(const std::string& text) {
  v1::BriefingStatus status;
  std::string name = "BRIEFING_STATUS_" + text;
  std::transform(name.begin(), name.end(), name.begin(), ::toupper);
  if (!v1::BriefingStatus_Parse(name, &status)) return std::nullopt;
  return status;
}

// Runs `body` with the first argument parsed as an id.
int WithId(const std::vector<std::string>& args, const std::function<int(int64_t)>& body) {
  std::optional<int64_t> id = ParseId(args[0]);
  if (!id) return Usage(absl::StrCat("\"", args[0], "\" is not an id"));
  return body(*id);
}

std::map<std::string, std::map<std::string, Command>> Commands() {
  std::map<std::string, std::map<std::string, Command>> groups;
  auto& users = groups["users"];
  users["get"] = {"ID [--show-deleted]", "show one user", 1, [](Client& c, const auto& a) {
                    return WithId(a, [&](int64_t id) {
                      return Show(c.GetUser(id, absl::GetFlag(FLAGS_show_deleted)), UserHeader(),
                                  &UserRow);
                    });
                  }};
  users["get-by-email"] = {"EMAIL", "find a live user by email (any case)", 1,
                           [](Client& c, const auto& a) {
                             return Show(c.GetUserByEmail(a[0]), UserHeader(), &UserRow);
                           }};
  users["list"] = {"[--page-size=N] [--page-token=T] [--show-deleted] [--role=user|admin]",
                   "list users in id order", 0, [](Client& c, const auto&) {
                     v1::ListUsersRequest request;
                     request.set_page_size(absl::GetFlag(FLAGS_page_size));
                     request.set_page_token(absl::GetFlag(FLAGS_page_token));
                     request.set_show_deleted(absl::GetFlag(FLAGS_show_deleted));
                     if (Given("role")) {
                       auto role = ParseRole(absl::GetFlag(FLAGS_role));
                       if (!role) return Usage("--role must be user or admin");
                       request.set_role(*role);
                     }
                     auto page = c.ListUsers(request);
                     if (!page.ok()) return Fail(page.status());
                     if (absl::GetFlag(FLAGS_json)) {
                       PrintJson(*page);
                       return 0;
                     }
                     std::vector<std::vector<std::string>> rows = {UserHeader()};
                     for (const auto& user : page->users()) rows.push_back(UserRow(user));
                     PrintTable(rows);
                     if (!page->next_page_token().empty()) {
                       std::printf("next page: --page-token=%s\n", page->next_page_token().c_str());
                     }
                     return 0;
                   }};
  users["create"] = {
      "--email=E [--name=N] [--timezone=Z] [--briefing-time=HH:MM] [--role=R] "
      "[--paused=true]",
      "create a user", 0, [](Client& c, const auto&) {
        v1::User user;
        user.set_email(absl::GetFlag(FLAGS_email));
        user.set_name(absl::GetFlag(FLAGS_name));
        user.set_timezone(absl::GetFlag(FLAGS_timezone));
        user.set_preferred_briefing_time(absl::GetFlag(FLAGS_briefing_time));
        user.set_briefings_paused(absl::GetFlag(FLAGS_paused));
        if (Given("role")) {
          auto role = ParseRole(absl::GetFlag(FLAGS_role));
          if (!role) return Usage("--role must be user or admin");
          user.set_role(*role);
        }
        return Show(c.CreateUser(user), UserHeader(), &UserRow);
      }};
  users["update"] = {
      "ID [--email=E] [--name=N] [--timezone=Z] [--briefing-time=HH:MM] [--role=R] "
      "[--paused=true|false] [--etag=T]",
      "change the given fields of a user", 1, [](Client& c, const auto& a) {
        return WithId(a, [&](int64_t id) {
          v1::UpdateUserRequest request;
          v1::User* user = request.mutable_user();
          user->set_id(id);
          user->set_etag(absl::GetFlag(FLAGS_etag));
          auto* mask = request.mutable_update_mask();
          if (Given("email")) user->set_email(absl::GetFlag(FLAGS_email)), mask->add_paths("email");
          if (Given("name")) user->set_name(absl::GetFlag(FLAGS_name)), mask->add_paths("name");
          if (Given("timezone")) {
            user->set_timezone(absl::GetFlag(FLAGS_timezone));
            mask->add_paths("timezone");
          }
          if (Given("briefing_time")) {
            user->set_preferred_briefing_time(absl::GetFlag(FLAGS_briefing_time));
            mask->add_paths("preferred_briefing_time");
          }
          if (Given("role")) {
            auto role = ParseRole(absl::GetFlag(FLAGS_role));
            if (!role) return Usage("--role must be user or admin");
            user->set_role(*role);
            mask->add_paths("role");
          }
          if (Given("paused")) {
            user->set_briefings_paused(absl::GetFlag(FLAGS_paused));
            mask->add_paths("briefings_paused");
          }
          if (mask->paths_size() == 0) return Usage("name at least one field to change");
          return Show(c.UpdateUser(request), UserHeader(), &UserRow);
        });
      }};
  users["delete"] = {"ID", "soft-delete a user", 1, [](Client& c, const auto& a) {
                       return WithId(a, [&](int64_t id) {
                         return Show(c.DeleteUser(id), UserHeader(), &UserRow);
                       });
                     }};
  users["undelete"] = {"ID", "restore a soft-deleted user", 1, [](Client& c, const auto& a) {
                         return WithId(a, [&](int64_t id) {
                           return Show(c.UndeleteUser(id), UserHeader(), &UserRow);
                         });
                       }};

  users["erase"] = {"ID --etag=ETAG",
                    "erase a user for good: identities, tokens, briefings, personal fields", 1,
                    [](Client& c, const auto& a) {
                      return WithId(a, [&](int64_t id) {
                        if (!Given("etag")) {
                          return Usage(
                              "users erase needs --etag (from `users get ID "
                              "--show-deleted`): erasure cannot be undone");
                        }
                        return ShowEmpty(c.EraseUser(id, absl::GetFlag(FLAGS_etag)));
                      });
                    }};
  users["export"] = {"ID",
                     "everything held about a user as one JSON document (an ExportUserResponse)", 1,
                     [](Client& c, const auto& a) {
                       return WithId(a, [&](int64_t id) {
                         // One document, whatever --json says: the stream's messages merged, in
                         // protobuf's JSON mapping, so JsonStringToMessage reads it back into an
                         // ExportUserResponse.
                         auto exported = c.ExportUser(id);
                         if (!exported.ok()) return Fail(exported.status());
                         PrintJson(*exported);
                         return 0;
                       });
                     }};

  auto& identities = groups["identities"];
  identities["list"] = {"USER_ID", "a user's linked provider accounts", 1,
                        [](Client& c, const auto& a) {
                          return WithId(a, [&](int64_t id) {
                            auto list = c.ListIdentities(id);
                            if (!list.ok()) return Fail(list.status());
                            if (absl::GetFlag(FLAGS_json)) {
                              PrintJson(*list);
                              return 0;
                            }
                            std::vector<std::vector<std::string>> rows = {IdentityHeader()};
                            for (const auto& i : list->identities()) rows.push_back(IdentityRow(i));
                            PrintTable(rows);
                            return 0;
                          });
                        }};
  identities["get"] = {
      "ID", "show one identity (never its tokens)", 1, [](Client& c, const auto& a) {
        return WithId(
            a, [&](int64_t id) { return Show(c.GetIdentity(id), IdentityHeader(), &IdentityRow); });
      }};
  identities["tokens"] = {
      "ID", "print an identity's OAuth tokens in plaintext", 1, [](Client& c, const auto& a) {
        return WithId(
            a, [&](int64_t id) { return Show(c.GetTokens(id), TokensHeader(), &TokensRow); });
      }};
  identities["delete"] = {"ID", "unlink a provider account; its tokens are gone for good", 1,
                          [](Client& c, const auto& a) {
                            return WithId(
                                a, [&](int64_t id) { return ShowEmpty(c.DeleteIdentity(id)); });
                          }};

  auto& briefings = groups["briefings"];
  briefings["create"] = {"USER_ID [--request-id=K]", "ask for a briefing (PENDING)", 1,
                         [](Client& c, const auto& a) {
                           return WithId(a, [&](int64_t id) {
                             return Show(c.CreateBriefing(id, absl::GetFlag(FLAGS_request_id)),
                                         BriefingHeader(), &BriefingRow);
                           });
                         }};
  briefings["get"] = {"ID", "show one briefing", 1, [](Client& c, const auto& a) {
                        return WithId(a, [&](int64_t id) {
                          return Show(c.GetBriefing(id), BriefingHeader(), &BriefingRow);
                        });
                      }};
  briefings["list"] = {
      "USER_ID [--status=S] [--unread] [--page-size=N] [--page-token=T]",
      "a user's briefings, newest first", 1, [](Client& c, const auto& a) {
        return WithId(a, [&](int64_t id) {
          v1::ListBriefingsRequest request;
          request.set_user_id(id);
          request.set_page_size(absl::GetFlag(FLAGS_page_size));
          request.set_page_token(absl::GetFlag(FLAGS_page_token));
          request.set_unread_only(absl::GetFlag(FLAGS_unread));
          if (Given("status")) {
            auto status = ParseStatus(absl::GetFlag(FLAGS_status));
            if (!status) return Usage("--status must be pending, processing, completed or failed");
            request.set_status(*status);
          }
          auto page = c.ListBriefings(request);
          if (!page.ok()) return Fail(page.status());
          if (absl::GetFlag(FLAGS_json)) {
            PrintJson(*page);
            return 0;
          }
          std::vector<std::vector<std::string>> rows = {BriefingHeader()};
          for (const auto& b : page->briefings()) rows.push_back(BriefingRow(b));
          PrintTable(rows);
          if (!page->next_page_token().empty()) {
            std::printf("next page: --page-token=%s\n", page->next_page_token().c_str());
          }
          return 0;
        });
      }};
  briefings["start"] = {"ID", "PENDING -> PROCESSING", 1, [](Client& c, const auto& a) {
                          return WithId(a, [&](int64_t id) {
                            return Show(c.StartBriefing(id), BriefingHeader(), &BriefingRow);
                          });
                        }};
  briefings["claim"] = {"[--lease=2m] [--wait=30s]",
                        "take the oldest pending briefing for a worker, waiting for one if asked",
                        0, [](Client& c, const auto&) {
                          std::optional<absl::Duration> lease;
                          if (absl::GetFlag(FLAGS_lease) > absl::ZeroDuration())
                            lease = absl::GetFlag(FLAGS_lease);
                          auto claimed = c.ClaimNextBriefing(lease, absl::GetFlag(FLAGS_wait));
                          if (!claimed.ok()) return Fail(claimed.status());
                          if (absl::GetFlag(FLAGS_json)) {
                            v1::ClaimNextBriefingResponse response;
                            if (claimed->has_value()) *response.mutable_briefing() = **claimed;
                            PrintJson(response);
                          } else if (!claimed->has_value()) {
                            std::printf("nothing to do\n");
                          } else {
                            PrintTable({BriefingHeader(), BriefingRow(**claimed)});
                          }
                          return 0;
                        }};
  briefings["complete"] = {
      "ID --content=JSON", "PROCESSING -> COMPLETED with its content", 1,
      [](Client& c, const auto& a) {
        return WithId(a, [&](int64_t id) {
          google::protobuf::Struct content;
          if (!google::protobuf::util::JsonStringToMessage(absl::GetFlag(FLAGS_content), &content)
                   .ok()) {
            return Usage("--content must be a JSON object");
          }
          return Show(c.CompleteBriefing(id, content), BriefingHeader(), &BriefingRow);
        });
      }};
  briefings["fail"] = {"ID --error=MESSAGE", "PROCESSING -> FAILED", 1,
                       [](Client& c, const auto& a) {
                         return WithId(a, [&](int64_t id) {
                           return Show(c.FailBriefing(id, absl::GetFlag(FLAGS_error)),
                                       BriefingHeader(), &BriefingRow);
                         });
                       }};
  briefings["read"] = {"ID", "mark a completed briefing read", 1, [](Client& c, const auto& a) {
                         return WithId(a, [&](int64_t id) {
                           return Show(c.MarkBriefingRead(id), BriefingHeader(), &BriefingRow);
                         });
                       }};
  briefings["delete"] = {"ID", "soft-delete a briefing", 1, [](Client& c, const auto& a) {
                           return WithId(
                               a, [&](int64_t id) { return ShowEmpty(c.DeleteBriefing(id)); });
                         }};
  briefings["watch"] = {"--user=ID [--resume=TOKEN]",
                        "print each change to a user's briefings as it commits, until Ctrl-C", 0,
                        [](Client& c, const auto&) {
                          if (!Given("user")) return Usage("briefings watch needs --user=ID");
                          return Watch(c, absl::GetFlag(FLAGS_user));
                        }};
  return groups;
}

int SignIn(Client& client) {
  v1::SignInRequest request;
  request.set_provider(absl::GetFlag(FLAGS_provider));
  request.set_provider_user_id(absl::GetFlag(FLAGS_subject));
  request.set_email(absl::GetFlag(FLAGS_email));
  request.set_name(absl::GetFlag(FLAGS_name));
  request.set_timezone(absl::GetFlag(FLAGS_timezone));
  request.mutable_tokens()->set_access_token(absl::GetFlag(FLAGS_access_token));
  request.mutable_tokens()->set_refresh_token(absl::GetFlag(FLAGS_refresh_token));
  if (Given("expiry")) {
    absl::Time expiry;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, absl::GetFlag(FLAGS_expiry), &expiry, &error)) {
      return Usage("--expiry must be RFC 3339, e.g. 2026-12-01T07:00:00Z");
    }
    request.mutable_tokens()->mutable_expiry()->set_seconds(absl::ToUnixSeconds(expiry));
  }
  auto response = client.SignIn(request);
  if (!response.ok()) return Fail(response.status());
  if (absl::GetFlag(FLAGS_json)) {
    PrintJson(*response);
    return 0;
  }
  PrintTable({UserHeader(), UserRow(response->user())});
  std::printf("\n");
  PrintTable({IdentityHeader(), IdentityRow(response->identity())});
  std::printf("\nuser created: %s, identity created: %s\n", response->user_created() ? "yes" : "no",
              response->identity_created() ? "yes" : "no");
  return 0;
}

int Health(Client& client) {
  auto healthy = client.Healthy();
  if (!healthy.ok()) return Fail(healthy.status());
  if (absl::GetFlag(FLAGS_json)) {
    std::printf("{\"status\":\"%s\"}\n", *healthy ? "SERVING" : "NOT_SERVING");
  } else {
    std::printf("%s\n", *healthy ? "SERVING" : "NOT_SERVING");
  }
  return *healthy ? 0 : kNotServing;
}

void PrintGroupHelp(const std::string& group, const std::map<std::string, Command>& commands) {
  std::printf("usage: firstsip [--target=HOST:PORT] [--json] %s COMMAND [ARGS]\n\ncommands:\n",
              group.c_str());
  for (const auto& [name, command] : commands) {
    std::printf("  %-14s %s\n      %s %s %s\n", name.c_str(), command.help.c_str(), group.c_str(),
                name.c_str(), command.usage.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  // Flags may be spelled with dashes; Abseil's names use underscores. Note which were given.
  std::vector<std::string> args(argv, argv + argc);
  bool help = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--help" || arg == "-h" || arg == "help") {
      help = true;
      continue;
    }
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) continue;
    size_t end = std::min(arg.find('='), arg.size());
    for (size_t k = 2; k < end; ++k) {
      if (arg[k] == '-') arg[k] = '_';
    }
    std::string name = arg.substr(2, end - 2);
    given_flags.insert(name.rfind("no", 0) == 0 && end == arg.size() ? name.substr(2) : name);
  }
  std::vector<char*> pointers;
  for (std::string& arg : args) {
    if (arg != "--help" && arg != "-h" && arg != "help") pointers.push_back(arg.data());
  }
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(pointers.size()), pointers.data());
  std::vector<std::string> words(positional.begin() + 1, positional.end());

  auto groups = Commands();
  if (words.empty()) {
    std::printf("%s", kUsage);
    return help ? 0 : kUsageError;
  }
  const std::string& group = words[0];
  bool is_group = groups.count(group) > 0;
  if (help) {
    if (is_group && words.size() >= 2 && groups[group].count(words[1])) {
      const Command& command = groups[group][words[1]];
      std::printf("usage: firstsip [--target=HOST:PORT] [--json] %s %s %s\n\n%s\n", group.c_str(),
                  words[1].c_str(), command.usage.c_str(), command.help.c_str());
    } else if (is_group) {
      PrintGroupHelp(group, groups[group]);
    } else if (group == "signin") {
      std::printf(
          "usage: firstsip signin --subject=ID --email=E [--provider=google] [--name=N]\n"
          "       [--timezone=Z] [--access-token=T] [--refresh-token=T] [--expiry=RFC3339]\n\n"
          "sign a user in: links or creates the user and stores the tokens encrypted\n");
    } else if (group == "health") {
      std::printf("usage: firstsip health\n\nprints SERVING (exit 0) or NOT_SERVING (exit 1)\n");
    } else {
      std::printf("%s", kUsage);
    }
    return 0;
  }

  firstsip::client::ClientOptions options;
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    const char* from_env = std::getenv("FIRSTSIP_TARGET");
    target = from_env && *from_env ? from_env : "127.0.0.1:50051";
  }
  options.target = target;
  options.timeout = absl::GetFlag(FLAGS_timeout);
  auto read = [](const std::string& path, std::string* out) {
    std::ifstream file(path);
    out->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    return static_cast<bool>(file);
  };
  if (!absl::GetFlag(FLAGS_tls_ca).empty()) {
    options.tls = true;
    if (!read(absl::GetFlag(FLAGS_tls_ca), &options.root_certificates) ||
        (!absl::GetFlag(FLAGS_tls_cert).empty() &&
         !read(absl::GetFlag(FLAGS_tls_cert), &options.client_certificate)) ||
        (!absl::GetFlag(FLAGS_tls_key).empty() &&
         !read(absl::GetFlag(FLAGS_tls_key), &options.client_key))) {
      return Usage("cannot read a --tls-* file");
    }
  }
  auto client = Client::Create(options);
  if (!client.ok()) return Usage(std::string(client.status().message()));

  if (group == "health" && words.size() == 1) return Health(**client);
  if (group == "signin" && words.size() == 1) return SignIn(**client);
  if (!is_group) return Usage(absl::StrCat("unknown command \"", group, "\""));
  if (words.size() < 2) return Usage(absl::StrCat(group, " needs a command"));
  auto found = groups[group].find(words[1]);
  if (found == groups[group].end()) {
    return Usage(absl::StrCat("unknown command \"", group, " ", words[1], "\""));
  }
  std::vector<std::string> rest(words.begin() + 2, words.end());
  if (static_cast<int>(rest.size()) != found->second.positional) {
    return Usage(absl::StrCat("usage: firstsip ", group, " ", words[1], " ", found->second.usage));
  }
  return found->second.run(**client, rest);
}
