// Server reflection as grpcurl, grpcui and Postman use it: both protocol versions (v1, asked for
// first by newer tools, and v1alpha), every service resolvable (the health service included),
// and the contract's comments in the files served, so `grpcurl describe` shows them.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "support/running_server.h"

namespace firstsip {
namespace {

using google::protobuf::FileDescriptorProto;

class ReflectionTest : public testing::RunningServerTest {
 protected:
  // One request over v1, its one answer.
  grpc::reflection::v1::ServerReflectionResponse AskV1(
      const grpc::reflection::v1::ServerReflectionRequest& request) {
    auto stub = grpc::reflection::v1::ServerReflection::NewStub(channel_);
    auto context = Context();
    auto stream = stub->ServerReflectionInfo(context.get());
    grpc::reflection::v1::ServerReflectionResponse response;
    EXPECT_TRUE(stream->Write(request));
    stream->WritesDone();
    EXPECT_TRUE(stream->Read(&response));
    EXPECT_TRUE(stream->Finish().ok());
    return response;
  }

  grpc::reflection::v1::ServerReflectionResponse FileContaining(const std::string& symbol) {
    grpc::reflection::v1::ServerReflectionRequest request;
    request.set_file_containing_symbol(symbol);
    return AskV1(request);
  }

  // The files of a file_descriptor_response, parsed.
  static std::vector<FileDescriptorProto> Files(
      const grpc::reflection::v1::ServerReflectionResponse& response) {
    std::vector<FileDescriptorProto> files;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      FileDescriptorProto file;
      EXPECT_TRUE(file.ParseFromString(bytes));
      files.push_back(std::move(file));
    }
    return files;
  }

  // The leading comment at `path` in `file`'s source info, or "".
  static std::string LeadingComment(const FileDescriptorProto& file, const std::vector<int>& path) {
    for (const auto& location : file.source_code_info().location()) {
      if (std::vector<int>(location.path().begin(), location.path().end()) == path) {
        return location.leading_comments();
      }
    }
    return "";
  }

