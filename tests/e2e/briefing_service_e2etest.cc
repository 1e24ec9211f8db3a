// BriefingService through gRPC against the real server and PostgreSQL: the status lifecycle,
// the worker queue, JSON content, listing.
#include <atomic>
#include <barrier>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/blocking_connection.h"
#include "firstsip/v1/briefing.grpc.pb.h"
#include "firstsip/v1/user.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using google::protobuf::Struct;
using grpc::StatusCode;

Struct Json(const std::string& text) {
  Struct content;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text, &content).ok()) << text;
  return content;
}

class BriefingServiceTest : public testing::RunningServerTest {
 protected:
  void SetUp() override {
    RunningServerTest::SetUp();
    if (HasFatalFailure()) return;
    briefings_ = v1::BriefingService::NewStub(channel_);
    users_ = v1::UserService::NewStub(channel_);
    user_id_ = MakeUser("ada@example.com");
  }

  int64_t MakeUser(const std::string& email) {
    v1::CreateUserRequest request;
    request.mutable_user()->set_email(email);
    v1::User user;
    EXPECT_TRUE(users_->CreateUser(Context().get(), request, &user).ok());
    return user.id();
  }

  v1::Briefing Create(int64_t user_id, const std::string& request_id = "") {
    v1::CreateBriefingRequest request;
    request.set_user_id(user_id);
    request.set_request_id(request_id);
    v1::Briefing briefing;
    grpc::Status status = briefings_->CreateBriefing(Context().get(), request, &briefing);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return briefing;
  }

