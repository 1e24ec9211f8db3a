// BriefingService over gRPC's callback API (see user_service.h for the pattern).
#pragma once

#include "firstsip/v1/briefing.grpc.pb.h"
#include "storage/briefing_store.h"

namespace firstsip::transport {

class BriefingServiceImpl final : public v1::BriefingService::CallbackService {
 public:
  explicit BriefingServiceImpl(storage::BriefingStore& store) : store_(store) {}

  grpc::ServerUnaryReactor* CreateBriefing(grpc::CallbackServerContext* context,
                                           const v1::CreateBriefingRequest* request,
                                           v1::Briefing* response) override;
  grpc::ServerUnaryReactor* GetBriefing(grpc::CallbackServerContext* context,
                                        const v1::GetBriefingRequest* request,
                                        v1::Briefing* response) override;
  grpc::ServerUnaryReactor* ListBriefings(grpc::CallbackServerContext* context,
                                          const v1::ListBriefingsRequest* request,
                                          v1::ListBriefingsResponse* response) override;
  grpc::ServerUnaryReactor* StartBriefing(grpc::CallbackServerContext* context,
                                          const v1::StartBriefingRequest* request,
                                          v1::Briefing* response) override;
  grpc::ServerUnaryReactor* ClaimNextBriefing(grpc::CallbackServerContext* context,
                                              const v1::ClaimNextBriefingRequest* request,
                                              v1::ClaimNextBriefingResponse* response) override;
  grpc::ServerUnaryReactor* CompleteBriefing(grpc::CallbackServerContext* context,
                                             const v1::CompleteBriefingRequest* request,
                                             v1::Briefing* response) override;
  grpc::ServerUnaryReactor* FailBriefing(grpc::CallbackServerContext* context,
                                         const v1::FailBriefingRequest* request,
                                         v1::Briefing* response) override;
  grpc::ServerUnaryReactor* MarkBriefingRead(grpc::CallbackServerContext* context,
                                             const v1::MarkBriefingReadRequest* request,
                                             v1::Briefing* response) override;
  grpc::ServerUnaryReactor* DeleteBriefing(grpc::CallbackServerContext* context,
                                           const v1::DeleteBriefingRequest* request,
                                           google::protobuf::Empty* response) override;

 private:
  storage::BriefingStore& store_;
};

}  // namespace firstsip::transport
