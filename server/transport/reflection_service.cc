#include "transport/reflection_service.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"

namespace firstsip::transport {
namespace {

namespace protobuf = google::protobuf;
namespace v1 = grpc::reflection::v1;
namespace v1alpha = grpc::reflection::v1alpha;

// The answers, in v1's terms (v1alpha's messages are the same on the wire).
class ReflectionBackend {
 public:
  ReflectionBackend()
      : generated_(*protobuf::DescriptorPool::generated_pool()),
        merged_(&embedded_, &generated_),
        pool_(&merged_) {
    for (const EmbeddedFile& embedded : EmbeddedDescriptorSets()) {
      protobuf::FileDescriptorSet set;
      if (!set.ParseFromArray(embedded.contents.data(),
                              static_cast<int>(embedded.contents.size()))) {
        std::fprintf(stderr, "reflection: the embedded %s is not a FileDescriptorSet\n",
                     std::string(embedded.name).c_str());
        std::abort();
      }
      for (const protobuf::FileDescriptorProto& file : set.file()) embedded_.Add(file);
    }
  }

  // The services to list (the server's, known once it is built).
  void SetServices(std::vector<std::string> services) {
    std::lock_guard<std::mutex> lock(mutex_);
    services_ = std::move(services);
  }

  v1::ServerReflectionResponse Answer(const v1::ServerReflectionRequest& request) {
    v1::ServerReflectionResponse response;
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    switch (request.message_request_case()) {
      case v1::ServerReflectionRequest::kFileByFilename:
        AnswerFile(pool_.FindFileByName(request.file_by_filename()), "file not found", response);
        break;
      case v1::ServerReflectionRequest::kFileContainingSymbol:
        AnswerFile(pool_.FindFileContainingSymbol(request.file_containing_symbol()),
                   "symbol not found", response);
        break;
      case v1::ServerReflectionRequest::kFileContainingExtension: {
        const v1::ExtensionRequest& wanted = request.file_containing_extension();
        const protobuf::Descriptor* type = pool_.FindMessageTypeByName(wanted.containing_type());
        if (type == nullptr) return Error(grpc::StatusCode::NOT_FOUND, "type not found", response);
        const protobuf::FieldDescriptor* extension =
            pool_.FindExtensionByNumber(type, wanted.extension_number());
        AnswerFile(extension == nullptr ? nullptr : extension->file(), "extension not found",
                   response);
        break;
      }
      case v1::ServerReflectionRequest::kAllExtensionNumbersOfType: {
        const protobuf::Descriptor* type =
            pool_.FindMessageTypeByName(request.all_extension_numbers_of_type());
        if (type == nullptr) return Error(grpc::StatusCode::NOT_FOUND, "type not found", response);
        std::vector<const protobuf::FieldDescriptor*> extensions;
        pool_.FindAllExtensions(type, &extensions);
        v1::ExtensionNumberResponse* numbers = response.mutable_all_extension_numbers_response();
        numbers->set_base_type_name(type->full_name());
        for (const protobuf::FieldDescriptor* extension : extensions) {
          numbers->add_extension_number(extension->number());
        }
        break;
      }
      case v1::ServerReflectionRequest::kListServices: {
        std::lock_guard<std::mutex> lock(mutex_);
        v1::ListServiceResponse* list = response.mutable_list_services_response();
        for (const std::string& service : services_) list->add_service()->set_name(service);
        break;
      }
      case v1::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
        Error(grpc::StatusCode::UNIMPLEMENTED, "no question asked", response);
        break;
    }
    return response;
  }

 private:
  static v1::ServerReflectionResponse& Error(grpc::StatusCode code, absl::string_view message,
                                             v1::ServerReflectionResponse& response) {
    response.mutable_error_response()->set_error_code(code);
    response.mutable_error_response()->set_error_message(std::string(message));
    return response;
  }

  // `file` and everything it imports, directly or not, each once; `missing` when it is null.
  void AnswerFile(const protobuf::FileDescriptor* file, absl::string_view missing,
                  v1::ServerReflectionResponse& response) {
    if (file == nullptr) {
      Error(grpc::StatusCode::NOT_FOUND, missing, response);
      return;
    }
    std::set<std::string> seen;
    AddFileAndImports(*file, seen, *response.mutable_file_descriptor_response());
  }

