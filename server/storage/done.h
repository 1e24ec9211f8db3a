// The completion callback every storage call reports through (on the pool's thread).
#pragma once

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"

namespace firstsip::storage {

template <typename T>
using Done = absl::AnyInvocable<void(absl::StatusOr<T>) &&>;

}  // namespace firstsip::storage
