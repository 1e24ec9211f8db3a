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

#include <span>

#include "absl/strings/string_view.h"

namespace firstsip::transport {

// A file compiled into the binary at build time (cmake/EmbedFiles.cmake).
struct EmbeddedFile {
  absl::string_view name;      // e.g. "firstsip.protoset"
  absl::string_view contents;  // the file's bytes, unchanged
};

// The serialized google.protobuf.FileDescriptorSets embedded at build time.
std::span<const EmbeddedFile> EmbeddedDescriptorSets();

// Makes every grpc::ServerBuilder built afterwards serve both reflection services, listing the
// services registered with it. Call once, before BuildAndStart (in place of
// grpc::reflection::InitProtoReflectionServerBuilderPlugin()); later calls do nothing.
void InitReflectionServerBuilderPlugin();

}  // namespace firstsip::transport
