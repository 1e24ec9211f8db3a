// Small helpers for propagating absl::Status, since Abseil 20220623 ships no status macros.
#pragma once

#include "absl/status/status.h"

// Returns from the current function when `expr` yields a non-OK absl::Status.
#define FIRSTSIP_RETURN_IF_ERROR(expr)          \
  do {                                          \
    if (absl::Status _st = (expr); !_st.ok()) { \
      return _st;                               \
    }                                           \
  } while (false)

#define FIRSTSIP_CONCAT_INNER(a, b) a##b
#define FIRSTSIP_CONCAT(a, b) FIRSTSIP_CONCAT_INNER(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>), returns its status on error, otherwise moves the
// value into `lhs` (which may be a declaration such as `auto x`).
#define FIRSTSIP_ASSIGN_OR_RETURN(lhs, rexpr) \
  FIRSTSIP_ASSIGN_OR_RETURN_IMPL(FIRSTSIP_CONCAT(_statusor_, __LINE__), lhs, rexpr)

#define FIRSTSIP_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) {                                      \
    return std::move(statusor).status();                     \
  }                                                          \
  lhs = *std::move(statusor)
