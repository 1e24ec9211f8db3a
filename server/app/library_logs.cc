#include "app/library_logs.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"

namespace firstsip::app {
namespace {

// Protobuf logs an ERROR for every request whose string is not UTF-8; that is the caller's
// fault, already answered INVALID_ARGUMENT and logged with the call, so it is only a warning.
LogLevel LevelOf(google::protobuf::LogLevel level) {
  switch (level) {
    case google::protobuf::LOGLEVEL_INFO:
      return LogLevel::kDebug;
    case google::protobuf::LOGLEVEL_WARNING:
    case google::protobuf::LOGLEVEL_ERROR:
      return LogLevel::kWarning;
    case google::protobuf::LOGLEVEL_FATAL:
      return LogLevel::kError;
  }
  return LogLevel::kError;
}

void FromProtobuf(google::protobuf::LogLevel level, const char* file, int line,
                  const std::string& message) {
  if (!LogEnabled(LevelOf(level))) return;
  Log(LevelOf(level), message,
      {{"library", "protobuf"}, {"source", absl::StrCat(file, ":", line)}});
}

void FromGrpc(gpr_log_func_args* args) {
  const LogLevel level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LogLevel::kError
                         : args->severity == GPR_LOG_SEVERITY_INFO ? LogLevel::kInfo
                                                                   : LogLevel::kDebug;
  if (!LogEnabled(level)) return;
  Log(level, args->message,
      {{"library", "grpc"}, {"source", absl::StrCat(args->file, ":", args->line)}});
}

}  // namespace

void RouteLibraryLogsToOurs() {
  google::protobuf::SetLogHandler(&FromProtobuf);
  gpr_set_log_function(&FromGrpc);
}

}  // namespace firstsip::app