  grpc::Status Start(int64_t id, v1::Briefing* out) {
    v1::StartBriefingRequest request;
    request.set_id(id);
    return briefings_->StartBriefing(Context().get(), request, out);
  }
  grpc::Status Complete(int64_t id, const Struct& content, v1::Briefing* out) {
    v1::CompleteBriefingRequest request;
    request.set_id(id);
    *request.mutable_content() = content;
    return briefings_->CompleteBriefing(Context().get(), request, out);
  }
  grpc::Status Fail(int64_t id, const std::string& message, v1::Briefing* out) {
    v1::FailBriefingRequest request;
    request.set_id(id);
    request.set_error_message(message);
    return briefings_->FailBriefing(Context().get(), request, out);
  }
  grpc::Status MarkRead(int64_t id, v1::Briefing* out) {
    v1::MarkBriefingReadRequest request;
    request.set_id(id);
    return briefings_->MarkBriefingRead(Context().get(), request, out);
  }
  grpc::Status Get(int64_t id, v1::Briefing* out) {
    v1::GetBriefingRequest request;
    request.set_id(id);
    return briefings_->GetBriefing(Context().get(), request, out);
  }
  grpc::Status Delete(int64_t id) {
    v1::DeleteBriefingRequest request;
    request.set_id(id);
    google::protobuf::Empty empty;
    return briefings_->DeleteBriefing(Context().get(), request, &empty);
  }
  grpc::Status Claim(v1::ClaimNextBriefingResponse* out, int64_t lease_ms = 0) {
    v1::ClaimNextBriefingRequest request;
    if (lease_ms > 0) {
      request.mutable_lease()->set_seconds(lease_ms / 1000);
      request.mutable_lease()->set_nanos(static_cast<int32_t>((lease_ms % 1000) * 1'000'000));
    }
    return briefings_->ClaimNextBriefing(Context().get(), request, out);
  }
  v1::Briefing Completed(int64_t user_id) {
    v1::Briefing briefing = Create(user_id);
    v1::Briefing out;
    EXPECT_TRUE(Start(briefing.id(), &out).ok());
    EXPECT_TRUE(Complete(briefing.id(), Json(R"({"news": []})"), &out).ok());
    return out;
  }
  std::vector<int64_t> ListIds(v1::ListBriefingsRequest request, std::string* next = nullptr) {
    v1::ListBriefingsResponse response;
    grpc::Status status = briefings_->ListBriefings(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<int64_t> ids;
    for (const auto& briefing : response.briefings()) ids.push_back(briefing.id());
    if (next) *next = response.next_page_token();
    return ids;
  }
  std::unique_ptr<db::BlockingConnection> Database() {
    auto connection = db::BlockingConnection::Open(database_->dsn());
    EXPECT_TRUE(connection.ok());
    return std::move(*connection);
  }

  std::unique_ptr<v1::BriefingService::Stub> briefings_;
  std::unique_ptr<v1::UserService::Stub> users_;
  int64_t user_id_ = 0;
};

TEST_F(BriefingServiceTest, CreateBriefingIsPendingForALiveUserOnly) {
  v1::Briefing briefing = Create(user_id_);
  EXPECT_GT(briefing.id(), 0);
  EXPECT_EQ(briefing.user_id(), user_id_);
  EXPECT_EQ(briefing.status(), v1::BRIEFING_STATUS_PENDING);
  EXPECT_FALSE(briefing.has_content());
  EXPECT_TRUE(briefing.has_create_time());
  EXPECT_FALSE(briefing.has_read_at());
  EXPECT_FALSE(briefing.has_delete_time());
  v1::CreateBriefingRequest request;
  request.set_user_id(user_id_ + 100);
  v1::Briefing out;
  EXPECT_EQ(briefings_->CreateBriefing(Context().get(), request, &out).error_code(),
            StatusCode::NOT_FOUND);
  int64_t gone = MakeUser("gone@example.com");
  v1::DeleteUserRequest remove;
  remove.set_id(gone);
  v1::User deleted;
  ASSERT_TRUE(users_->DeleteUser(Context().get(), remove, &deleted).ok());
  request.set_user_id(gone);
  EXPECT_EQ(briefings_->CreateBriefing(Context().get(), request, &out).error_code(),
            StatusCode::NOT_FOUND);
  request.set_user_id(0);
  EXPECT_EQ(briefings_->CreateBriefing(Context().get(), request, &out).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(BriefingServiceTest, ARepeatedRequestIdReturnsTheFirstBriefingEvenUnderConcurrency) {
  v1::Briefing first = Create(user_id_, "morning-2026-11-25");
  EXPECT_EQ(Create(user_id_, "morning-2026-11-25").id(), first.id());
  int64_t other_user = MakeUser("grace@example.com");
  EXPECT_NE(Create(other_user, "morning-2026-11-25").id(), first.id()) << "keys are per user";
  EXPECT_NE(Create(user_id_).id(), Create(user_id_).id()) << "no key: every call creates";

  constexpr int kCallers = 8;
  std::barrier start(kCallers);
  std::vector<int64_t> ids(kCallers);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      start.arrive_and_wait();
      ids[i] = Create(user_id_, "retry-storm").id();
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
}

TEST_F(BriefingServiceTest, StartThenCompleteStoresContentAndStampsTheUsersLastBriefing) {
  v1::Briefing briefing = Create(user_id_);
  v1::Briefing started;
  ASSERT_TRUE(Start(briefing.id(), &started).ok());
  EXPECT_EQ(started.status(), v1::BRIEFING_STATUS_PROCESSING);
  Struct content = Json(R"({"news": [{"title": "Rain"}], "weather": {"high_c": 9}, "work": {}})");
  v1::Briefing completed;
  ASSERT_TRUE(Complete(briefing.id(), content, &completed).ok());
  EXPECT_EQ(completed.status(), v1::BRIEFING_STATUS_COMPLETED);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(completed.content(), content));
  v1::GetUserRequest get_user;
  get_user.set_id(user_id_);
  v1::User user;
  ASSERT_TRUE(users_->GetUser(Context().get(), get_user, &user).ok());
  ASSERT_TRUE(user.has_last_briefing_at());
  EXPECT_GE(user.last_briefing_at().seconds(), completed.create_time().seconds());
}

TEST_F(BriefingServiceTest, WrongTransitionsAreFailedPreconditionNamingTheCurrentStatus) {
  v1::Briefing pending = Create(user_id_);
  v1::Briefing out;
  grpc::Status status = Complete(pending.id(), Json("{}"), &out);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "BRIEFING_STATUS_PENDING"))
      << status.error_message();
  EXPECT_EQ(Fail(pending.id(), "x", &out).error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(MarkRead(pending.id(), &out).error_code(), StatusCode::FAILED_PRECONDITION);
  v1::Briefing completed = Completed(user_id_);
  status = Start(completed.id(), &out);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "BRIEFING_STATUS_COMPLETED"));
  EXPECT_EQ(Complete(completed.id(), Json("{}"), &out).error_code(),
            StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Fail(completed.id(), "late", &out).error_code(), StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Get(completed.id(), &out).ok());
  EXPECT_EQ(out.status(), v1::BRIEFING_STATUS_COMPLETED) << "a refused transition changes nothing";
  EXPECT_EQ(Start(completed.id() + 1000, &out).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Start(0, &out).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(BriefingServiceTest, ConcurrentStartsOfOneBriefingLetExactlyOneWin) {
  v1::Briefing briefing = Create(user_id_);
  constexpr int kWorkers = 8;
  std::barrier start(kWorkers);
  std::atomic<int> started{0}, refused{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < kWorkers; ++i) {
    workers.emplace_back([&] {
      v1::Briefing out;
      start.arrive_and_wait();
      grpc::Status status = Start(briefing.id(), &out);
      if (status.ok()) ++started;
      if (status.error_code() == StatusCode::FAILED_PRECONDITION) ++refused;
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(started.load(), 1);
  EXPECT_EQ(refused.load(), kWorkers - 1);
}

TEST_F(BriefingServiceTest, FailBriefingKeepsTheMessage) {
  v1::Briefing briefing = Create(user_id_);
  v1::Briefing out;
  ASSERT_TRUE(Start(briefing.id(), &out).ok());
  ASSERT_TRUE(Fail(briefing.id(), "weather API timed out", &out).ok());
  EXPECT_EQ(out.status(), v1::BRIEFING_STATUS_FAILED);
  EXPECT_EQ(out.error_message(), "weather API timed out");
}

TEST_F(BriefingServiceTest, MarkReadSetsReadAtOnce) {
  v1::Briefing completed = Completed(user_id_);
  v1::Briefing first, second;
  ASSERT_TRUE(MarkRead(completed.id(), &first).ok());
  ASSERT_TRUE(first.has_read_at());
  absl::SleepFor(absl::Milliseconds(5));
  ASSERT_TRUE(MarkRead(completed.id(), &second).ok());
  EXPECT_EQ(second.read_at().seconds(), first.read_at().seconds());
  EXPECT_EQ(second.read_at().nanos(), first.read_at().nanos());
}

TEST_F(BriefingServiceTest, DeleteIsSoft) {
  v1::Briefing briefing = Create(user_id_);
  ASSERT_TRUE(Delete(briefing.id()).ok());
  v1::Briefing out;
  EXPECT_EQ(Get(briefing.id(), &out).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Start(briefing.id(), &out).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete(briefing.id()).error_code(), StatusCode::NOT_FOUND);
  auto rows = Database()->Exec("SELECT count(*) FROM briefings WHERE delete_time IS NOT NULL");
  EXPECT_EQ(*rows->Int64(0, 0), 1);
  v1::ListBriefingsRequest list;
  list.set_user_id(user_id_);
  EXPECT_TRUE(ListIds(list).empty());
}

TEST_F(BriefingServiceTest, ContentRoundTripsAnyJsonValueWithoutLoss) {
  const char* documents[] = {
      R"({})",
      R"({"news": [{"title": "Café ☕ 东京 🌧️", "tags": ["a", "b"], "rank": 1}]})",
      R"({"weather": {"high_c": -3.5, "tiny": 1e-300, "huge": 1.7976931348623157e308,
          "third": 0.3333333333333333, "big_int": 9007199254740991}})",
      R"({"work": {"done": true, "late": false, "note": null, "empty": {}, "none": []}})",
      R"({"deep": {"a": {"b": {"c": {"d": {"e": [[[[["bottom"]]]]]}}}}}})",
      R"({"escapes": "quote \" backslash \\ newline \n tab \t unicode \u00e9 \u2028"})",
      R"({"keys with spaces": 1, "": "empty key", "ключ": "значение"})",
  };
  for (const char* document : documents) {
    SCOPED_TRACE(document);
    Struct content = Json(document);
    v1::Briefing briefing = Create(user_id_);
    v1::Briefing out;
    ASSERT_TRUE(Start(briefing.id(), &out).ok());
    ASSERT_TRUE(Complete(briefing.id(), content, &out).ok());
    v1::Briefing fetched;
    ASSERT_TRUE(Get(briefing.id(), &fetched).ok());
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fetched.content(), content))
        << fetched.content().DebugString();
  }
}

