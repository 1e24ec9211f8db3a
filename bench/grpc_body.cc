// firstsip-grpc-body: the request bodies the load generators send, and the proof that a server
// answers them OK with the right content (the generators see only each call's status).
//
//   firstsip-grpc-body bodies DIR USERS LIST_USERS
//       writes DIR/RPC.bodies for get_user, list_briefings, sign_in and create_briefing: many
//       requests, one gRPC frame each (see below), for firstsip-h2load to send in turn. GetUser
//       and SignIn go through users (identities sub-N) 1..USERS in a shuffled order;
//       ListBriefings asks for a page of 20 of users 1..LIST_USERS, which hold the seeded
//       briefings; CreateBriefing adds briefings to the others only, so the pages stay as seeded.
//
//   firstsip-grpc-body write DIR GET_USER_ID LIST_USER_ID PAGE_SIZE
//       writes DIR/get_user.bin (GetUserRequest) and DIR/list_briefings.bin
//       (ListBriefingsRequest): each a gRPC message as it goes on the wire, 1 byte 0 (not
//       compressed), 4 bytes big-endian length, the serialized request.
//   firstsip-grpc-body check TARGET RPC BODY
//       sends BODY's message to RPC (get_user | list_briefings) at TARGET with a generic stub,
//       so exactly the bytes h2load sends. Exits 0 and prints the serialized response's size in
//       bytes only when the status is OK and the response answers the request: GetUser the same
//       id with an email; ListBriefings a full page of that user's briefings, each with content.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "firstsip/v1/briefing.pb.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace {

constexpr char kGetUser[] = "/firstsip.v1.UserService/GetUser";
constexpr char kListBriefings[] = "/firstsip.v1.BriefingService/ListBriefings";

std::string Frame(const google::protobuf::MessageLite& message) {
  std::string payload = message.SerializeAsString();
  uint32_t size = static_cast<uint32_t>(payload.size());
  std::string frame(1, '\0');
  for (int shift = 24; shift >= 0; shift -= 8) {
    frame.push_back(static_cast<char>((size >> shift) & 0xff));
  }
  return frame + payload;
}

bool WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(file);
}

// The message inside a framed body, or false when the frame is malformed.
bool Unframe(const std::string& body, std::string* message) {
  if (body.size() < 5 || body[0] != '\0') return false;
  uint32_t size = 0;
  for (int i = 1; i <= 4; ++i) size = (size << 8) | static_cast<unsigned char>(body[i]);
  if (body.size() != 5 + static_cast<size_t>(size)) return false;
  *message = body.substr(5);
  return true;
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "firstsip-grpc-body: %s\n", why.c_str());
  return 1;
}

int Write(const std::string& dir, int64_t get_user_id, int64_t list_user_id, int page_size) {
  firstsip::v1::GetUserRequest get_user;
  get_user.set_id(get_user_id);
  firstsip::v1::ListBriefingsRequest list;
  list.set_user_id(list_user_id);
  list.set_page_size(page_size);
  if (!WriteFile(dir + "/get_user.bin", Frame(get_user)) ||
      !WriteFile(dir + "/list_briefings.bin", Frame(list))) {
    return Fail("cannot write the bodies into " + dir);
  }
  return 0;
}

int WriteBodies(const std::string& dir, int64_t users, int64_t list_users) {
  std::vector<int64_t> order(static_cast<size_t>(users));
  for (int64_t i = 0; i < users; ++i) order[static_cast<size_t>(i)] = i + 1;
  std::mt19937_64 random(20261207);
  std::shuffle(order.begin(), order.end(), random);
  std::string get_user, sign_in, list, create;
  for (int64_t id : order) {
    firstsip::v1::GetUserRequest get;
    get.set_id(id);
    get_user += Frame(get);
    firstsip::v1::SignInRequest in;
    in.set_provider("google");
    in.set_provider_user_id("sub-" + std::to_string(id));
    in.set_email("user" + std::to_string(id) + "@bench.local");
    in.mutable_tokens()->set_access_token("ya29.bench-access-" + std::to_string(id));
    sign_in += Frame(in);
    if (id <= list_users) {
      firstsip::v1::ListBriefingsRequest page;
      page.set_user_id(id);
      page.set_page_size(20);
      list += Frame(page);
    } else {
      firstsip::v1::CreateBriefingRequest briefing;
      briefing.set_user_id(id);
      create += Frame(briefing);
    }
  }
  for (const auto& [name, bytes] :
       {std::pair{"get_user", &get_user}, std::pair{"sign_in", &sign_in},
        std::pair{"list_briefings", &list}, std::pair{"create_briefing", &create}}) {
    if (!WriteFile(dir + "/" + name + ".bodies", *bytes)) {
      return Fail("cannot write the bodies into " + dir);
    }
  }
  return 0;
}

