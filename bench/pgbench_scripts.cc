// firstsip-pgbench-scripts DIR: writes one pgbench script per benchmarked call, built from the
// very statements the service sends (storage::queries), so pgbench and the service run the
// same SQL against the same database. Parameters become pgbench variables where pgbench can
// carry them (integers) and literals where it cannot (strings, NULL, bytea).
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "storage/briefing_store.h"
#include "storage/identity_store.h"
#include "storage/user_store.h"

namespace {

// Replaces $N placeholders, highest N first so $1 never eats the start of $10.
std::string Bind(std::string sql, const std::map<int, std::string>& values) {
  for (auto it = values.rbegin(); it != values.rend(); ++it) {
    sql = absl::StrReplaceAll(sql, {{absl::StrCat("$", it->first), it->second}});
  }
  return sql;
}

bool Write(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text << "\n";
  return static_cast<bool>(file);
}

}  // namespace

// The seed briefings' content as the service stores it: jsonb plus the serialized Struct.
constexpr char kSeedContent[] =
    R"({"news": [{"title": "Headline"}], "weather": {"high_c": 9}, "work": {"meetings": 2}})";

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: firstsip-pgbench-scripts DIR\n");
    return 2;
  }
  using namespace firstsip::storage::queries;
  std::string dir = argv[1];
  // What a sealed token looks like in size: version, key id, nonce, 30 bytes, tag.
  std::string sealed = "'\\x01" + std::string(2 * (4 + 12 + 30 + 16), 'a') + "'";
  const std::map<std::string, std::string> scripts = {
      {"get_user", "\\set id random(1, :users)\n\\set f 0\n" +
                       Bind(std::string(kGetUser.sql), {{1, ":id"}, {2, ":f"}}) + ";"},
      {"list_briefings",
       "\\set uid random(1, :users)\n\\set cursor 9223372036854775807\n\\set f 0\n"
       "\\set lim 21\n" +
           Bind(std::string(kListBriefings.sql),
                {{1, ":uid"}, {2, ":cursor"}, {3, "NULL"}, {4, ":f"}, {5, ":lim"}}) +
           ";"},
      {"sign_in", "\\set n random(1, :users)\n" +
                      Bind(std::string(kSignIn.sql), {{1, "'google'"},
                                                      {2, "('sub-' || :n)"},
                                                      {3, "('user' || :n || '@bench.local')"},
                                                      {4, "''"},
                                                      {5, "'UTC'"},
                                                      {6, sealed},
                                                      {7, "NULL"},
                                                      {8, "NULL"}}) +
                      ";"},
      {"create_briefing", "\\set uid random(1, :users)\n" +
                              Bind(std::string(kCreateBriefing.sql), {{1, ":uid"}, {2, "NULL"}}) +
                              ";"},
  };
  google::protobuf::Struct content;
  if (!google::protobuf::util::JsonStringToMessage(kSeedContent, &content).ok()) return 1;
  if (!Write(dir + "/seed_content.json", kSeedContent) ||
      !Write(dir + "/seed_content.hex", absl::BytesToHexString(content.SerializeAsString()))) {
    return 1;
  }
  for (const auto& [name, text] : scripts) {
    std::string path = dir + "/" + name + ".sql";
    if (!Write(path, text)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
