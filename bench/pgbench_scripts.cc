// firstsip-pgbench-scripts DIR [DEPTH]: writes one pgbench script per benchmarked call, built
// from the very statements the service sends (storage::queries), so pgbench and the service run
// the same SQL against the same database. Parameters become pgbench variables where pgbench can
// carry them (integers) and literals where it cannot (strings, NULL, bytea).
//
// DIR/NAME.sql runs the statement once. DIR/NAME_pipeline.sql (DEPTH > 0, default 16) sends it
// DEPTH times between \startpipeline and \endpipeline, each with its own random row, under one
// Sync, as the service's batches send reads (run it with -M prepared or -M extended).
// DIR/get_user_any.sql asks for DEPTH random users in one statement, as the service merges the
// GetUser calls of one batch (db::Lookup).
// Pipelined SignIn statements share one implicit transaction, so each client draws its rows
// from its own stripe (n = client_id + 1 modulo :clients, pass -D clients=C) and two clients
// never lock the same rows in opposite orders.
//
// DIR/seed_content.json is the content the benchmark seeds each briefing with: about 1 KiB of
// JSON, free of single quotes so it can sit in an SQL literal.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

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

// One statement of a script: the \set lines that draw its variables, then the statement.
struct Statement {
  std::string sets;
  std::string sql;
};

// The call's statement with its variables suffixed by `k` ("" in a plain script). `striped`
// draws SignIn's row from the client's own stripe (see the header).
Statement For(const std::string& call, const std::string& k, bool striped) {
  using namespace firstsip::storage::queries;
  if (call == "get_user") {
    return {absl::StrCat("\\set id", k, " random(1, :users)\n"),
            Bind(std::string(kFindUsers.sql), {{1, absl::StrCat("('{' || :id", k, " || '}')")}})};
  }
  if (call == "list_briefings") {
    return {absl::StrCat("\\set uid", k, " random(1, :users)\n"),
            Bind(std::string(kListBriefings.sql),
                 {{1, ":uid" + k}, {2, ":cursor"}, {3, "NULL"}, {4, ":f"}, {5, ":lim"}})};
  }
  if (call == "sign_in") {
    // What a sealed token looks like in size: version, key id, nonce, 30 bytes, tag.
    std::string sealed = "'\\x01" + std::string(2 * (4 + 12 + 30 + 16), 'a') + "'";
    std::string n = ":n" + k;
    return {striped ? absl::StrCat("\\set n", k,
                                   " 1 + :client_id % :clients + :clients * random(0, :users / "
                                   ":clients - 1)\n")
                    : absl::StrCat("\\set n", k, " random(1, :users)\n"),
            Bind(std::string(kSignIn.sql), {{1, "'google'"},
                                            {2, "('sub-' || " + n + ")"},
                                            {3, "('user' || " + n + " || '@bench.local')"},
                                            {4, "''"},
                                            {5, "'UTC'"},
                                            {6, sealed},
                                            {7, "NULL"},
                                            {8, "NULL"}})};
  }
  return {absl::StrCat("\\set uid", k, " random(1, :users)\n"),
          Bind(std::string(kCreateBriefing.sql), {{1, ":uid" + k}, {2, "NULL"}})};
}

// Constants every script of the call may use, bound as parameters like the service does.
constexpr char kConstants[] = "\\set f 0\n\\set cursor 9223372036854775807\n\\set lim 21\n";

std::string Plain(const std::string& call) {
  Statement statement = For(call, "", /*striped=*/false);
  return absl::StrCat(statement.sets, kConstants, statement.sql, ";");
}

std::string Pipelined(const std::string& call, int depth) {
  std::string sets = kConstants;
  std::string body;
  for (int i = 1; i <= depth; ++i) {
    Statement statement = For(call, absl::StrCat(i), /*striped=*/true);
    absl::StrAppend(&sets, statement.sets);
    absl::StrAppend(&body, statement.sql, ";\n");
  }
  return absl::StrCat(sets, "\\startpipeline\n", body, "\\endpipeline");
}

// GetUser's lookup for `depth` random users at once: what one merged statement asks.
std::string AnyOf(int depth) {
  using namespace firstsip::storage::queries;
  std::string sets;
  std::string keys;
  for (int i = 1; i <= depth; ++i) {
    absl::StrAppend(&sets, "\\set id", i, " random(1, :users)\n");
    absl::StrAppend(&keys, i == 1 ? "" : " || ',' || ", ":id", i);
  }
  return absl::StrCat(
      sets, Bind(std::string(kFindUsers.sql), {{1, "('{' || " + keys + " || '}')"}}), ";");
}

}  // namespace

// The seed briefings' content, about what a morning briefing holds.
constexpr char kSeedContent[] =
    R"({"news": [{"title": "Central bank holds rates steady for a third month", )"
    R"("source": "Reuters", "url": "https://news.example.com/markets/1001", )"
    R"("summary": "Policy makers kept the main rate at 4.25 percent and signalled cuts later )"
    R"(in the year."}, {"title": "City council approves the new cycle lanes", )"
    R"("source": "Local Times", "url": "https://news.example.com/city/1002", )"
    R"("summary": "Work on the first 12 km starts in spring; two bus routes move during )"
    R"(construction."}, {"title": "Chip maker beats forecasts on data centre demand", )"
    R"("source": "Financial Daily", "url": "https://news.example.com/tech/1003", )"
    R"("summary": "Quarterly revenue rose 18 percent; the company raised its outlook for the )"
    R"(year."}], "weather": {"location": "London", )"
    R"("summary": "Light rain clearing by noon, then sunny spells", "high_c": 14, "low_c": 7, )"
    R"("precipitation_mm": 2.5, "wind_kph": 18, "sunrise": "07:12", "sunset": "16:05"}, )"
    R"("work": {"meetings": 3, "first_meeting": "09:30", "first_meeting_title": )"
    R"("Weekly planning", "unread_email": 12, "tasks_due": ["Review the quarterly report", )"
    R"("Send the design notes to the team"]}})";

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: firstsip-pgbench-scripts DIR [PIPELINE_DEPTH]\n");
    return 2;
  }
  std::string dir = argv[1];
  int depth = argc == 3 ? std::atoi(argv[2]) : 16;
  google::protobuf::Struct content;
  if (!google::protobuf::util::JsonStringToMessage(kSeedContent, &content).ok() ||
      std::string(kSeedContent).find('\'') != std::string::npos) {
    std::fprintf(stderr, "the seed content is not JSON fit for an SQL literal\n");
    return 1;
  }
  std::map<std::string, std::string> scripts = {{"seed_content.json", kSeedContent}};
  for (const char* call : {"get_user", "list_briefings", "sign_in", "create_briefing"}) {
    scripts[absl::StrCat(call, ".sql")] = Plain(call);
    if (depth > 0) scripts[absl::StrCat(call, "_pipeline.sql")] = Pipelined(call, depth);
  }
  if (depth > 0) scripts["get_user_any.sql"] = AnyOf(depth);
  for (const auto& [name, text] : scripts) {
    std::string path = dir + "/" + name;
    if (!Write(path, text)) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  return 0;
}