// The first frame of a .bodies file (or the whole of a .bin one).
bool FirstFrame(const std::string& bytes, std::string* frame) {
  if (bytes.size() < 5) return false;
  uint32_t size = 0;
  for (int i = 1; i <= 4; ++i) size = (size << 8) | static_cast<unsigned char>(bytes[i]);
  if (bytes.size() < 5 + static_cast<size_t>(size)) return false;
  *frame = bytes.substr(0, 5 + size);
  return true;
}

int Check(const std::string& target, const std::string& rpc, const std::string& body_path) {
  std::ifstream file(body_path, std::ios::binary);
  if (!file) return Fail("cannot read " + body_path);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::string body;
  std::string request;
  if (!FirstFrame(bytes, &body) || !Unframe(body, &request)) {
    return Fail(body_path + " does not start with an uncompressed gRPC message");
  }
  const char* method = rpc == "get_user" ? kGetUser : rpc == "list_briefings" ? kListBriefings : "";
  if (*method == '\0') return Fail("unknown rpc " + rpc + " (get_user | list_briefings)");

  grpc::GenericStub stub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  context.set_wait_for_ready(true);
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return Fail(rpc + " at " + target + " answered status " + std::to_string(status.error_code()) +
                ": " + status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return Fail("cannot read the response");
  std::string response;
  for (const grpc::Slice& part : slices) {
    response.append(reinterpret_cast<const char*>(part.begin()), part.size());
  }

  if (rpc == "get_user") {
    firstsip::v1::GetUserRequest asked;
    firstsip::v1::User user;
    if (!asked.ParseFromString(request) || !user.ParseFromString(response)) {
      return Fail("GetUser: request or response does not parse");
    }
    if (user.id() != asked.id() || user.email().empty()) {
      return Fail("GetUser " + std::to_string(asked.id()) + " answered user " +
                  std::to_string(user.id()) + " with email '" + user.email() + "'");
    }
  } else {
    firstsip::v1::ListBriefingsRequest asked;
    firstsip::v1::ListBriefingsResponse page;
    if (!asked.ParseFromString(request) || !page.ParseFromString(response)) {
      return Fail("ListBriefings: request or response does not parse");
    }
    if (page.briefings_size() != asked.page_size()) {
      return Fail("ListBriefings for user " + std::to_string(asked.user_id()) + " answered " +
                  std::to_string(page.briefings_size()) + " briefings, not a page of " +
                  std::to_string(asked.page_size()));
    }
    for (const firstsip::v1::Briefing& briefing : page.briefings()) {
      if (briefing.user_id() != asked.user_id() || briefing.content().fields_size() == 0) {
        return Fail("ListBriefings: briefing " + std::to_string(briefing.id()) +
                    " belongs to user " + std::to_string(briefing.user_id()) +
                    " or has no content");
      }
    }
  }
  std::printf("%zu\n", response.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 5 && args[0] == "write") {
    return Write(args[1], std::stoll(args[2]), std::stoll(args[3]), std::stoi(args[4]));
  }
  if (args.size() == 4 && args[0] == "bodies") {
    return WriteBodies(args[1], std::stoll(args[2]), std::stoll(args[3]));
  }
  if (args.size() == 4 && args[0] == "check") return Check(args[1], args[2], args[3]);
  std::fprintf(stderr,
               "usage: firstsip-grpc-body write DIR GET_USER_ID LIST_USER_ID PAGE_SIZE\n"
               "       firstsip-grpc-body bodies DIR USERS LIST_USERS\n"
               "       firstsip-grpc-body check TARGET get_user|list_briefings BODY\n");
  return 2;
}
