#include "storage/token_rotation.h"

#include <openssl/crypto.h>

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "storage/identity_store.h"

namespace firstsip::storage {
namespace {

// Bytes 2..5 of a stored value hold its key id (see crypto/token_cipher.h).
#define FIRSTSIP_NOT_UNDER_KEY(column, param) \
  "(" column " IS NOT NULL AND substring(" column " FROM 2 FOR 4) <> " param ")"

constexpr char kCountStale[] = "SELECT count(*) FROM auth_identities WHERE " FIRSTSIP_NOT_UNDER_KEY(
    "access_token", "$1::bytea") " OR " FIRSTSIP_NOT_UNDER_KEY("refresh_token", "$1::bytea");

constexpr char kLockBatch[] =
    "SELECT id, provider, provider_user_id, access_token, refresh_token FROM auth_identities "
    "WHERE " FIRSTSIP_NOT_UNDER_KEY("access_token", "$1::bytea") " OR " FIRSTSIP_NOT_UNDER_KEY(
        "refresh_token", "$1::bytea") " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED";

constexpr char kStoreBatchRow[] =
    "UPDATE auth_identities SET access_token = $2::bytea, refresh_token = $3::bytea "
    "WHERE id = $1";

// The value re-sealed under the active key (unchanged when it already is, or NULL).
absl::StatusOr<std::optional<std::string>> Reseal(const crypto::TokenCipher& cipher,
                                                  const std::optional<std::string>& stored,
                                                  const crypto::ValueContext& context,
                                                  int64_t identity_id) {
  if (!stored.has_value()) return stored;
  FIRSTSIP_ASSIGN_OR_RETURN(crypto::KeyId id, crypto::TokenCipher::KeyIdOf(*stored));
  if (id == cipher.keys().active().id()) return stored;
  absl::StatusOr<std::string> plain = cipher.Decrypt(*stored, context);
  if (!plain.ok()) {
    return absl::Status(plain.status().code(),
                        absl::StrCat("identity ", identity_id, " ", context.column, ": ",
                                     plain.status().message()));
  }
  FIRSTSIP_ASSIGN_OR_RETURN(std::string sealed, cipher.Encrypt(*plain, context));
  OPENSSL_cleanse(plain->data(), plain->size());
  return std::optional<std::string>(std::move(sealed));
}

absl::StatusOr<int64_t> RotateBatch(db::BlockingConnection& connection,
                                    const crypto::TokenCipher& cipher, const db::Params& key,
                                    int batch_size) {
  db::Params select = key;
  select.Add(batch_size);
  FIRSTSIP_RETURN_IF_ERROR(connection.ExecScript("BEGIN"));
  auto rows = connection.Exec(kLockBatch, select);
  absl::Status outcome = rows.status();
  for (int row = 0; outcome.ok() && row < rows->rows(); ++row) {
    absl::StatusOr<int64_t> id = rows->Int64(row, 0);
    absl::StatusOr<std::optional<std::string>> access = rows->OptionalBytes(row, 3);
    absl::StatusOr<std::optional<std::string>> refresh = rows->OptionalBytes(row, 4);
    if (!id.ok() || !access.ok() || !refresh.ok()) {
      outcome = absl::InternalError("unreadable auth_identities row");
      break;
    }
    absl::string_view provider = rows->Text(row, 1);
    absl::string_view provider_user_id = rows->Text(row, 2);
    auto new_access =
        Reseal(cipher, *access, TokenContext("access_token", provider, provider_user_id), *id);
    auto new_refresh =
        Reseal(cipher, *refresh, TokenContext("refresh_token", provider, provider_user_id), *id);
    if (!new_access.ok() || !new_refresh.ok()) {
      outcome = !new_access.ok() ? new_access.status() : new_refresh.status();
      break;
    }
    db::Params update;
    update.Add(*id);
    for (const auto* value : {&*new_access, &*new_refresh}) {
      if (value->has_value()) {
        update.AddBytes(**value);
      } else {
        update.AddNull();
      }
    }
    outcome = connection.Exec(kStoreBatchRow, update).status();
  }
  if (!outcome.ok()) {
    (void)connection.ExecScript("ROLLBACK");
    return outcome;
  }
  FIRSTSIP_RETURN_IF_ERROR(connection.ExecScript("COMMIT"));
  return rows->rows();
}

}  // namespace

absl::StatusOr<RotationSummary> RotateTokens(
    db::BlockingConnection& connection, const crypto::TokenCipher& cipher, int batch_size,
    const std::function<void(const RotationProgress&)>& on_batch) {
  const crypto::KeyId& active = cipher.keys().active().id();
  db::Params key;
  key.AddBytes(absl::string_view(reinterpret_cast<const char*>(active.data()), active.size()));
  absl::Time start = absl::Now();
  RotationSummary summary;
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result count, connection.Exec(kCountStale, key));
  FIRSTSIP_ASSIGN_OR_RETURN(summary.progress.total, count.Int64(0, 0));
  while (true) {
    FIRSTSIP_ASSIGN_OR_RETURN(int64_t rotated, RotateBatch(connection, cipher, key, batch_size));
    if (rotated == 0) break;
    summary.progress.rotated += rotated;
    summary.progress.elapsed = absl::Now() - start;
    if (on_batch) on_batch(summary.progress);
  }
  summary.progress.elapsed = absl::Now() - start;
  FIRSTSIP_ASSIGN_OR_RETURN(db::Result left, connection.Exec(kCountStale, key));
  FIRSTSIP_ASSIGN_OR_RETURN(summary.remaining, left.Int64(0, 0));
  return summary;
}

}  // namespace firstsip::storage
