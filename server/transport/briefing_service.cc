#include "transport/briefing_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "logic/briefing_rules.h"
#include "logic/page_token.h"
#include "logic/resume_token.h"
#include "logic/validators.h"
#include "transport/unary_call.h"

namespace firstsip::transport {

// A ClaimNextBriefing call with a wait, between its attempts.
struct BriefingServiceImpl::WaitingClaim {
  ClaimCall* call;
  absl::Duration lease;
  absl::Time until;
  uint64_t id;
};

namespace {

constexpr char kBriefingsCollection[] = "briefings";
// A waiting claim answers this long before the caller's deadline, so the answer arrives in time.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(50);

// The filter a ListBriefings page token is bound to.
std::string ListFilter(const v1::ListBriefingsRequest& request) {
  return absl::StrCat("user=", request.user_id(), ";status=", static_cast<int>(request.status()),
                      ";unread_only=", request.unread_only());
}

}  // namespace

void BriefingServiceImpl::CreateBriefing(UnaryCall<v1::CreateBriefingRequest, v1::Briefing>& call) {
  const v1::CreateBriefingRequest& create = call.request();
  if (absl::Status id = logic::ValidateId(create.user_id(), "user_id"); !id.ok()) {
    return call.Finish(id);
  }
  absl::StatusOr<std::optional<std::string>> request_id =
      logic::RequestIdFrom(create.request_id(), "request_id");
  if (!request_id.ok()) return call.Finish(request_id.status());
  store_.Create(create.user_id(), *request_id, call.options(), call.FinishWithValue());
}

void BriefingServiceImpl::GetBriefing(UnaryCall<v1::GetBriefingRequest, v1::Briefing>& call) {
  ServeById(call, &v1::GetBriefingRequest::id, "id",
            [&](int64_t id) { store_.Get(id, call.options(), call.FinishWithValue()); });
}

void BriefingServiceImpl::ListBriefings(
    UnaryCall<v1::ListBriefingsRequest, v1::ListBriefingsResponse>& call) {
  const v1::ListBriefingsRequest& list = call.request();
  if (absl::Status id = logic::ValidateId(list.user_id(), "user_id"); !id.ok()) {
    return call.Finish(id);
  }
  absl::StatusOr<int> page_size = logic::NormalizePageSize(list.page_size());
  if (!page_size.ok()) return call.Finish(page_size.status());
  storage::BriefingListQuery query;
  query.user_id = list.user_id();
  query.limit = *page_size + 1;  // one more than asked tells whether another page follows
  query.unread_only = list.unread_only();
  if (list.status() != v1::BRIEFING_STATUS_UNSPECIFIED) {
    absl::StatusOr<std::string> status = logic::StatusToStored(list.status(), "status");
    if (!status.ok()) return call.Finish(status.status());
    query.status = *status;
  }
  std::string filter = ListFilter(list);
  if (!list.page_token().empty()) {
    absl::StatusOr<int64_t> before =
        logic::DecodePageToken(list.page_token(), kBriefingsCollection, filter);
    if (!before.ok()) return call.Finish(before.status());
    query.before_id = *before;
  }
  store_.List(query, call.options(),
              [&call, limit = *page_size, user_id = list.user_id(),
               filter = std::move(filter)](absl::StatusOr<storage::BriefingPage> listed) {
                if (!listed.ok()) return call.Finish(listed.status());
                v1::ListBriefingsResponse& page = call.response();
                page.set_next_page_token(
                    logic::CutToPage(listed->briefings, limit, kBriefingsCollection, filter));
                page.set_resume_token(logic::EncodeResumeToken(user_id, listed->change_seq));
                for (v1::Briefing& briefing : listed->briefings) {
                  *page.add_briefings() = std::move(briefing);
                }
                call.Finish(absl::OkStatus());
              });
}

void BriefingServiceImpl::StartBriefing(UnaryCall<v1::StartBriefingRequest, v1::Briefing>& call) {
  ServeById(call, &v1::StartBriefingRequest::id, "id",
            [&](int64_t id) { store_.Start(id, call.options(), call.FinishWithValue()); });
}

void BriefingServiceImpl::ClaimNextBriefing(
    UnaryCall<v1::ClaimNextBriefingRequest, v1::ClaimNextBriefingResponse>& call) {
  const v1::ClaimNextBriefingRequest& claim = call.request();
  absl::StatusOr<absl::Duration> lease =
      logic::LeaseFrom(claim.lease(), claim.has_lease(), "lease");
  if (!lease.ok()) return call.Finish(lease.status());
  absl::StatusOr<absl::Duration> wait =
      logic::ClaimWaitFrom(claim.wait(), claim.has_wait(), "wait");
  if (!wait.ok()) return call.Finish(wait.status());
  if (*wait == absl::ZeroDuration()) {
    return store_.ClaimNext(*lease, call.options(),
                            [&call](absl::StatusOr<std::optional<v1::Briefing>> claimed) {
                              if (claimed.ok() && claimed->has_value()) {
                                *call.response().mutable_briefing() = std::move(**claimed);
                              }
                              call.Finish(claimed.status());
                            });
  }
  // The answer must reach the caller before its deadline: waiting ends a little earlier.
  const absl::Time until = std::min(absl::Now() + *wait, call.options().deadline - kAnswerMargin);
  auto waiting = std::make_shared<WaitingClaim>(WaitingClaim{&call, *lease, until, 0});
  // Registered before the first attempt, so work that appears while it runs is not missed.
  waiting->id = waiters_.Add(until, call.options().cancellation,
                             [this, waiting](push::ClaimWaiters::Wake wake) {
                               if (wake == push::ClaimWaiters::Wake::kTryClaim) {
                                 return TryWaitingClaim(waiting);
                               }
                               FinishWaitingClaim(waiting, std::optional<v1::Briefing>());
                             });
  if (watch_.metrics != nullptr) watch_.metrics->SetClaimWaiters(waiters_.size());
  TryWaitingClaim(waiting);
}

void BriefingServiceImpl::TryWaitingClaim(std::shared_ptr<WaitingClaim> waiting) {
  store_.ClaimNext(waiting->lease, waiting->call->options(),
                   [this, waiting](absl::StatusOr<std::optional<v1::Briefing>> claimed) {
                     if (!claimed.ok() || claimed->has_value() || absl::Now() >= waiting->until) {
                       return FinishWaitingClaim(waiting, std::move(claimed));
                     }
                     switch (waiters_.Rearm(waiting->id)) {
                       case push::ClaimWaiters::Rearmed::kSleeping:
                         return;  // woken by ClaimWaiters
                       case push::ClaimWaiters::Rearmed::kWokenMeanwhile:
                         return TryWaitingClaim(waiting);
                       case push::ClaimWaiters::Rearmed::kGone:  // the server is stopping
                         return FinishWaitingClaim(waiting, std::optional<v1::Briefing>());
                     }
                   });
}

void BriefingServiceImpl::FinishWaitingClaim(const std::shared_ptr<WaitingClaim>& waiting,
                                             absl::StatusOr<std::optional<v1::Briefing>> claimed) {
  waiters_.Remove(waiting->id);
  if (watch_.metrics != nullptr) watch_.metrics->SetClaimWaiters(waiters_.size());
  ClaimCall& call = *waiting->call;
  if (claimed.ok() && claimed->has_value()) {
    *call.response().mutable_briefing() = std::move(**claimed);
  }
  call.Finish(claimed.status());
}

void BriefingServiceImpl::CompleteBriefing(
    UnaryCall<v1::CompleteBriefingRequest, v1::Briefing>& call) {
  ServeById(call, &v1::CompleteBriefingRequest::id, "id", [&](int64_t id) {
    absl::StatusOr<std::string> json = logic::ContentToJson(call.request().content(), "content");
    if (!json.ok()) return call.Finish(json.status());
    store_.Complete(id, *json, call.options(), call.FinishWithValue());
  });
}

void BriefingServiceImpl::FailBriefing(UnaryCall<v1::FailBriefingRequest, v1::Briefing>& call) {
  ServeById(call, &v1::FailBriefingRequest::id, "id", [&](int64_t id) {
    const std::string& message = call.request().error_message();
    if (absl::Status text =
            logic::ValidateText(message, "error_message", logic::kMaxErrorMessageLength);
        !text.ok()) {
      return call.Finish(text);
    }
    store_.Fail(id, message, call.options(), call.FinishWithValue());
  });
}

void BriefingServiceImpl::MarkBriefingRead(
    UnaryCall<v1::MarkBriefingReadRequest, v1::Briefing>& call) {
  ServeById(call, &v1::MarkBriefingReadRequest::id, "id",
            [&](int64_t id) { store_.MarkRead(id, call.options(), call.FinishWithValue()); });
}

void BriefingServiceImpl::DeleteBriefing(
    UnaryCall<v1::DeleteBriefingRequest, google::protobuf::Empty>& call) {
  ServeById(call, &v1::DeleteBriefingRequest::id, "id",
            [&](int64_t id) { store_.Delete(id, call.options(), call.FinishWithStatus()); });
}

void BriefingServiceImpl::Register(RpcServer& server, grpc::ServerBuilder& builder) {
  server.AddService(builder, service_);
  HandleUnary(server, service_, "CreateBriefing", this, &BriefingServiceImpl::CreateBriefing);
  HandleUnary(server, service_, "GetBriefing", this, &BriefingServiceImpl::GetBriefing);
  HandleUnary(server, service_, "ListBriefings", this, &BriefingServiceImpl::ListBriefings);
  HandleUnary(server, service_, "StartBriefing", this, &BriefingServiceImpl::StartBriefing);
  HandleUnary(server, service_, "ClaimNextBriefing", this, &BriefingServiceImpl::ClaimNextBriefing);
  HandleUnary(server, service_, "CompleteBriefing", this, &BriefingServiceImpl::CompleteBriefing);
  HandleUnary(server, service_, "FailBriefing", this, &BriefingServiceImpl::FailBriefing);
  HandleUnary(server, service_, "MarkBriefingRead", this, &BriefingServiceImpl::MarkBriefingRead);
  HandleUnary(server, service_, "DeleteBriefing", this, &BriefingServiceImpl::DeleteBriefing);
  server.Handle<WatchBriefingsCall>(service_, "WatchBriefings", watch_);
}

}  // namespace firstsip::transport
