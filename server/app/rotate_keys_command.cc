#include "app/rotate_keys_command.h"

#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "crypto/token_cipher.h"
#include "db/blocking_connection.h"
#include "storage/token_rotation.h"

namespace firstsip::app {
namespace {

double PerSecond(int64_t count, absl::Duration elapsed) {
  double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? static_cast<double>(count) / seconds : 0.0;
}

}  // namespace

int RunRotateKeysCommand(const Options& options, const crypto::KeyRing& keys) {
  auto connection = db::BlockingConnection::Open(options.database_url);
  if (!connection.ok()) {
    std::fprintf(stderr, "rotate-keys: %s\n", std::string(connection.status().message()).c_str());
    return 1;
  }
  crypto::TokenCipher cipher(keys);
  std::string active = crypto::KeyIdHex(keys.active().id());
  std::fprintf(stderr, "rotate-keys: re-encrypting tokens under key %s (%zu keys configured)\n",
               active.c_str(), keys.size());
  auto summary =
      storage::RotateTokens(**connection, cipher, options.rotate_batch_size,
                            [](const storage::RotationProgress& progress) {
                              std::fprintf(stderr, "rotate-keys: %lld/%lld identities (%.0f/s)\n",
                                           static_cast<long long>(progress.rotated),
                                           static_cast<long long>(progress.total),
                                           PerSecond(progress.rotated, progress.elapsed));
                            });
  if (!summary.ok()) {
    std::fprintf(stderr, "rotate-keys: stopped: %s\n",
                 std::string(summary.status().message()).c_str());
    return 1;
  }
  std::fprintf(stderr,
               "rotate-keys: done: %lld identities re-encrypted under key %s in %s (%.0f/s); "
               "%lld still under other keys%s\n",
               static_cast<long long>(summary->progress.rotated), active.c_str(),
               absl::FormatDuration(summary->progress.elapsed).c_str(),
               PerSecond(summary->progress.rotated, summary->progress.elapsed),
               static_cast<long long>(summary->remaining),
               summary->remaining > 0 ? " (they were busy: run rotate-keys again)"
                                      : "; the previous keys can now be removed");
  return summary->remaining > 0 ? 3 : 0;
}

}  // namespace firstsip::app
