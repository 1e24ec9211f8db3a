#include "logic/user_rules.h"

#include "gtest/gtest.h"

namespace firstsip::logic {
namespace {

v1::User ValidUser() {
  v1::User user;
  user.set_email("ada@example.com");
  user.set_name("Ada");
  return user;
}

google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
  google::protobuf::FieldMask mask;
  for (const char* path : paths) mask.add_paths(path);
  return mask;
}

TEST(PrepareNewUser, AppliesDefaults) {
  absl::StatusOr<NewUser> user = PrepareNewUser(ValidUser());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->timezone, "UTC");
  EXPECT_EQ(user->preferred_briefing_time, "06:00");
  EXPECT_EQ(user->role, "user");
  EXPECT_FALSE(user->briefings_paused);
}

TEST(PrepareNewUser, TakesBriefingsPausedAndIgnoresTheNextBriefingTime) {
  v1::User input = ValidUser();
  input.set_briefings_paused(true);
  input.mutable_next_briefing_time()->set_seconds(1);  // output only: the service computes it
  absl::StatusOr<NewUser> user = PrepareNewUser(input);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_TRUE(user->briefings_paused);
}

TEST(PrepareNewUser, KeepsGivenValuesAndIgnoresOutputOnlyFields) {
  v1::User input = ValidUser();
  input.set_timezone("Asia/Tokyo");
  input.set_preferred_briefing_time("07:15");
  input.set_role(v1::ROLE_ADMIN);
  input.set_id(99);
  input.set_etag("r5");
  absl::StatusOr<NewUser> user = PrepareNewUser(input);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->timezone, "Asia/Tokyo");
  EXPECT_EQ(user->preferred_briefing_time, "07:15");
  EXPECT_EQ(user->role, "admin");
}

TEST(PrepareNewUser, NamesTheFieldThatBreaksARule) {
  struct Case {
    const char* why;
    void (*mutate)(v1::User&);
    const char* field;
  } const cases[] = {
      {"missing email", [](v1::User& u) { u.clear_email(); }, "user.email"},
      {"bad email", [](v1::User& u) { u.set_email("nope"); }, "user.email"},
      {"bad zone", [](v1::User& u) { u.set_timezone("Mars/Olympus"); }, "user.timezone"},
      {"24:00", [](v1::User& u) { u.set_preferred_briefing_time("24:00"); },
       "user.preferred_briefing_time"},
      {"6:00", [](v1::User& u) { u.set_preferred_briefing_time("6:00"); },
       "user.preferred_briefing_time"},
      {"unknown role", [](v1::User& u) { u.set_role(static_cast<v1::Role>(7)); }, "user.role"},
      {"long name", [](v1::User& u) { u.set_name(std::string(300, 'n')); }, "user.name"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.why);
    v1::User user = ValidUser();
    c.mutate(user);
    absl::Status status = PrepareNewUser(user).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message().substr(0, std::string(c.field).size() + 1),
              std::string(c.field) + ":");
  }
}

TEST(PrepareUserPatch, SetsOnlyMaskedFields) {
  v1::User user = ValidUser();
  user.set_timezone("Europe/Paris");
  absl::StatusOr<UserPatch> patch = PrepareUserPatch(user, Mask({"timezone"}));
  ASSERT_TRUE(patch.ok()) << patch.status();
  EXPECT_EQ(patch->timezone, "Europe/Paris");
  EXPECT_FALSE(patch->email.has_value());
  EXPECT_FALSE(patch->name.has_value());
  EXPECT_FALSE(patch->expected_revision.has_value());
  EXPECT_FALSE(patch->briefings_paused.has_value());
}

TEST(PrepareUserPatch, PausesAndResumesBriefingsOnlyThroughTheMask) {
  v1::User user = ValidUser();
  user.set_briefings_paused(true);
  absl::StatusOr<UserPatch> pause = PrepareUserPatch(user, Mask({"briefings_paused"}));
  ASSERT_TRUE(pause.ok()) << pause.status();
  EXPECT_EQ(pause->briefings_paused, true);
  user.set_briefings_paused(false);
  absl::StatusOr<UserPatch> resume = PrepareUserPatch(user, Mask({"briefings_paused"}));
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->briefings_paused, false) << "false in the mask resumes; it is not \"unset\"";
  absl::Status output_only = PrepareUserPatch(user, Mask({"next_briefing_time"})).status();
  EXPECT_EQ(output_only.code(), absl::StatusCode::kInvalidArgument) << output_only;
}

TEST(PrepareUserPatch, RejectsEmptyMasksUnknownPathsAndBadEtags) {
  v1::User user = ValidUser();
  EXPECT_EQ(PrepareUserPatch(user, Mask({})).status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* path : {"id", "create_time", "etag", "delete_time", "Email", "", "name.x"}) {
    SCOPED_TRACE(path);
    absl::Status status = PrepareUserPatch(user, Mask({path})).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message().substr(0, 12), "update_mask:");
  }
  user.set_etag("garbage");
  EXPECT_EQ(PrepareUserPatch(user, Mask({"name"})).status().message().substr(0, 10), "user.etag:");
  user.set_etag("r12");
  EXPECT_EQ(*PrepareUserPatch(user, Mask({"name"}))->expected_revision, 12);
}

TEST(PrepareUserPatch, ValidatesTheValueOfEachMaskedField) {
  v1::User user = ValidUser();
  user.set_role(v1::ROLE_UNSPECIFIED);
  EXPECT_FALSE(PrepareUserPatch(user, Mask({"role"})).ok());
  user.set_email("broken");
  EXPECT_FALSE(PrepareUserPatch(user, Mask({"email"})).ok());
  // An unmasked invalid field is not looked at.
  EXPECT_TRUE(PrepareUserPatch(user, Mask({"name"})).ok());
}

TEST(Etag, RoundTripsRevisions) {
  EXPECT_EQ(*RevisionFromEtag(EtagForRevision(3), "etag"), 3);
  EXPECT_FALSE(RevisionFromEtag("3", "etag").ok());
  EXPECT_FALSE(RevisionFromEtag("r0", "etag").ok());
  EXPECT_FALSE(RevisionFromEtag("r-1", "etag").ok());
}

TEST(Role, MapsBothWays) {
  EXPECT_EQ(*RoleFromStored(*RoleToStored(v1::ROLE_USER, "r")), v1::ROLE_USER);
  EXPECT_EQ(*RoleFromStored(*RoleToStored(v1::ROLE_ADMIN, "r")), v1::ROLE_ADMIN);
  EXPECT_FALSE(RoleToStored(v1::ROLE_UNSPECIFIED, "r").ok());
  EXPECT_FALSE(RoleFromStored("root").ok());
}

}  // namespace
}  // namespace firstsip::logic
