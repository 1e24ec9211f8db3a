#include "transport/user_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "logic/page_token.h"
#include "logic/user_rules.h"
#include "logic/validators.h"
#include "transport/unary_call.h"

namespace firstsip::transport {
namespace {

constexpr char kUsersCollection[] = "users";

// The filter a ListUsers page token is bound to.
std::string ListFilter(const v1::ListUsersRequest& request) {
  return absl::StrCat("show_deleted=", request.show_deleted(),
                      ";role=", static_cast<int>(request.role()));
}

}  // namespace

void UserServiceImpl::CreateUser(UnaryCall<v1::CreateUserRequest, v1::User>& call) {
  absl::StatusOr<logic::NewUser> user = logic::PrepareNewUser(call.request().user());
  if (!user.ok()) return call.Finish(user.status());
  store_.Create(*user, call.options(), call.FinishWithValue());
}

void UserServiceImpl::GetUser(UnaryCall<v1::GetUserRequest, v1::User>& call) {
  ServeById(call, &v1::GetUserRequest::id, "id", [&](int64_t id) {
    store_.Get(id, call.request().show_deleted(), call.options(), call.FinishWithValue());
  });
}

void UserServiceImpl::GetUserByEmail(UnaryCall<v1::GetUserByEmailRequest, v1::User>& call) {
  const std::string& email = call.request().email();
  if (absl::Status valid = logic::ValidateEmail(email, "email"); !valid.ok()) {
    return call.Finish(valid);
  }
  store_.GetByEmail(email, call.options(), call.FinishWithValue());
}

void UserServiceImpl::ListUsers(UnaryCall<v1::ListUsersRequest, v1::ListUsersResponse>& call) {
  const v1::ListUsersRequest& list = call.request();
  absl::StatusOr<int> page_size = logic::NormalizePageSize(list.page_size());
  if (!page_size.ok()) return call.Finish(page_size.status());
  storage::UserListQuery query;
  query.limit = *page_size + 1;  // one more than asked tells whether another page follows
  query.show_deleted = list.show_deleted();
  if (list.role() != v1::ROLE_UNSPECIFIED) {
    absl::StatusOr<std::string> role = logic::RoleToStored(list.role(), "role");
    if (!role.ok()) return call.Finish(role.status());
    query.role = *role;
  }
  std::string filter = ListFilter(list);
  if (!list.page_token().empty()) {
    absl::StatusOr<int64_t> after =
        logic::DecodePageToken(list.page_token(), kUsersCollection, filter);
    if (!after.ok()) return call.Finish(after.status());
    query.after_id = *after;
  }
  store_.List(query, call.options(),
              [&call, limit = *page_size,
               filter = std::move(filter)](absl::StatusOr<std::vector<v1::User>> users) {
                if (!users.ok()) return call.Finish(users.status());
                v1::ListUsersResponse& page = call.response();
                page.set_next_page_token(logic::CutToPage(*users, limit, kUsersCollection, filter));
                for (v1::User& user : *users) *page.add_users() = std::move(user);
                call.Finish(absl::OkStatus());
              });
}

void UserServiceImpl::UpdateUser(UnaryCall<v1::UpdateUserRequest, v1::User>& call) {
  const v1::UpdateUserRequest& update = call.request();
  if (absl::Status id = logic::ValidateId(update.user().id(), "user.id"); !id.ok()) {
    return call.Finish(id);
  }
  absl::StatusOr<logic::UserPatch> patch =
      logic::PrepareUserPatch(update.user(), update.update_mask());
  if (!patch.ok()) return call.Finish(patch.status());
  store_.Update(update.user().id(), *patch, call.options(), call.FinishWithValue());
}

void UserServiceImpl::DeleteUser(UnaryCall<v1::DeleteUserRequest, v1::User>& call) {
  ServeById(call, &v1::DeleteUserRequest::id, "id",
            [&](int64_t id) { store_.Delete(id, call.options(), call.FinishWithValue()); });
}

void UserServiceImpl::UndeleteUser(UnaryCall<v1::UndeleteUserRequest, v1::User>& call) {
  ServeById(call, &v1::UndeleteUserRequest::id, "id",
            [&](int64_t id) { store_.Undelete(id, call.options(), call.FinishWithValue()); });
}

void UserServiceImpl::EraseUser(UnaryCall<v1::EraseUserRequest, google::protobuf::Empty>& call) {
  ServeById(call, &v1::EraseUserRequest::id, "id", [&](int64_t id) {
    const std::string& etag = call.request().etag();
    if (etag.empty()) {
      return call.Finish(absl::InvalidArgumentError(
          "etag: required: erasure cannot be undone, so it takes the etag of the user as just "
          "read (GetUser, with show_deleted for a deleted user)"));
    }
    absl::StatusOr<int64_t> revision = logic::RevisionFromEtag(etag, "etag");
    if (!revision.ok()) return call.Finish(revision.status());
    if (lifecycle_.store == nullptr) {
      return call.Finish(absl::UnimplementedError("erasure is not configured"));
    }
    lifecycle_.store->Erase(id, *revision, call.options(), call.FinishWithStatus());
  });
}

void UserServiceImpl::Register(RpcServer& server, grpc::ServerBuilder& builder) {
  server.AddService(builder, service_);
  HandleUnary(server, service_, "CreateUser", this, &UserServiceImpl::CreateUser);
  HandleUnary(server, service_, "GetUser", this, &UserServiceImpl::GetUser);
  HandleUnary(server, service_, "GetUserByEmail", this, &UserServiceImpl::GetUserByEmail);
  HandleUnary(server, service_, "ListUsers", this, &UserServiceImpl::ListUsers);
  HandleUnary(server, service_, "UpdateUser", this, &UserServiceImpl::UpdateUser);
  HandleUnary(server, service_, "DeleteUser", this, &UserServiceImpl::DeleteUser);
  HandleUnary(server, service_, "UndeleteUser", this, &UserServiceImpl::UndeleteUser);
  HandleUnary(server, service_, "EraseUser", this, &UserServiceImpl::EraseUser);
  server.Handle<ExportUserCall>(service_, "ExportUser", lifecycle_);
}

}  // namespace firstsip::transport
