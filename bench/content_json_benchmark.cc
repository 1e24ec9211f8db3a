// firstsip-content-benchmark: what it costs to turn one briefing row's stored content into the
// google.protobuf.Struct of the response, for each way the service has read it:
//
//   ProtobufJsonUtil   jsonb text -> util::JsonStringToMessage (rows without content_proto,
//                      before this codec)
//   SimdjsonCodec      jsonb text -> logic::ParseContentJson (now: the one way content is read)
//   BinaryParse        serialized Struct -> ParseFromString (content_proto, the previous release)
//   HexByteaThenParse  content_proto as libpq hands it (bytea in hex) -> db::Result's decode ->
//                      ParseFromString: the previous release's whole per-row content cost
//   BriefingsFromResult  a 21-row ListBriefings page through storage::BriefingsFromResult (all
//                      columns, content included), per row
//
// Argument 0 is the ~1 KiB content bench/run.sh seeds (bench/pgbench_scripts.cc), 1 the small
// one it seeded before. Every iteration fills a new Struct, as a new row does.
#include <libpq-fe.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "db/result.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "logic/content_json.h"
#include "storage/rows.h"

namespace {

// The seed content as jsonb prints it (keys by length, then bytes; ", " and ": "): 1096 bytes.
constexpr char kSeedContent[] =
    R"({"news": [{"url": "https://news.example.com/markets/1001", "title": "Central bank holds )"
    R"(rates steady for a third month", "source": "Reuters", "summary": "Policy makers kept the )"
    R"(main rate at 4.25 percent and signalled cuts later in the year."}, {"url": )"
    R"("https://news.example.com/city/1002", "title": "City council approves the new cycle )"
    R"(lanes", "source": "Local Times", "summary": "Work on the first 12 km starts in spring; )"
    R"(two bus routes move during construction."}, {"url": "https://news.example.com/tech/1003", )"
    R"("title": "Chip maker beats forecasts on data centre demand", "source": "Financial Daily", )"
    R"("summary": "Quarterly revenue rose 18 percent; the company raised its outlook for the )"
    R"(year."}], "work": {"meetings": 3, "tasks_due": ["Review the quarterly report", "Send the )"
    R"(design notes to the team"], "unread_email": 12, "first_meeting": "09:30", )"
    R"("first_meeting_title": "Weekly planning"}, "weather": {"low_c": 7, "high_c": 14, )"
    R"("sunset": "16:05", "summary": "Light rain clearing by noon, then sunny spells", "sunrise": )"
    R"("07:12", "location": "London", "wind_kph": 18, "precipitation_mm": 2.5}})";

// The seed content before it grew, for scale.
constexpr char kSmallContent[] =
    R"({"news": [{"title": "Headline"}], "work": {"meetings": 2}, "weather": {"high_c": 9}})";

std::string Content(const benchmark::State& state) {
  return state.range(0) == 0 ? kSeedContent : kSmallContent;
}

std::string Serialized(const std::string& json) {
  google::protobuf::Struct content;
  if (!google::protobuf::util::JsonStringToMessage(json, &content).ok()) std::abort();
  return content.SerializeAsString();
}

void Label(benchmark::State& state, size_t bytes) {
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(absl::StrCat(bytes, " bytes stored"));
}

void BM_ProtobufJsonUtil(benchmark::State& state) {
  const std::string json = Content(state);
  for (auto _ : state) {
    google::protobuf::Struct content;
    if (!google::protobuf::util::JsonStringToMessage(json, &content).ok()) std::abort();
    benchmark::DoNotOptimize(content);
  }
  Label(state, json.size());
}

void BM_SimdjsonCodec(benchmark::State& state) {
  const std::string json = Content(state);
  for (auto _ : state) {
    google::protobuf::Struct content;
    if (!firstsip::logic::ParseContentJson(json, &content).ok()) std::abort();
    benchmark::DoNotOptimize(content);
  }
  Label(state, json.size());
}

void BM_BinaryParse(benchmark::State& state) {
  const std::string bytes = Serialized(Content(state));
  for (auto _ : state) {
    google::protobuf::Struct content;
    if (!content.ParseFromString(bytes)) std::abort();
    benchmark::DoNotOptimize(content);
  }
  Label(state, bytes.size());
}

// A result of `rows` rows of `columns` text cells, as libpq would hand it over.
firstsip::db::Result MakeResult(const std::vector<std::string>& names,
                                const std::vector<std::string>& values, int rows) {
  PGresult* result = PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK);
  std::vector<PGresAttDesc> columns(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    columns[i] = PGresAttDesc{};
    columns[i].name = const_cast<char*>(names[i].c_str());
  }
  if (!PQsetResultAttrs(result, static_cast<int>(columns.size()), columns.data())) std::abort();
  for (int row = 0; row < rows; ++row) {
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string& value = values[i];
      // "\N" marks NULL here (no real cell holds it in these results).
      bool null = value == "\\N";
      if (!PQsetvalue(result, row, static_cast<int>(i),
                      null ? nullptr : const_cast<char*>(value.data()),
                      null ? -1 : static_cast<int>(value.size()))) {
        std::abort();
      }
    }
  }
  return firstsip::db::Result(result);
}

void BM_HexByteaThenParse(benchmark::State& state) {
  const std::string bytes = Serialized(Content(state));
  firstsip::db::Result result =
      MakeResult({"content_proto"}, {absl::StrCat("\\x", absl::BytesToHexString(bytes))}, 1);
  for (auto _ : state) {
    absl::StatusOr<std::optional<std::string>> stored = result.OptionalBytes(0, 0);
    google::protobuf::Struct content;
    if (!stored.ok() || !content.ParseFromString(**stored)) std::abort();
    benchmark::DoNotOptimize(content);
  }
  Label(state, 2 + 2 * bytes.size());
}

void BM_BriefingsFromResult(benchmark::State& state) {
  constexpr int kRows = 21;  // a default page and the row that says another follows
  const std::string json = Content(state);
  firstsip::db::Result result = MakeResult(
      {"id", "user_id", "status", "content", "error_message", "read_at_us", "create_time_us",
       "update_time_us", "delete_time_us"},
      {"4242", "17", "completed", json, "", "\\N", "1764057600000000", "1764057660000000", "\\N"},
      kRows);
  for (auto _ : state) {
    auto briefings = firstsip::storage::BriefingsFromResult(result);
    if (!briefings.ok() || briefings->size() != kRows) std::abort();
    benchmark::DoNotOptimize(briefings);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.SetLabel(absl::StrCat(json.size(), " bytes stored, per row"));
}

BENCHMARK(BM_ProtobufJsonUtil)->Arg(0)->Arg(1);
BENCHMARK(BM_SimdjsonCodec)->Arg(0)->Arg(1);
BENCHMARK(BM_BinaryParse)->Arg(0)->Arg(1);
BENCHMARK(BM_HexByteaThenParse)->Arg(0)->Arg(1);
BENCHMARK(BM_BriefingsFromResult)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