TEST_F(BriefingServiceTest, ContentWrittenOnlyAsJsonbIsReadFromIt) {
  // A row written by hand: jsonb content, nothing else.
  ASSERT_TRUE(Database()
                  ->ExecScript(absl::StrCat(
                      "INSERT INTO briefings (user_id, status, content) VALUES (", user_id_,
                      ", 'completed', '{\"news\": [{\"title\": \"By hand\"}], \"n\": 1.5}')"))
                  .ok());
  v1::ListBriefingsRequest list;
  list.set_user_id(user_id_);
  v1::ListBriefingsResponse response;
  ASSERT_TRUE(briefings_->ListBriefings(Context().get(), list, &response).ok());
  ASSERT_EQ(response.briefings_size(), 1);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      response.briefings(0).content(), Json(R"({"news": [{"title": "By hand"}], "n": 1.5})")));
}

// The jsonb column is the one source of content: an operator's UPDATE is what every read
// serves from then on.
TEST_F(BriefingServiceTest, ContentEditedByHandIsWhatGetAndListServe) {
  v1::Briefing briefing = Create(user_id_);
  v1::Briefing out;
  ASSERT_TRUE(Start(briefing.id(), &out).ok());
  ASSERT_TRUE(Complete(briefing.id(), Json(R"({"news": [{"title": "Original"}]})"), &out).ok());
  db::Params id;
  id.Add(briefing.id());
  auto updated = Database()->Exec(
      R"(UPDATE briefings SET content = '{"news": {"edited": true}}' WHERE id = $1)", id);
  ASSERT_TRUE(updated.ok()) << updated.status();
  ASSERT_EQ(updated->affected_rows(), 1);

  Struct edited = Json(R"({"news": {"edited": true}})");
  v1::Briefing fetched;
  ASSERT_TRUE(Get(briefing.id(), &fetched).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fetched.content(), edited))
      << fetched.content().DebugString();
  v1::ListBriefingsRequest list;
  list.set_user_id(user_id_);
  v1::ListBriefingsResponse response;
  ASSERT_TRUE(briefings_->ListBriefings(Context().get(), list, &response).ok());
  ASSERT_EQ(response.briefings_size(), 1);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(response.briefings(0).content(), edited))
      << response.briefings(0).content().DebugString();
}

