// ExportUser's identities are ExportedIdentity, a field-by-field mirror of AuthIdentity (the
// export cannot name AuthIdentity: identity.proto imports user.proto). The server turns one
// into the other through their bytes, which is right only while the two stay alike: a field
// added to AuthIdentity and not to ExportedIdentity would vanish from exports silently.
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace firstsip {
namespace {

TEST(ExportedIdentity, MirrorsAuthIdentityFieldByField) {
  const google::protobuf::Descriptor& identity = *v1::AuthIdentity::descriptor();
  const google::protobuf::Descriptor& exported = *v1::ExportedIdentity::descriptor();
  ASSERT_EQ(exported.field_count(), identity.field_count());
  for (int i = 0; i < identity.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& field = *identity.field(i);
    SCOPED_TRACE(field.name());
    const google::protobuf::FieldDescriptor* mirror = exported.FindFieldByNumber(field.number());
    ASSERT_NE(mirror, nullptr);
    EXPECT_EQ(mirror->name(), field.name());
    EXPECT_EQ(mirror->type(), field.type());
    EXPECT_EQ(mirror->label(), field.label());
    if (field.message_type() != nullptr) {
      EXPECT_EQ(mirror->message_type(), field.message_type());
    }
  }
}

TEST(ExportedIdentity, CarriesEveryFieldOfAnIdentityThroughItsBytes) {
  v1::AuthIdentity identity;
  identity.set_id(7);
  identity.set_user_id(3);
  identity.set_provider("google");
  identity.set_provider_user_id("sub-1");
  identity.mutable_token_expiry()->set_seconds(1800000000);
  identity.set_has_access_token(true);
  identity.set_has_refresh_token(true);
  identity.mutable_create_time()->set_seconds(1700000000);
  identity.mutable_update_time()->set_seconds(1700000100);
  v1::ExportedIdentity exported;
  ASSERT_TRUE(exported.ParseFromString(identity.SerializeAsString()));
  v1::AuthIdentity back;
  ASSERT_TRUE(back.ParseFromString(exported.SerializeAsString()));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(identity, back));
  EXPECT_TRUE(exported.GetReflection()->GetUnknownFields(exported).empty());
}

}  // namespace
}  // namespace firstsip
