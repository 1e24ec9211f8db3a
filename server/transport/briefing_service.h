// BriefingService: briefings, their status lifecycle and the workers' claim queue (see
// unary_call.h for the shape every method shares).
#pragma once

#include "firstsip/v1/briefing.grpc.pb.h"
#include "storage/briefing_store.h"
#include "transport/rpc_server.h"
#include "transport/unary_call.h"

namespace firstsip::transport {

class BriefingServiceImpl {
 public:
  explicit BriefingServiceImpl(storage::BriefingStore& store)
      : store_(store), service_(v1::BriefingService::service_full_name()) {}

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
  storage::BriefingStore& store_;
  RawService service_;
};

}  // namespace firstsip::transport