// Rows completed by an earlier release carry the content a second time in content_proto (a
// serialized Struct, migration 000004). The service ignores those bytes, however stale.
TEST_F(BriefingServiceTest, StaleContentProtoBytesAreIgnored) {
  v1::Briefing briefing = Create(user_id_);
  v1::Briefing out;
  ASSERT_TRUE(Start(briefing.id(), &out).ok());
  Struct current = Json(R"({"weather": {"high_c": 9}})");
  ASSERT_TRUE(Complete(briefing.id(), current, &out).ok());
  db::Params params;
  params.Add(briefing.id()).AddBytes(Json(R"({"weather": {"high_c": -40}})").SerializeAsString());
  auto stale = Database()->Exec("UPDATE briefings SET content_proto = $2 WHERE id = $1", params);
  ASSERT_TRUE(stale.ok()) << stale.status();
  ASSERT_EQ(stale->affected_rows(), 1);

  v1::Briefing fetched;
  ASSERT_TRUE(Get(briefing.id(), &fetched).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fetched.content(), current))
      << fetched.content().DebugString();
  v1::ListBriefingsRequest list;
  list.set_user_id(user_id_);
  v1::ListBriefingsResponse response;
  ASSERT_TRUE(briefings_->ListBriefings(Context().get(), list, &response).ok());
  ASSERT_EQ(response.briefings_size(), 1);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(response.briefings(0).content(), current));
  // Not even garbage in the column matters.
  db::Params garbage;
  garbage.Add(briefing.id()).AddBytes("\xff not a message");
  ASSERT_TRUE(
      Database()->Exec("UPDATE briefings SET content_proto = $2 WHERE id = $1", garbage).ok());
  ASSERT_TRUE(Get(briefing.id(), &fetched).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(fetched.content(), current));
}

