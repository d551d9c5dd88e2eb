#include "credential_store.h"

#include <chrono>

#include "absl/strings/escaping.h"

namespace parley::push {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Decode(const std::string& text, v1::PushCredential* out) {
  std::string bytes;
  return absl::Base64Unescape(text, &bytes) && out->ParseFromString(bytes);
}

}  // namespace

absl::Status CredentialStore::Set(uint64_t sdkappid, const v1::PushCredential& credential,
                                  int64_t now) {
  auto st = pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO push_credentials (sdkappid, channel, business_id, credential, update_time) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sdkappid, channel, business_id) DO UPDATE "
        "SET credential = EXCLUDED.credential, update_time = EXCLUDED.update_time",
        static_cast<int64_t>(sdkappid), credential.channel(),
        static_cast<int64_t>(credential.business_id()),
        absl::Base64Escape(credential.SerializeAsString()), now);
    tx.commit();
    return absl::OkStatus();
  });
  cache_.Erase({sdkappid, credential.channel(), credential.business_id()});
  return st;
}

absl::StatusOr<std::vector<std::pair<v1::PushCredential, int64_t>>> CredentialStore::List(
    uint64_t sdkappid) {
  using Out = std::vector<std::pair<v1::PushCredential, int64_t>>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT credential, update_time FROM push_credentials WHERE sdkappid = $1 "
        "ORDER BY channel, business_id",
        static_cast<int64_t>(sdkappid));
    Out out;
    for (const auto& row : rows) {
      v1::PushCredential credential;
      if (Decode(row[0].as<std::string>(), &credential)) {
        out.emplace_back(std::move(credential), row[1].as<int64_t>());
      }
    }
    return out;
  });
}

absl::StatusOr<bool> CredentialStore::Remove(uint64_t sdkappid, const std::string& channel,
                                             uint64_t business_id) {
  auto removed = pg_->Query<bool>([&](pqxx::connection& c) -> absl::StatusOr<bool> {
    pqxx::work tx(c);
    auto result = tx.exec_params(
        "DELETE FROM push_credentials WHERE sdkappid = $1 AND channel = $2 AND business_id = $3",
        static_cast<int64_t>(sdkappid), channel, static_cast<int64_t>(business_id));
    tx.commit();
    return result.affected_rows() > 0;
  });
  cache_.Erase({sdkappid, channel, business_id});
  return removed;
}

absl::StatusOr<std::optional<v1::PushCredential>> CredentialStore::Get(uint64_t sdkappid,
                                                                       const std::string& channel,
                                                                       uint64_t business_id) {
  Key key{sdkappid, channel, business_id};
  int64_t now = SteadyMs();
  if (auto cached = cache_.Get(key, now)) return *cached;
  using Out = std::optional<v1::PushCredential>;
  auto found = pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT credential FROM push_credentials "
        "WHERE sdkappid = $1 AND channel = $2 AND business_id = $3",
        static_cast<int64_t>(sdkappid), channel, static_cast<int64_t>(business_id));
    if (rows.empty()) return Out();
    v1::PushCredential credential;
    if (!Decode(rows[0][0].as<std::string>(), &credential)) return Out();
    return Out(std::move(credential));
  });
  if (!found.ok()) return found.status();
  cache_.Put(key, *found, now + 10000);
  return found;
}

}  // namespace parley::push
