// BriefingService: briefings, their status lifecycle and the workers' claim queue (see unary_call.h
// for the shape every method shares).
#pragma once

#include "firstsip/v1/briefing.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "storage/briefing_store.h"

namespace firstsip::transport {

// Every method registered raw, so that Serve() parses the requests (see unary_call.h).
using RawBriefingService = v1::BriefingService::WithRawCallbackMethod_CreateBriefing<
    v1::BriefingService::WithRawCallbackMethod_GetBriefing<
        v1::BriefingService::WithRawCallbackMethod_ListBriefings<
            v1::BriefingService::WithRawCallbackMethod_StartBriefing<
                v1::BriefingService::WithRawCallbackMethod_ClaimNextBriefing<
                    v1::BriefingService::WithRawCallbackMethod_CompleteBriefing<
                        v1::BriefingService::WithRawCallbackMethod_FailBriefing<
                            v1::BriefingService::WithRawCallbackMethod_MarkBriefingRead<
                                v1::BriefingService::WithRawCallbackMethod_DeleteBriefing<
                                    v1::BriefingService::Service>>>>>>>>>;

class BriefingServiceImpl final : public RawBriefingService {
 public:
  explicit BriefingServiceImpl(storage::BriefingStore& store) : store_(store) {}

  grpc::ServerUnaryReactor* CreateBriefing(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetBriefing(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListBriefings(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* StartBriefing(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ClaimNextBriefing(grpc::CallbackServerContext* context,
                                              const grpc::ByteBuffer* request,
                                              grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CompleteBriefing(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* FailBriefing(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* MarkBriefingRead(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* DeleteBriefing(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

 private:
  storage::BriefingStore& store_;
};

}  // namespace firstsip::transport