// During a rolling update the previous release's pods read the rows this release writes. They
// prefer content_proto and fall back to the jsonb text where it is NULL; this release never
// writes content_proto, so it stays NULL and their own statement hands them the JSON.
TEST_F(BriefingServiceTest, RowsCompletedNowReadCorrectlyThroughThePreviousReleasesColumns) {
  v1::Briefing briefing = Create(user_id_);
  v1::Briefing out;
  ASSERT_TRUE(Start(briefing.id(), &out).ok());
  Struct content = Json(R"({"news": [{"title": "Rain", "rank": 1}], "work": {}})");
  ASSERT_TRUE(Complete(briefing.id(), content, &out).ok());
  db::Params id;
  id.Add(briefing.id());
  // The content columns of the previous release's FIRSTSIP_BRIEFING_COLUMNS, verbatim.
  auto row = Database()->Exec(
      "SELECT b.content_proto, "
      "CASE WHEN b.content_proto IS NULL THEN b.content::text END AS content_json "
      "FROM briefings b WHERE b.id = $1",
      id);
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_EQ(row->rows(), 1);
  EXPECT_TRUE(row->IsNull(0, 0)) << "content_proto was written";
  ASSERT_FALSE(row->IsNull(0, 1));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(Json(std::string(row->Text(0, 1))),
                                                                 content))
      << row->Text(0, 1);
}

TEST_F(BriefingServiceTest, ContentOverOneMebibyteOrNotJsonIsInvalidArgument) {
  v1::Briefing briefing = Create(user_id_);
  v1::Briefing out;
  ASSERT_TRUE(Start(briefing.id(), &out).ok());
  Struct big;
  (*big.mutable_fields())["news"].set_string_value(std::string((1 << 20) + 10, 'x'));
  grpc::Status status = Complete(briefing.id(), big, &out);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "content:")) << status.error_message();
  Struct nan;
  (*nan.mutable_fields())["x"].set_number_value(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(Complete(briefing.id(), nan, &out).error_code(), StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Get(briefing.id(), &out).ok());
  EXPECT_EQ(out.status(), v1::BRIEFING_STATUS_PROCESSING) << "nothing was written";
  Struct almost;
  (*almost.mutable_fields())["news"].set_string_value(std::string((1 << 20) - 100, 'x'));
  EXPECT_TRUE(Complete(briefing.id(), almost, &out).ok());
}

