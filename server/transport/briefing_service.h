// BriefingService: briefings, their status lifecycle, the workers' claim queue (waiting claims
// through push/claim_waiters.h) and WatchBriefings streams (watch_briefings_call.h). See
// unary_call.h for the shape every unary method shares.
#pragma once

#include <cstdint>
#include <memory>

#include "firstsip/v1/briefing.grpc.pb.h"
#include "push/claim_waiters.h"
#include "storage/briefing_store.h"
#include "transport/rpc_server.h"
#include "transport/unary_call.h"
#include "transport/watch_briefings_call.h"

namespace firstsip::transport {

class BriefingServiceImpl {
 public:
  BriefingServiceImpl(storage::BriefingStore& store, push::ClaimWaiters& waiters,
                      WatchServices watch)
      : store_(store),
        waiters_(waiters),
        watch_(watch),
        service_(v1::BriefingService::service_full_name()) {}

  // Registers every method of BriefingService with `server` (whose AddService adds it to
  // `builder`).
  void Register(RpcServer& server, grpc::ServerBuilder& builder);

  void CreateBriefing(UnaryCall<v1::CreateBriefingRequest, v1::Briefing>& call);
  void GetBriefing(UnaryCall<v1::GetBriefingRequest, v1::Briefing>& call);
  void ListBriefings(UnaryCall<v1::ListBriefingsRequest, v1::ListBriefingsResponse>& call);
  void StartBriefing(UnaryCall<v1::StartBriefingRequest, v1::Briefing>& call);
  void ClaimNextBriefing(
      UnaryCall<v1::ClaimNextBriefingRequest, v1::ClaimNextBriefingResponse>& call);
  void CompleteBriefing(UnaryCall<v1::CompleteBriefingRequest, v1::Briefing>& call);
  void FailBriefing(UnaryCall<v1::FailBriefingRequest, v1::Briefing>& call);
  void MarkBriefingRead(UnaryCall<v1::MarkBriefingReadRequest, v1::Briefing>& call);
  void DeleteBriefing(UnaryCall<v1::DeleteBriefingRequest, google::protobuf::Empty>& call);

 private:
  using ClaimCall = UnaryCall<v1::ClaimNextBriefingRequest, v1::ClaimNextBriefingResponse>;
  struct WaitingClaim;
  void TryWaitingClaim(std::shared_ptr<WaitingClaim> claim);
  void FinishWaitingClaim(const std::shared_ptr<WaitingClaim>& claim,
                          absl::StatusOr<std::optional<v1::Briefing>> claimed);

  storage::BriefingStore& store_;
  push::ClaimWaiters& waiters_;
  const WatchServices watch_;
  RawService service_;
};

}  // namespace firstsip::transport
