#include "transport/briefing_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "logic/briefing_rules.h"
#include "logic/page_token.h"
#include "logic/validators.h"
#include "transport/unary_reactor.h"

namespace firstsip::transport {
namespace {

constexpr char kBriefingsCollection[] = "briefings";

// The filter a ListBriefings page token is bound to.
std::string ListFilter(const v1::ListBriefingsRequest& request) {
  return absl::StrCat("user=", request.user_id(), ";status=", static_cast<int>(request.status()),
                      ";unread_only=", request.unread_only());
}

}  // namespace

grpc::ServerUnaryReactor* BriefingServiceImpl::CreateBriefing(
    grpc::CallbackServerContext* context, const v1::CreateBriefingRequest* request,
    v1::Briefing* response) {
  if (absl::Status id = logic::ValidateId(request->user_id(), "user_id"); !id.ok()) {
    return FinishNow(context, id);
  }
  absl::StatusOr<std::optional<std::string>> request_id =
      logic::RequestIdFrom(request->request_id(), "request_id");
  if (!request_id.ok()) return FinishNow(context, request_id.status());
  auto* reactor = new CallReactor(*context);
  store_.Create(request->user_id(), *request_id, reactor->call(), FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BriefingServiceImpl::GetBriefing(grpc::CallbackServerContext* context,
                                                           const v1::GetBriefingRequest* request,
                                                           v1::Briefing* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Get(request->id(), reactor.call(), FinishInto(&reactor, response));
  });
}

grpc::ServerUnaryReactor* BriefingServiceImpl::ListBriefings(
    grpc::CallbackServerContext* context, const v1::ListBriefingsRequest* request,
    v1::ListBriefingsResponse* response) {
  if (absl::Status id = logic::ValidateId(request->user_id(), "user_id"); !id.ok()) {
    return FinishNow(context, id);
  }
  absl::StatusOr<int> page_size = logic::NormalizePageSize(request->page_size());
  if (!page_size.ok()) return FinishNow(context, page_size.status());
  storage::BriefingListQuery query;
  query.user_id = request->user_id();
  query.limit = *page_size + 1;  // one more than asked tells whether another page follows
  query.unread_only = request->unread_only();
  if (request->status() != v1::BRIEFING_STATUS_UNSPECIFIED) {
    absl::StatusOr<std::string> status = logic::StatusToStored(request->status(), "status");
    if (!status.ok()) return FinishNow(context, status.status());
    query.status = *status;
  }
  std::string filter = ListFilter(*request);
  if (!request->page_token().empty()) {
    absl::StatusOr<int64_t> before =
        logic::DecodePageToken(request->page_token(), kBriefingsCollection, filter);
    if (!before.ok()) return FinishNow(context, before.status());
    query.before_id = *before;
  }
  auto* reactor = new CallReactor(*context);
  store_.List(query, reactor->call(),
              [reactor, response, limit = *page_size,
               filter = std::move(filter)](absl::StatusOr<std::vector<v1::Briefing>> briefings) {
                if (!briefings.ok()) return reactor->Finish(ToGrpcStatus(briefings.status()));
                bool more = static_cast<int>(briefings->size()) > limit;
                if (more) briefings->resize(limit);
                for (v1::Briefing& briefing : *briefings) {
                  *response->add_briefings() = std::move(briefing);
                }
                if (more) {
                  response->set_next_page_token(logic::EncodePageToken(
                      kBriefingsCollection, filter, response->briefings(limit - 1).id()));
                }
                reactor->Finish(grpc::Status::OK);
              });
  return reactor;
}

grpc::ServerUnaryReactor* BriefingServiceImpl::StartBriefing(
    grpc::CallbackServerContext* context, const v1::StartBriefingRequest* request,
    v1::Briefing* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Start(request->id(), reactor.call(), FinishInto(&reactor, response));
  });
}

grpc::ServerUnaryReactor* BriefingServiceImpl::ClaimNextBriefing(
    grpc::CallbackServerContext* context, const v1::ClaimNextBriefingRequest* request,
    v1::ClaimNextBriefingResponse* response) {
  absl::StatusOr<absl::Duration> lease =
      logic::LeaseFrom(request->lease(), request->has_lease(), "lease");
  if (!lease.ok()) return FinishNow(context, lease.status());
  auto* reactor = new CallReactor(*context);
  store_.ClaimNext(*lease, reactor->call(),
                   [reactor, response](absl::StatusOr<std::optional<v1::Briefing>> claimed) {
                     if (claimed.ok() && claimed->has_value()) {
                       *response->mutable_briefing() = std::move(**claimed);
                     }
                     reactor->Finish(ToGrpcStatus(claimed.status()));
                   });
  return reactor;
}

grpc::ServerUnaryReactor* BriefingServiceImpl::CompleteBriefing(
    grpc::CallbackServerContext* context, const v1::CompleteBriefingRequest* request,
    v1::Briefing* response) {
  if (absl::Status id = logic::ValidateId(request->id(), "id"); !id.ok()) {
    return FinishNow(context, id);
  }
  absl::StatusOr<std::string> content = logic::ContentToJson(request->content(), "content");
  if (!content.ok()) return FinishNow(context, content.status());
  auto* reactor = new CallReactor(*context);
  store_.Complete(request->id(), *content, request->content().SerializeAsString(), reactor->call(),
                  FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BriefingServiceImpl::FailBriefing(grpc::CallbackServerContext* context,
                                                            const v1::FailBriefingRequest* request,
                                                            v1::Briefing* response) {
  if (absl::Status id = logic::ValidateId(request->id(), "id"); !id.ok()) {
    return FinishNow(context, id);
  }
  if (absl::Status text = logic::ValidateText(request->error_message(), "error_message",
                                              logic::kMaxErrorMessageLength);
      !text.ok()) {
    return FinishNow(context, text);
  }
  auto* reactor = new CallReactor(*context);
  store_.Fail(request->id(), request->error_message(), reactor->call(),
              FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* BriefingServiceImpl::MarkBriefingRead(
    grpc::CallbackServerContext* context, const v1::MarkBriefingReadRequest* request,
    v1::Briefing* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.MarkRead(request->id(), reactor.call(), FinishInto(&reactor, response));
  });
}

grpc::ServerUnaryReactor* BriefingServiceImpl::DeleteBriefing(
    grpc::CallbackServerContext* context, const v1::DeleteBriefingRequest* request,
    google::protobuf::Empty*) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Delete(request->id(), reactor.call(), FinishEmpty(&reactor));
  });
}

}  // namespace firstsip::transport