TEST_F(BriefingServiceTest, ListBriefingsIsNewestFirstWithFiltersAndPaging) {
  std::vector<int64_t> created;
  for (int i = 0; i < 5; ++i) created.push_back(Create(user_id_).id());
  v1::Briefing completed = Completed(user_id_);
  v1::Briefing read = Completed(user_id_);
  v1::Briefing out;
  ASSERT_TRUE(MarkRead(read.id(), &out).ok());
  int64_t other = MakeUser("other@example.com");
  Create(other);

  v1::ListBriefingsRequest all;
  all.set_user_id(user_id_);
  std::vector<int64_t> expected = {read.id(), completed.id()};
  for (auto it = created.rbegin(); it != created.rend(); ++it) expected.push_back(*it);
  EXPECT_EQ(ListIds(all), expected);

  v1::ListBriefingsRequest paged = all;
  paged.set_page_size(3);
  std::vector<int64_t> walked;
  std::string token;
  int pages = 0;
  do {
    paged.set_page_token(token);
    std::vector<int64_t> page = ListIds(paged, &token);
    walked.insert(walked.end(), page.begin(), page.end());
  } while (!token.empty() && ++pages < 10);
  EXPECT_EQ(walked, expected);

  v1::ListBriefingsRequest by_status = all;
  by_status.set_status(v1::BRIEFING_STATUS_COMPLETED);
  EXPECT_EQ(ListIds(by_status), (std::vector<int64_t>{read.id(), completed.id()}));
  by_status.set_unread_only(true);
  EXPECT_EQ(ListIds(by_status), (std::vector<int64_t>{completed.id()}));

  std::string first_token;
  paged.set_page_token("");
  ListIds(paged, &first_token);
  v1::ListBriefingsRequest mismatched = by_status;
  mismatched.set_page_token(first_token);
  v1::ListBriefingsResponse response;
  EXPECT_EQ(briefings_->ListBriefings(Context().get(), mismatched, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
  v1::ListBriefingsRequest missing;
  missing.set_user_id(user_id_ + 100);
  EXPECT_EQ(briefings_->ListBriefings(Context().get(), missing, &response).error_code(),
            StatusCode::NOT_FOUND);
  v1::ListBriefingsRequest bad_status = all;
  bad_status.set_status(static_cast<v1::BriefingStatus>(9));
  EXPECT_EQ(briefings_->ListBriefings(Context().get(), bad_status, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(BriefingServiceTest, ClaimTakesTheOldestPendingAndAnswersEmptyWhenIdle) {
  v1::ClaimNextBriefingResponse response;
  ASSERT_TRUE(Claim(&response).ok());
  EXPECT_FALSE(response.has_briefing());
  v1::Briefing older = Create(user_id_);
  v1::Briefing newer = Create(user_id_);
  ASSERT_TRUE(Claim(&response).ok());
  ASSERT_TRUE(response.has_briefing());
  EXPECT_EQ(response.briefing().id(), older.id());
  EXPECT_EQ(response.briefing().status(), v1::BRIEFING_STATUS_PROCESSING);
  ASSERT_TRUE(Claim(&response).ok());
  EXPECT_EQ(response.briefing().id(), newer.id());
  response.Clear();
  ASSERT_TRUE(Claim(&response).ok());
  EXPECT_FALSE(response.has_briefing()) << "processing briefings with a live lease stay taken";
  v1::ClaimNextBriefingRequest negative;
  negative.mutable_lease()->set_seconds(-1);
  EXPECT_EQ(briefings_->ClaimNextBriefing(Context().get(), negative, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(BriefingServiceTest, ABriefingWhoseLeaseRanOutIsClaimedAgain) {
  v1::Briefing briefing = Create(user_id_);
  v1::ClaimNextBriefingResponse first;
  ASSERT_TRUE(Claim(&first, /*lease_ms=*/200).ok());
  ASSERT_EQ(first.briefing().id(), briefing.id());
  v1::ClaimNextBriefingResponse during;
  ASSERT_TRUE(Claim(&during).ok());
  EXPECT_FALSE(during.has_briefing());
  absl::SleepFor(absl::Milliseconds(400));  // the worker "crashed"
  v1::ClaimNextBriefingResponse after;
  ASSERT_TRUE(Claim(&after).ok());
  ASSERT_TRUE(after.has_briefing());
  EXPECT_EQ(after.briefing().id(), briefing.id());
  v1::Briefing out;
  EXPECT_TRUE(Complete(briefing.id(), Json("{}"), &out).ok());
}

TEST_F(BriefingServiceTest, EightConcurrentWorkersDrainFiveHundredBriefingsClaimingEachOnce) {
  ASSERT_TRUE(Database()
                  ->ExecScript(absl::StrCat("INSERT INTO briefings (user_id) SELECT ", user_id_,
                                            " FROM generate_series(1, 500)"))
                  .ok());
  constexpr int kWorkers = 8;
  std::mutex mutex;
  std::vector<int64_t> claimed;
  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      auto stub = v1::BriefingService::NewStub(channel_);
      while (true) {
        v1::ClaimNextBriefingRequest request;
        v1::ClaimNextBriefingResponse response;
        grpc::Status status = stub->ClaimNextBriefing(Context().get(), request, &response);
        if (!status.ok()) {
          ++errors;
          return;
        }
        if (!response.has_briefing()) return;
        v1::CompleteBriefingRequest complete;
        complete.set_id(response.briefing().id());
        v1::Briefing done;
        if (!stub->CompleteBriefing(Context().get(), complete, &done).ok()) ++errors;
        std::lock_guard<std::mutex> lock(mutex);
        claimed.push_back(response.briefing().id());
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(claimed.size(), 500u);
  EXPECT_EQ(std::set<int64_t>(claimed.begin(), claimed.end()).size(), 500u) << "no double claims";
  auto left = Database()->Exec("SELECT count(*) FROM briefings WHERE status <> 'completed'");
  EXPECT_EQ(*left->Int64(0, 0), 0);
}

}  // namespace
}  // namespace firstsip