  void AddFileAndImports(const protobuf::FileDescriptor& file, std::set<std::string>& seen,
                         v1::FileDescriptorResponse& files) {
    if (!seen.insert(file.name()).second) return;
    // The file as the database holds it: from the descriptor set, comments included.
    protobuf::FileDescriptorProto proto;
    if (!merged_.FindFileByName(file.name(), &proto)) {
      file.CopyTo(&proto);
      file.CopyJsonNameTo(&proto);
      file.CopySourceCodeInfoTo(&proto);
    }
    files.add_file_descriptor_proto(proto.SerializeAsString());
    for (int i = 0; i < file.dependency_count(); ++i) {
      AddFileAndImports(*file.dependency(i), seen, files);
    }
  }

  // Lookups only after construction: the databases are read concurrently, the pool is
  // thread-safe.
  protobuf::SimpleDescriptorDatabase embedded_;
  protobuf::DescriptorPoolDatabase generated_;
  protobuf::MergedDescriptorDatabase merged_;  // the embedded set first
  protobuf::DescriptorPool pool_;
  std::mutex mutex_;
  std::vector<std::string> services_;  // guarded by mutex_
};

// The check every reflection call passes first (InitReflectionServerBuilderPlugin).
ReflectionCallCheck& CallCheck() {
  static ReflectionCallCheck* check = new ReflectionCallCheck();
  return *check;
}

grpc::Status Check(const grpc::ServerContext& context, const char* path) {
  return CallCheck() ? CallCheck()(context, path) : grpc::Status::OK;
}

class ReflectionV1 final : public v1::ServerReflection::Service {
 public:
  explicit ReflectionV1(std::shared_ptr<ReflectionBackend> backend)
      : backend_(std::move(backend)) {}

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ServerReflectionResponse, v1::ServerReflectionRequest>* stream)
      override {
    if (grpc::Status allowed =
            Check(*context, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
        !allowed.ok()) {
      return allowed;
    }
    v1::ServerReflectionRequest request;
    while (stream->Read(&request)) {
      if (!stream->Write(backend_->Answer(request))) break;
    }
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<ReflectionBackend> backend_;
};

// v1alpha differs from v1 only in its package: the messages are the same on the wire, so each
// request is re-read as v1's and each answer as v1alpha's.
class ReflectionV1Alpha final : public v1alpha::ServerReflection::Service {
 public:
  explicit ReflectionV1Alpha(std::shared_ptr<ReflectionBackend> backend)
      : backend_(std::move(backend)) {}

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1alpha::ServerReflectionResponse, v1alpha::ServerReflectionRequest>*
          stream) override {
    if (grpc::Status allowed =
            Check(*context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo");
        !allowed.ok()) {
      return allowed;
    }
    v1alpha::ServerReflectionRequest alpha_request;
    while (stream->Read(&alpha_request)) {
      v1::ServerReflectionRequest request;
      request.ParseFromString(alpha_request.SerializeAsString());
      v1alpha::ServerReflectionResponse alpha_response;
      alpha_response.ParseFromString(backend_->Answer(request).SerializeAsString());
      if (!stream->Write(alpha_response)) break;
    }
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<ReflectionBackend> backend_;
};

class ReflectionPlugin final : public grpc::ServerBuilderPlugin {
 public:
  std::string name() override { return "firstsip_reflection"; }
  void InitServer(grpc::ServerInitializer* initializer) override {
    initializer->RegisterService(std::make_shared<ReflectionV1>(backend_));
    initializer->RegisterService(std::make_shared<ReflectionV1Alpha>(backend_));
  }
  void Finish(grpc::ServerInitializer* initializer) override {
    backend_->SetServices(*initializer->GetServiceList());
  }
  void ChangeArguments(const std::string& /*name*/, void* /*value*/) override {}
  bool has_sync_methods() const override { return true; }
  bool has_async_methods() const override { return false; }

 private:
  std::shared_ptr<ReflectionBackend> backend_ = std::make_shared<ReflectionBackend>();
};

std::unique_ptr<grpc::ServerBuilderPlugin> CreateReflectionPlugin() {
  return std::make_unique<ReflectionPlugin>();
}

}  // namespace

void InitReflectionServerBuilderPlugin(ReflectionCallCheck check) {
  static std::once_flag once;
  std::call_once(once, [&check] {
    CallCheck() = std::move(check);
    grpc::ServerBuilder::InternalAddPluginFactory(&CreateReflectionPlugin);
  });
}

}  // namespace firstsip::transport
