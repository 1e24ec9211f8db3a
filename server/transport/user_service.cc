#include "transport/user_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "logic/page_token.h"
#include "logic/user_rules.h"
#include "logic/validators.h"
#include "transport/unary_reactor.h"

namespace firstsip::transport {
namespace {

constexpr char kUsersCollection[] = "users";

// The filter a ListUsers page token is bound to.
std::string ListFilter(const v1::ListUsersRequest& request) {
  return absl::StrCat("show_deleted=", request.show_deleted(),
                      ";role=", static_cast<int>(request.role()));
}

}  // namespace

grpc::ServerUnaryReactor* UserServiceImpl::CreateUser(grpc::CallbackServerContext* context,
                                                      const v1::CreateUserRequest* request,
                                                      v1::User* response) {
  absl::StatusOr<logic::NewUser> user = logic::PrepareNewUser(request->user());
  if (!user.ok()) return FinishNow(context, user.status());
  auto* reactor = new CallReactor(*context);
  store_.Create(*user, reactor->call(), FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* UserServiceImpl::GetUser(grpc::CallbackServerContext* context,
                                                   const v1::GetUserRequest* request,
                                                   v1::User* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Get(request->id(), request->show_deleted(), reactor.call(),
               FinishInto(&reactor, response));
  });
}

grpc::ServerUnaryReactor* UserServiceImpl::GetUserByEmail(grpc::CallbackServerContext* context,
                                                          const v1::GetUserByEmailRequest* request,
                                                          v1::User* response) {
  if (absl::Status email = logic::ValidateEmail(request->email(), "email"); !email.ok()) {
    return FinishNow(context, email);
  }
  auto* reactor = new CallReactor(*context);
  store_.GetByEmail(request->email(), reactor->call(), FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUsers(grpc::CallbackServerContext* context,
                                                     const v1::ListUsersRequest* request,
                                                     v1::ListUsersResponse* response) {
  absl::StatusOr<int> page_size = logic::NormalizePageSize(request->page_size());
  if (!page_size.ok()) return FinishNow(context, page_size.status());
  storage::UserListQuery query;
  query.limit = *page_size + 1;  // one more than asked tells whether another page follows
  query.show_deleted = request->show_deleted();
  if (request->role() != v1::ROLE_UNSPECIFIED) {
    absl::StatusOr<std::string> role = logic::RoleToStored(request->role(), "role");
    if (!role.ok()) return FinishNow(context, role.status());
    query.role = *role;
  }
  std::string filter = ListFilter(*request);
  if (!request->page_token().empty()) {
    absl::StatusOr<int64_t> after =
        logic::DecodePageToken(request->page_token(), kUsersCollection, filter);
    if (!after.ok()) return FinishNow(context, after.status());
    query.after_id = *after;
  }
  auto* reactor = new CallReactor(*context);
  store_.List(query, reactor->call(),
              [reactor, response, limit = *page_size,
               filter = std::move(filter)](absl::StatusOr<std::vector<v1::User>> users) {
                if (!users.ok()) return reactor->Finish(ToGrpcStatus(users.status()));
                bool more = static_cast<int>(users->size()) > limit;
                if (more) users->resize(limit);
                for (v1::User& user : *users) *response->add_users() = std::move(user);
                if (more) {
                  response->set_next_page_token(logic::EncodePageToken(
                      kUsersCollection, filter, response->users(limit - 1).id()));
                }
                reactor->Finish(grpc::Status::OK);
              });
  return reactor;
}

grpc::ServerUnaryReactor* UserServiceImpl::UpdateUser(grpc::CallbackServerContext* context,
                                                      const v1::UpdateUserRequest* request,
                                                      v1::User* response) {
  if (absl::Status id = logic::ValidateId(request->user().id(), "user.id"); !id.ok()) {
    return FinishNow(context, id);
  }
  absl::StatusOr<logic::UserPatch> patch =
      logic::PrepareUserPatch(request->user(), request->update_mask());
  if (!patch.ok()) return FinishNow(context, patch.status());
  auto* reactor = new CallReactor(*context);
  store_.Update(request->user().id(), *patch, reactor->call(), FinishInto(reactor, response));
  return reactor;
}

grpc::ServerUnaryReactor* UserServiceImpl::DeleteUser(grpc::CallbackServerContext* context,
                                                      const v1::DeleteUserRequest* request,
                                                      v1::User* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Delete(request->id(), reactor.call(), FinishInto(&reactor, response));
  });
}

grpc::ServerUnaryReactor* UserServiceImpl::UndeleteUser(grpc::CallbackServerContext* context,
                                                        const v1::UndeleteUserRequest* request,
                                                        v1::User* response) {
  return StartCall(context, logic::ValidateId(request->id(), "id"), [&](CallReactor& reactor) {
    store_.Undelete(request->id(), reactor.call(), FinishInto(&reactor, response));
  });
}

}  // namespace firstsip::transport
