#include "receive_opt_store.h"

namespace parley::push {

absl::Status ReceiveOptStore::Set(uint64_t sdkappid, const std::string& user,
                                  const std::vector<std::string>& peers, int32_t opt) {
  return pg_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (opt == 0) {
      tx.exec_params(
          "DELETE FROM c2c_receive_opts WHERE sdkappid = $1 AND user_id = $2 "
          "AND peer = ANY($3::text[])",
          static_cast<int64_t>(sdkappid), user, pg::TextArray(peers));
    } else {
      tx.exec_params(
          "INSERT INTO c2c_receive_opts (sdkappid, user_id, peer, opt) "
          "SELECT $1, $2, p, $4 FROM unnest($3::text[]) AS p "
          "ON CONFLICT (sdkappid, user_id, peer) DO UPDATE SET opt = EXCLUDED.opt",
          static_cast<int64_t>(sdkappid), user, pg::TextArray(peers), opt);
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::map<std::string, int32_t>> ReceiveOptStore::Get(
    uint64_t sdkappid, const std::string& user, const std::vector<std::string>& peers) {
  using Out = std::map<std::string, int32_t>;
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& peer : peers) out[peer] = 0;
    auto rows = tx.exec_params(
        "SELECT peer, opt FROM c2c_receive_opts WHERE sdkappid = $1 AND user_id = $2 "
        "AND peer = ANY($3::text[])",
        static_cast<int64_t>(sdkappid), user, pg::TextArray(peers));
    for (const auto& row : rows) out[row[0].as<std::string>()] = row[1].as<int32_t>();
    return out;
  });
}

absl::StatusOr<std::set<std::pair<std::string, std::string>>> ReceiveOptStore::Muted(
    uint64_t sdkappid, const std::vector<std::pair<std::string, std::string>>& pairs) {
  using Out = std::set<std::pair<std::string, std::string>>;
  if (pairs.empty()) return Out();
  std::vector<std::string> users, peers;
  for (const auto& [user, peer] : pairs) {
    users.push_back(user);
    peers.push_back(peer);
  }
  return pg_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    auto rows = tx.exec_params(
        "SELECT o.user_id, o.peer FROM c2c_receive_opts o "
        "JOIN unnest($2::text[], $3::text[]) AS q(user_id, peer) "
        "ON o.user_id = q.user_id AND o.peer = q.peer "
        "WHERE o.sdkappid = $1 AND o.opt <> 0",
        static_cast<int64_t>(sdkappid), pg::TextArray(users), pg::TextArray(peers));
    for (const auto& row : rows) out.emplace(row[0].as<std::string>(), row[1].as<std::string>());
    return out;
  });
}

}  // namespace parley::push
