// Server reflection for grpcurl, grpcui, Postman and IDEs: grpc.reflection.v1 (what newer
// clients ask for first) and grpc.reflection.v1alpha (older ones), in place of gRPC's own plugin,
// which in gRPC 1.51 serves only v1alpha and only the descriptors compiled into generated code.
// Those carry no comments, so `grpcurl describe` showed none; this service answers from the
// contract's descriptor set built with --include_source_info and embedded in the binary
// (proto/CMakeLists.txt), so it shows the documentation the protos carry. Files not in the set
// (grpc.health.v1, the reflection protocol itself) come from the descriptors compiled in.
//
// Both services are synchronous, as gRPC's own reflection is: a few calls from operators'
// tools, never on the request path that the completion queues serve (rpc_server.h).
#pragma once

#include <functional>
#include <span>
#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace firstsip::transport {

// A file compiled into the binary at build time (cmake/EmbedFiles.cmake).
struct EmbeddedFile {
  absl::string_view name;      // e.g. "firstsip.protoset"
  absl::string_view contents;  // the file's bytes, unchanged
};

// The serialized google.protobuf.FileDescriptorSets embedded at build time.
std::span<const EmbeddedFile> EmbeddedDescriptorSets();

// Decides whether a reflection call may proceed: OK, or the status to end it with. Gets the
// call's context and its method path ("/grpc.reflection.v1.ServerReflection/...").
using ReflectionCallCheck =
    std::function<grpc::Status(const grpc::ServerContextBase& context, const std::string& path)>;

// Makes every grpc::ServerBuilder built afterwards serve both reflection services, listing the
// services registered with it. Call once, before BuildAndStart (in place of
// grpc::reflection::InitProtoReflectionServerBuilderPlugin()); later calls do nothing. With
// `check` (the authorization policy: reflection calls do not pass through our transport), each
// reflection call is checked before it is served.
void InitReflectionServerBuilderPlugin(ReflectionCallCheck check = nullptr);

}  // namespace firstsip::transport
