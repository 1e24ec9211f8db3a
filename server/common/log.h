// Process-wide logging: one line per event on stdout. By default each line is one JSON object
// {"time", "level", "message", ...fields}; `--log-format=text` gives plain lines for people.
// Never pass secrets (tokens, keys, passwords): nothing here redacts them.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace firstsip {

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogFormat { kJson, kText };

// Lines below `level` are dropped. Thread-safe.
void SetMinLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void SetLogFormat(LogFormat format);

using LogFields = std::initializer_list<std::pair<absl::string_view, std::string>>;

// Writes one line. Field values are strings; numbers are written as JSON numbers when a field
// name ends in "_ms".
void Log(LogLevel level, absl::string_view message, LogFields fields = {});

// Writes one audit line (level "audit"): a record of who did what that must not depend on the
// verbosity, so it is written whatever SetMinLogLevel says.
void LogAudit(absl::string_view message,
              absl::Span<const std::pair<absl::string_view, std::string>> fields);

inline void LogInfo(absl::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogLevel::kError, message); }

// `text` as the inside of a JSON string (quotes, backslashes and control characters escaped).
std::string JsonEscape(absl::string_view text);

}  // namespace firstsip
