// Process-wide logging: one line per event on stderr, with a UTC timestamp and a level.
// Structured (JSON) logs arrive with the operations work; every call site already passes a
// plain message, so only this file changes then.
#pragma once

#include "absl/strings/string_view.h"

namespace firstsip {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

// Lines below `level` are dropped. Thread-safe.
void SetMinLogLevel(LogLevel level);

// Writes one line. Never pass secrets (tokens, keys, passwords): nothing here redacts them.
void Log(LogLevel level, absl::string_view message);

inline void LogInfo(absl::string_view message) { Log(LogLevel::kInfo, message); }
inline void LogWarning(absl::string_view message) { Log(LogLevel::kWarning, message); }
inline void LogError(absl::string_view message) { Log(LogLevel::kError, message); }

}  // namespace firstsip
