// Re-encrypts stored OAuth tokens under the active key: the work of `firstsip-server
// rotate-keys`. Runs in batches, each its own transaction with the rows locked (SKIP LOCKED, so
// serving replicas are never blocked for long); resumable, since it only ever looks for values
// under another key. Runs on a blocking connection: a command-line path, never a gRPC thread.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crypto/token_cipher.h"
#include "db/blocking_connection.h"

namespace firstsip::storage {

struct RotationProgress {
  int64_t rotated = 0;  // identities re-encrypted so far
  int64_t total = 0;    // identities that needed it when the run began
  absl::Duration elapsed;
};

struct RotationSummary {
  RotationProgress progress;
  int64_t remaining = 0;  // still under another key (rows busy during the run): run again
};

// FAILED_PRECONDITION naming the key id when a value's key is not configured; DATA_LOSS naming
// the identity when a value fails authentication. Either stops the run; finished batches stay.
absl::StatusOr<RotationSummary> RotateTokens(
    db::BlockingConnection& connection, const crypto::TokenCipher& cipher, int batch_size,
    const std::function<void(const RotationProgress&)>& on_batch);

}  // namespace firstsip::storage
