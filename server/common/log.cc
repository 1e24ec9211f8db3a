#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace firstsip {
namespace {

std::atomic<LogLevel> min_level{LogLevel::kInfo};
std::atomic<LogFormat> format{LogFormat::kJson};

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void SetMinLogLevel(LogLevel level) { min_level.store(level, std::memory_order_relaxed); }
bool LogEnabled(LogLevel level) { return level >= min_level.load(std::memory_order_relaxed); }
void SetLogFormat(LogFormat value) { format.store(value, std::memory_order_relaxed); }

std::string JsonEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned char>(c));
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

namespace {

void Write(absl::string_view level, absl::string_view message,
           absl::Span<const std::pair<absl::string_view, std::string>> fields) {
  std::string time = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::string line;
  if (format.load(std::memory_order_relaxed) == LogFormat::kJson) {
    line = absl::StrCat(R"({"time":")", time, R"(","level":")", level, R"(","message":")",
                        JsonEscape(message), "\"");
    for (const auto& [key, value] : fields) {
      bool number = absl::EndsWith(key, "_ms");
      absl::StrAppend(&line, ",\"", key, "\":", number ? "" : "\"",
                      number ? value : JsonEscape(value), number ? "" : "\"");
    }
    line += "}\n";
  } else {
    line = absl::StrCat(time, " ", level, " ", message);
    for (const auto& [key, value] : fields) absl::StrAppend(&line, " ", key, "=", value);
    line += "\n";
  }
  // One fwrite per line keeps lines from different threads whole.
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

void Log(LogLevel level, absl::string_view message, LogFields fields) {
  if (!LogEnabled(level)) return;
  Write(LevelName(level), message, fields);
}

void LogAudit(absl::string_view message,
              absl::Span<const std::pair<absl::string_view, std::string>> fields) {
  Write("audit", message, fields);
}

}  // namespace firstsip
