#include "storage/rows.h"

#include <optional>
#include <string>
#include <utility>

#include "common/proto_time.h"
#include "common/status_macros.h"
#include "logic/briefing_rules.h"
#include "logic/content_json.h"
#include "logic/user_rules.h"

namespace firstsip::storage {

absl::StatusOr<v1::User> UserFromRow(const db::Result& result, int row) {
  const int id = result.Column("id"), email = result.Column("email"), name = result.Column("name"),
            timezone = result.Column("timezone"),
            briefing_time = result.Column("preferred_briefing_time"), role = result.Column("role"),
            revision = result.Column("revision"), last_login = result.Column("last_login_at_us"),
            last_briefing = result.Column("last_briefing_at_us"),
            created = result.Column("create_time_us"), updated = result.Column("update_time_us"),
            deleted = result.Column("delete_time_us"),
            next_briefing = result.Column("next_briefing_time_us"),
            paused = result.Column("briefings_paused");
  v1::User user;
  {
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t id_value, result.Int64(row, id));
    user.set_id(id_value);
    user.set_email(std::string(result.Text(row, email)));
    user.set_name(std::string(result.Text(row, name)));
    user.set_timezone(std::string(result.Text(row, timezone)));
    user.set_preferred_briefing_time(std::string(result.Text(row, briefing_time)));
    FIRSTSIP_ASSIGN_OR_RETURN(v1::Role role_value, logic::RoleFromStored(result.Text(row, role)));
    user.set_role(role_value);
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t revision_value, result.Int64(row, revision));
    user.set_etag(logic::EtagForRevision(revision_value));
    using MutableTimestamp = google::protobuf::Timestamp* (v1::User::*)();
    const std::pair<int, MutableTimestamp> timestamps[] = {
        {last_login, &v1::User::mutable_last_login_at},
        {last_briefing, &v1::User::mutable_last_briefing_at},
        {created, &v1::User::mutable_create_time},
        {updated, &v1::User::mutable_update_time},
        {deleted, &v1::User::mutable_delete_time},
        {next_briefing, &v1::User::mutable_next_briefing_time}};
    for (const auto& [column, mutable_field] : timestamps) {
      FIRSTSIP_ASSIGN_OR_RETURN(std::optional<int64_t> micros, result.OptionalInt64(row, column));
      // A NULL column leaves the field unset rather than a zero timestamp.
      if (micros.has_value()) SetTimestampMicros(*micros, (user.*mutable_field)());
    }
    FIRSTSIP_ASSIGN_OR_RETURN(bool paused_value, result.Bool(row, paused));
    user.set_briefings_paused(paused_value);
  }
  return user;
}

absl::StatusOr<v1::AuthIdentity> IdentityFromRow(const db::Result& result, int row) {
  const int id = result.Column("identity_id"), user_id = result.Column("identity_user_id"),
            provider = result.Column("identity_provider"),
            provider_user_id = result.Column("identity_provider_user_id"),
            expiry = result.Column("identity_token_expiry_us"),
            has_access = result.Column("identity_has_access_token"),
            has_refresh = result.Column("identity_has_refresh_token"),
            created = result.Column("identity_create_time_us"),
            updated = result.Column("identity_update_time_us");
  v1::AuthIdentity identity;
  {
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t id_value, result.Int64(row, id));
    identity.set_id(id_value);
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t user_value, result.Int64(row, user_id));
    identity.set_user_id(user_value);
    identity.set_provider(std::string(result.Text(row, provider)));
    identity.set_provider_user_id(std::string(result.Text(row, provider_user_id)));
    FIRSTSIP_ASSIGN_OR_RETURN(bool access, result.Bool(row, has_access));
    identity.set_has_access_token(access);
    FIRSTSIP_ASSIGN_OR_RETURN(bool refresh, result.Bool(row, has_refresh));
    identity.set_has_refresh_token(refresh);
    using MutableTimestamp = google::protobuf::Timestamp* (v1::AuthIdentity::*)();
    const std::pair<int, MutableTimestamp> timestamps[] = {
        {expiry, &v1::AuthIdentity::mutable_token_expiry},
        {created, &v1::AuthIdentity::mutable_create_time},
        {updated, &v1::AuthIdentity::mutable_update_time}};
    for (const auto& [column, mutable_field] : timestamps) {
      FIRSTSIP_ASSIGN_OR_RETURN(std::optional<int64_t> micros, result.OptionalInt64(row, column));
      if (micros.has_value()) SetTimestampMicros(*micros, (identity.*mutable_field)());
    }
  }
  return identity;
}

absl::StatusOr<v1::Briefing> BriefingFromRow(const db::Result& result, int row) {
  const int id = result.Column("id"), user_id = result.Column("user_id"),
            status = result.Column("status"), content = result.Column("content"),
            error_message = result.Column("error_message"), read = result.Column("read_at_us"),
            created = result.Column("create_time_us"), updated = result.Column("update_time_us"),
            deleted = result.Column("delete_time_us");
  v1::Briefing briefing;
  {
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t id_value, result.Int64(row, id));
    briefing.set_id(id_value);
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t user_value, result.Int64(row, user_id));
    briefing.set_user_id(user_value);
    FIRSTSIP_ASSIGN_OR_RETURN(v1::BriefingStatus status_value,
                              logic::StatusFromStored(result.Text(row, status)));
    briefing.set_status(status_value);
    // NULL until the briefing is completed: the field stays unset.
    if (!result.IsNull(row, content)) {
      FIRSTSIP_RETURN_IF_ERROR(
          logic::ParseContentJson(result.Text(row, content), briefing.mutable_content()));
    }
    briefing.set_error_message(std::string(result.Text(row, error_message)));
    using MutableTimestamp = google::protobuf::Timestamp* (v1::Briefing::*)();
    const std::pair<int, MutableTimestamp> timestamps[] = {
        {read, &v1::Briefing::mutable_read_at},
        {created, &v1::Briefing::mutable_create_time},
        {updated, &v1::Briefing::mutable_update_time},
        {deleted, &v1::Briefing::mutable_delete_time}};
    for (const auto& [column, mutable_field] : timestamps) {
      FIRSTSIP_ASSIGN_OR_RETURN(std::optional<int64_t> micros, result.OptionalInt64(row, column));
      if (micros.has_value()) SetTimestampMicros(*micros, (briefing.*mutable_field)());
    }
  }
  return briefing;
}

absl::StatusOr<std::vector<v1::User>> UsersFromResult(const db::Result& result) {
  return EveryRow(result, &UserFromRow);
}

absl::StatusOr<std::vector<v1::AuthIdentity>> IdentitiesFromResult(const db::Result& result) {
  return EveryRow(result, &IdentityFromRow);
}

absl::StatusOr<std::vector<v1::Briefing>> BriefingsFromResult(const db::Result& result) {
  return EveryRow(result, &BriefingFromRow);
}

absl::StatusOr<std::vector<v1::User>> UsersFromRows(const db::Result& result,
                                                    absl::Span<const int> rows) {
  return SomeRows(result, rows, &UserFromRow);
}

absl::StatusOr<std::vector<v1::AuthIdentity>> IdentitiesFromRows(const db::Result& result,
                                                                 absl::Span<const int> rows) {
  return SomeRows(result, rows, &IdentityFromRow);
}

absl::StatusOr<std::vector<v1::Briefing>> BriefingsFromRows(const db::Result& result,
                                                            absl::Span<const int> rows) {
  return SomeRows(result, rows, &BriefingFromRow);
}

}  // namespace firstsip::storage
