// docs/API.md and the protos stay in step: every service, RPC, message, field and enum value of
// firstsip.v1 has its place in the document, and the document names nothing the protos lack.
//
// The document's shape that this reads: a heading "### `Name`" for each service, message and
// enum, followed by a table whose rows start with "| `member`" (an RPC, a field, an enum value).
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "firstsip/v1/briefing.pb.h"
#include "firstsip/v1/common.pb.h"
#include "firstsip/v1/identity.pb.h"
#include "firstsip/v1/user.pb.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace firstsip {
namespace {

using google::protobuf::FileDescriptor;

// One "### `Name`" section: the first cell of each table row, and each row whole.
struct Section {
  std::set<std::string> members;
  std::map<std::string, std::string> rows;
};

class ApiDocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream file(std::string(FIRSTSIP_SOURCE_DIR) + "/docs/API.md");
    ASSERT_TRUE(file) << "docs/API.md is missing";
    std::stringstream contents;
    contents << file.rdbuf();
    text_ = contents.str();
    Section* current = nullptr;
    for (absl::string_view line : absl::StrSplit(text_, '\n')) {
      if (absl::StartsWith(line, "#")) {
        current = nullptr;
        if (absl::StartsWith(line, "### `")) {
          std::string name(line.substr(5, line.find('`', 5) - 5));
          EXPECT_FALSE(sections_.count(name)) << "two sections for " << name;
          current = &sections_[name];
        }
        continue;
      }
      if (current != nullptr && absl::StartsWith(line, "| `")) {
        std::string member(line.substr(3, line.find('`', 3) - 3));
        current->members.insert(member);
        current->rows[member] = std::string(line);
      }
    }
    files_ = {v1::Role_descriptor()->file(), v1::User::descriptor()->file(),
              v1::AuthIdentity::descriptor()->file(), v1::Briefing::descriptor()->file()};
    for (const FileDescriptor* file : files_) {
      for (int i = 0; i < file->service_count(); ++i) {
        names_.insert(file->service(i)->name());
        for (int m = 0; m < file->service(i)->method_count(); ++m) {
          names_.insert(file->service(i)->method(m)->name());
        }
      }
      for (int i = 0; i < file->message_type_count(); ++i) {
        names_.insert(file->message_type(i)->name());
      }
      for (int i = 0; i < file->enum_type_count(); ++i) {
        names_.insert(file->enum_type(i)->name());
        for (int v = 0; v < file->enum_type(i)->value_count(); ++v) {
          enum_values_.insert(file->enum_type(i)->value(v)->name());
        }
      }
    }
  }

  // The section for `name`, or null (with a failure) when the document has none.
  const Section* SectionFor(const std::string& name) {
    auto found = sections_.find(name);
    if (found == sections_.end()) {
      ADD_FAILURE() << "docs/API.md has no \"### `" << name << "`\" section";
      return nullptr;
    }
    return &found->second;
  }

  std::string text_;
  std::map<std::string, Section> sections_;
  std::vector<const FileDescriptor*> files_;
  std::set<std::string> names_;        // services, RPCs, messages, enums
  std::set<std::string> enum_values_;  // every value of every enum
};

TEST_F(ApiDocTest, EveryServiceListsExactlyItsRpcsWithTheirRequestAndResponse) {
  for (const FileDescriptor* file : files_) {
    for (int i = 0; i < file->service_count(); ++i) {
      const google::protobuf::ServiceDescriptor& service = *file->service(i);
      SCOPED_TRACE(service.name());
      const Section* section = SectionFor(service.name());
      if (section == nullptr) continue;
      std::set<std::string> rpcs;
      for (int m = 0; m < service.method_count(); ++m) {
        const google::protobuf::MethodDescriptor& method = *service.method(m);
        rpcs.insert(method.name());
        auto row = section->rows.find(method.name());
        if (row == section->rows.end()) continue;
        EXPECT_TRUE(absl::StrContains(row->second, method.input_type()->name() + "`"))
            << method.name() << " takes " << method.input_type()->full_name();
        EXPECT_TRUE(absl::StrContains(row->second, method.output_type()->name() + "`"))
            << method.name() << " returns " << method.output_type()->full_name();
        EXPECT_EQ(absl::StrContains(row->second, "stream of"), method.server_streaming())
            << method.name();
      }
      EXPECT_EQ(section->members, rpcs);
    }
  }
}

TEST_F(ApiDocTest, EveryMessageListsExactlyItsFields) {
  for (const FileDescriptor* file : files_) {
    for (int i = 0; i < file->message_type_count(); ++i) {
      const google::protobuf::Descriptor& message = *file->message_type(i);
      SCOPED_TRACE(message.name());
      const Section* section = SectionFor(message.name());
      if (section == nullptr) continue;
      std::set<std::string> fields;
      for (int f = 0; f < message.field_count(); ++f) fields.insert(message.field(f)->name());
      EXPECT_EQ(section->members, fields);
    }
  }
}

TEST_F(ApiDocTest, EveryEnumListsExactlyItsValues) {
  for (const FileDescriptor* file : files_) {
    for (int i = 0; i < file->enum_type_count(); ++i) {
      const google::protobuf::EnumDescriptor& enumeration = *file->enum_type(i);
      SCOPED_TRACE(enumeration.name());
      const Section* section = SectionFor(enumeration.name());
      if (section == nullptr) continue;
      std::set<std::string> values;
      for (int v = 0; v < enumeration.value_count(); ++v) {
        values.insert(enumeration.value(v)->name());
        auto row = section->rows.find(enumeration.value(v)->name());
        if (row == section->rows.end()) continue;
        EXPECT_TRUE(absl::StrContains(row->second,
                                      absl::StrCat("| ", enumeration.value(v)->number(), " |")))
            << enumeration.value(v)->name() << " is " << enumeration.value(v)->number();
      }
      EXPECT_EQ(section->members, values);
    }
  }
}

TEST_F(ApiDocTest, TheDocumentNamesNoServiceRpcMessageOrEnumValueTheProtosLack) {
  for (const auto& [name, section] : sections_) {
    EXPECT_TRUE(names_.count(name))
        << "section \"### `" << name << "`\" names nothing in firstsip.v1";
  }
  // `CamelCase` with two capitals or more: a service, RPC, message or enum by its name.
  std::regex camel_case("`([A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*)`");
  for (std::sregex_iterator it(text_.begin(), text_.end(), camel_case), end; it != end; ++it) {
    std::string name = (*it)[1].str();
    int capitals = 0;
    for (char c : name) capitals += (c >= 'A' && c <= 'Z') ? 1 : 0;
    if (capitals < 2) continue;
    EXPECT_TRUE(names_.count(name)) << "docs/API.md names `" << name << "`, which no proto has";
  }
  std::regex enum_value("`((ROLE|BRIEFING_STATUS)_[A-Z_]+)`");
  for (std::sregex_iterator it(text_.begin(), text_.end(), enum_value), end; it != end; ++it) {
    EXPECT_TRUE(enum_values_.count((*it)[1].str()))
        << "docs/API.md names `" << (*it)[1].str() << "`, which no enum has";
  }
}

}  // namespace
}  // namespace firstsip
