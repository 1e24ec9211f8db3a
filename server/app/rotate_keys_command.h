// `firstsip-server rotate-keys`: re-encrypts every stored token that is not under the active
// key, printing progress and a summary.
#pragma once

#include "app/options.h"
#include "crypto/key_ring.h"

namespace firstsip::app {

// Returns the process exit code.
int RunRotateKeysCommand(const Options& options, const crypto::KeyRing& keys);

}  // namespace firstsip::app