  static const FileDescriptorProto* Named(const std::vector<FileDescriptorProto>& files,
                                          const std::string& name) {
    for (const FileDescriptorProto& file : files) {
      if (file.name() == name) return &file;
    }
    return nullptr;
  }
};

const std::set<std::string> kServices = {"firstsip.v1.UserService",
                                         "firstsip.v1.IdentityService",
                                         "firstsip.v1.BriefingService",
                                         "grpc.health.v1.Health",
                                         "grpc.reflection.v1.ServerReflection",
                                         "grpc.reflection.v1alpha.ServerReflection"};

TEST_F(ReflectionTest, BothVersionsListEveryServiceTheHealthServiceIncluded) {
  grpc::reflection::v1::ServerReflectionRequest request;
  request.set_list_services("*");
  grpc::reflection::v1::ServerReflectionResponse response = AskV1(request);
  std::set<std::string> v1_names;
  for (const auto& service : response.list_services_response().service()) {
    v1_names.insert(service.name());
  }
  EXPECT_EQ(v1_names, kServices);

  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  auto context = Context();
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest alpha_request;
  alpha_request.set_list_services("*");
  ASSERT_TRUE(stream->Write(alpha_request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse alpha_response;
  ASSERT_TRUE(stream->Read(&alpha_response));
  EXPECT_TRUE(stream->Finish().ok());
  std::set<std::string> alpha_names;
  for (const auto& service : alpha_response.list_services_response().service()) {
    alpha_names.insert(service.name());
  }
  EXPECT_EQ(alpha_names, kServices);
}

// What `grpcurl … grpc.health.v1.Health/Check` needs: the service resolves to its file.
TEST_F(ReflectionTest, TheHealthServiceResolvesOverBothVersions) {
  auto response = FileContaining("grpc.health.v1.Health");
  ASSERT_FALSE(response.has_error_response()) << response.error_response().error_message();
  std::vector<FileDescriptorProto> files = Files(response);
  const FileDescriptorProto* health = Named(files, "grpc/health/v1/health.proto");
  ASSERT_NE(health, nullptr);
  ASSERT_EQ(health->service_size(), 1);
  EXPECT_EQ(health->service(0).name(), "Health");

  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel_);
  auto context = Context();
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_file_containing_symbol("grpc.health.v1.Health.Check");
  ASSERT_TRUE(stream->Write(request));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse alpha;
  ASSERT_TRUE(stream->Read(&alpha));
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_FALSE(alpha.has_error_response()) << alpha.error_response().error_message();
  EXPECT_GT(alpha.file_descriptor_response().file_descriptor_proto_size(), 0);
}

// What `grpcurl describe firstsip.v1.BriefingService.WatchBriefings` prints: the method's
// comment, from the descriptor set built with source info.
TEST_F(ReflectionTest, DescribeShowsTheContractsComments) {
  auto response = FileContaining("firstsip.v1.BriefingService.WatchBriefings");
  ASSERT_FALSE(response.has_error_response()) << response.error_response().error_message();
  std::vector<FileDescriptorProto> files = Files(response);
  const FileDescriptorProto* briefing = Named(files, "firstsip/v1/briefing.proto");
  ASSERT_NE(briefing, nullptr);
  ASSERT_EQ(briefing->service_size(), 1);
  int watch = -1;
  for (int i = 0; i < briefing->service(0).method_size(); ++i) {
    if (briefing->service(0).method(i).name() == "WatchBriefings") watch = i;
  }
  ASSERT_GE(watch, 0);
  // FileDescriptorProto: service = 6, ServiceDescriptorProto: method = 2.
  std::string comment = LeadingComment(*briefing, {6, 0, 2, watch});
  EXPECT_TRUE(absl::StrContains(comment, "one message per committed change")) << comment;
  EXPECT_TRUE(absl::StrContains(LeadingComment(*briefing, {6, 0}), "Briefings and their lifecycle"))
      << LeadingComment(*briefing, {6, 0});

  // Every file of the contract comes with its imports, and with its comments.
  for (const char* name : {"firstsip/v1/common.proto", "google/protobuf/struct.proto",
                           "google/protobuf/duration.proto", "google/protobuf/empty.proto",
                           "google/protobuf/timestamp.proto"}) {
    EXPECT_NE(Named(files, name), nullptr) << name;
  }
  const FileDescriptorProto* common = Named(files, "firstsip/v1/common.proto");
  ASSERT_NE(common, nullptr);
  // FileDescriptorProto: enum_type = 5; EnumDescriptorProto: value = 2.
  EXPECT_TRUE(absl::StrContains(LeadingComment(*common, {5, 0, 2, 1}), "ordinary user"));
}

TEST_F(ReflectionTest, FilesByNameAndUnknownSymbolsAnswerAsTheProtocolSays) {
  grpc::reflection::v1::ServerReflectionRequest request;
  request.set_file_by_filename("firstsip/v1/user.proto");
  auto by_name = AskV1(request);
  ASSERT_FALSE(by_name.has_error_response()) << by_name.error_response().error_message();
  std::vector<FileDescriptorProto> files = Files(by_name);
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files.front().name(), "firstsip/v1/user.proto");
  EXPECT_TRUE(files.front().has_source_code_info());
  EXPECT_EQ(by_name.original_request().file_by_filename(), "firstsip/v1/user.proto");

  auto unknown = FileContaining("firstsip.v1.NoSuchService");
  ASSERT_TRUE(unknown.has_error_response());
  EXPECT_EQ(unknown.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  request.set_file_by_filename("no/such/file.proto");
  auto missing = AskV1(request);
  ASSERT_TRUE(missing.has_error_response());
  EXPECT_EQ(missing.error_response().error_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
}

}  // namespace
}  // namespace firstsip
