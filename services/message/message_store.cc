#include "message_store.h"


#include <set>

#include "absl/strings/str_cat.h"
#include "parley/log/log.h"
#include "parley/protojson/protojson.h"
#include "handoff.h"
#include "send_sql.h"

namespace parley::message {

namespace {

// The deliveries of the stored (not duplicate) jobs, into their results and
// one delivery_outbox row for the batch.
void RecordDeliveries(pqxx::work& tx, const std::vector<SendJob>& jobs,
                      std::vector<SendResult>* results) {
  v1::HandOff handoff;
  std::vector<size_t> owners;
  for (size_t i = 0; i < jobs.size(); ++i) {
    SendResult& result = (*results)[i];
    if (result.duplicate || !jobs[i].event) continue;
    const SendJob& job = jobs[i];
    result.deliveries = C2CDeliveries(*job.event, job.from, job.to, job.honor_receive_opt,
                                      result.msg_key, result.msg_seq, result.receiver_seq,
                                      result.sender_seq);
    for (const auto& delivery : result.deliveries) {
      auto* item = handoff.add_items();
      item->set_sdkappid(job.sdkappid);
      *item->mutable_delivery() = delivery;
    }
    owners.push_back(i);
  }
  auto ticket = RecordHandOff(tx, handoff);
  for (size_t i : owners) (*results)[i].ticket = ticket;
}

}  // namespace

std::vector<absl::StatusOr<SendResult>> MessageStore::SendBatch(const std::vector<SendJob>& jobs) {
  std::vector<absl::StatusOr<SendResult>> results;
  absl::Status batch = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    std::vector<SendResult> written = WriteMany(tx, jobs);  // with the outbox rows
    RecordDeliveries(tx, jobs, &written);
    tx.commit();
    for (auto& result : written) results.push_back(std::move(result));
    return absl::OkStatus();
  });
  if (batch.ok()) return results;
  if (jobs.size() > 1) {
    log::Warn("send_batch_retried_singly", {{"jobs", jobs.size()},
                                            {"error", std::string(batch.message())}});
  }
  results.clear();
  for (const auto& job : jobs) {
    absl::StatusOr<SendResult> one = pool_->Query<SendResult>(
        [&](pqxx::connection& c) -> absl::StatusOr<SendResult> {
          pqxx::work tx(c);
          std::vector<SendResult> r = {WriteOne(tx, job)};
          RecordOwedCallbacks(tx, {job}, {0}, &r);
          RecordDeliveries(tx, {job}, &r);
          tx.commit();
          return r[0];
        });
    results.push_back(std::move(one));
  }
  return results;
}

absl::StatusOr<std::vector<OwedCallback>> MessageStore::LeaseOwedCallbacks(
    size_t limit, std::chrono::seconds lease) {
  return pool_->Query<std::vector<OwedCallback>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<OwedCallback>> {
        pqxx::nontransaction tx(c);  // one statement
        auto rows = tx.exec_params(
            "WITH due AS ("
            "  SELECT id FROM c2c_after_outbox WHERE due_at <= now() ORDER BY due_at LIMIT $1"
            "  FOR UPDATE SKIP LOCKED),"
            " leased AS ("
            "  UPDATE c2c_after_outbox o SET due_at = now() + make_interval(secs => $2)"
            "  FROM due WHERE o.id = due.id RETURNING o.*)"
            " SELECT l.id, l.command, l.sdkappid, l.from_account, l.to_account, l.msg_key,"
            "  l.opt_platform, l.client_ip, m.msg_key IS NOT NULL, m.msg_seq, m.msg_random,"
            "  m.msg_time, m.body, m.cloud_custom_data"
            " FROM leased l LEFT JOIN c2c_messages m ON m.sdkappid = l.sdkappid"
            "  AND m.user_a = least(l.from_account, l.to_account)"
            "  AND m.user_b = greatest(l.from_account, l.to_account) AND m.msg_key = l.msg_key"
            " ORDER BY l.id",
            static_cast<int64_t>(limit), static_cast<int64_t>(lease.count()));
        std::vector<OwedCallback> owed;
        for (const auto& row : rows) {
          OwedCallback o;
          o.id = row[0].as<int64_t>();
          o.command = row[1].as<std::string>();
          o.job.sdkappid = row[2].as<uint64_t>();
          o.job.from = row[3].as<std::string>();
          o.job.to = row[4].as<std::string>();
          o.msg_key = row[5].as<std::string>();
          o.job.opt_platform = row[6].as<std::string>();
          o.job.client_ip = row[7].as<std::string>();
          o.message_found = row[8].as<bool>();
          if (o.message_found) {
            o.msg_seq = row[9].as<uint32_t>();
            o.job.random = row[10].as<uint32_t>();
            o.msg_time = row[11].as<int64_t>();
            o.job.time = o.msg_time;
            o.job.body_json = row[12].as<std::string>();
            o.job.cloud_custom_data = row[13].as<std::string>();
          }
          owed.push_back(std::move(o));
        }
        return owed;
      });
}

absl::StatusOr<std::vector<uint32_t>> MessageStore::UnreadTotals(
    const std::vector<std::pair<uint64_t, std::string>>& users) {
  auto [apps, user_ids] = pg::IntTextArrays(users);
  return pool_->Query<std::vector<uint32_t>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<uint32_t>> {
        c.prepare("unread_totals",
                  "SELECT coalesce(sum(c.unread), 0)"
                  " FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(app, id, n)"
                  " LEFT JOIN conversations c ON c.sdkappid = u.app AND c.owner = u.id"
                  "  AND c.unread > 0"
                  " GROUP BY u.n ORDER BY u.n");
        pqxx::nontransaction tx(c);
        auto rows = tx.exec_prepared("unread_totals", apps, user_ids);
        std::vector<uint32_t> totals;
        totals.reserve(rows.size());
        for (const auto& row : rows) totals.push_back(row[0].as<uint32_t>());
        return totals;
      });
}

absl::StatusOr<std::vector<uint32_t>> MessageStore::BadgeTotals(
    uint64_t sdkappid, const std::vector<std::string>& users) {
  return pool_->Query<std::vector<uint32_t>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<uint32_t>> {
        pqxx::read_transaction tx(c);
        // Group unread: counted - counted_at of the member's read seq, as
        // group states count it.
        auto rows = tx.exec_params(
            "SELECT"
            " (SELECT coalesce(sum(c.unread), 0) FROM conversations c"
            "   WHERE c.sdkappid = $1 AND c.owner = u.id AND c.unread > 0)"
            " + (SELECT coalesce(sum(greatest(h.counted - coalesce(r.counted_at, 0), 0)), 0)"
            "   FROM group_member_seqs m"
            "   JOIN group_heads h ON h.sdkappid = m.sdkappid AND h.group_id = m.group_id"
            "   LEFT JOIN group_events r ON r.sdkappid = m.sdkappid AND r.group_id = m.group_id"
            "     AND r.seq = m.read_seq"
            "   WHERE m.sdkappid = $1 AND m.user_id = u.id AND m.msg_flag = 0)"
            " FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n) ORDER BY u.n",
            static_cast<int64_t>(sdkappid), pg::TextArray(users));
        std::vector<uint32_t> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
          out.push_back(static_cast<uint32_t>(std::clamp<int64_t>(row[0].as<int64_t>(), 0, UINT32_MAX)));
        }
        return out;
      });
}

absl::Status MessageStore::SettleOwedCallbacks(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_params("DELETE FROM c2c_after_outbox WHERE id = ANY($1::bigint[])", pg::IntArray(ids));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<uint64_t>> MessageStore::TimelineHeads(
    const std::vector<std::pair<uint64_t, std::string>>& users) {
  auto [apps, user_ids] = pg::IntTextArrays(users);
  return pool_->Query<std::vector<uint64_t>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<uint64_t>> {
        pqxx::nontransaction tx(c);  // one statement: no BEGIN/COMMIT round trips
        auto rows = tx.exec_params(
            "SELECT coalesce(h.last_seq, 0)"
            " FROM unnest($1::bigint[], $2::text[]) WITH ORDINALITY AS u(app, id, n)"
            " LEFT JOIN timeline_heads h ON h.sdkappid = u.app AND h.user_id = u.id ORDER BY u.n",
            apps, user_ids);
        std::vector<uint64_t> heads;
        heads.reserve(rows.size());
        for (const auto& row : rows) heads.push_back(row[0].as<uint64_t>());
        return heads;
      });
}

absl::StatusOr<v1::SyncResponse> MessageStore::Sync(uint64_t sdkappid, const std::string& user_id,
                                                    uint64_t after_seq, uint32_t limit) {
  auto heads = TimelineHeads({{sdkappid, user_id}});
  if (!heads.ok()) return heads.status();
  return SyncUpTo(sdkappid, user_id, after_seq, heads->at(0), limit);
}

absl::StatusOr<v1::SyncResponse> MessageStore::SyncUpTo(uint64_t sdkappid,
                                                        const std::string& user_id,
                                                        uint64_t after_seq, uint64_t max_seq,
                                                        uint32_t limit) {
  v1::SyncResponse response;
  response.set_max_seq(max_seq);
  if (after_seq >= max_seq) {
    response.set_complete(true);
    return response;
  }
  return pool_->Query<v1::SyncResponse>([&](pqxx::connection& c)
                                            -> absl::StatusOr<v1::SyncResponse> {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_params(
        "SELECT t.seq, t.kind, t.peer, t.msg_key, t.read_time, t.event_time,"
        "  m.from_account, m.to_account, m.msg_seq, m.msg_random, m.msg_time, m.body::text,"
        "  m.cloud_custom_data, m.recalled, m.client_msg_id"
        " FROM timeline t LEFT JOIN c2c_messages m ON m.sdkappid = t.sdkappid"
        "  AND m.user_a = least(t.user_id, t.peer) AND m.user_b = greatest(t.user_id, t.peer)"
        "  AND m.msg_key = t.msg_key"
        " WHERE t.sdkappid = $1 AND t.user_id = $2 AND t.seq > $3 AND t.seq <= $4"
        " ORDER BY t.seq LIMIT $5",
        sdkappid, user_id, after_seq, max_seq, limit);
    for (const auto& row : rows) {
      auto* event = response.add_events();
      event->set_seq(row[0].as<uint64_t>());
      event->set_kind(static_cast<v1::TimelineEvent::Kind>(row[1].as<int>()));
      event->set_peer(row[2].as<std::string>());
      event->set_msg_key(row[3].as<std::string>());
      event->set_read_time(static_cast<uint32_t>(row[4].as<int64_t>()));
      event->set_event_time(static_cast<uint32_t>(row[5].as<int64_t>()));
      if (!row[6].is_null()) {
        auto* m = event->mutable_message();
        m->set_from_account(row[6].as<std::string>());
        m->set_to_account(row[7].as<std::string>());
        m->set_msg_seq(static_cast<uint32_t>(row[8].as<int64_t>()));
        m->set_msg_random(static_cast<uint32_t>(row[9].as<int64_t>()));
        m->set_msg_time_stamp(static_cast<uint32_t>(row[10].as<int64_t>()));
        m->set_msg_key(event->msg_key());
        (void)protojson::Parse(std::string_view(row[11].c_str(), row[11].size()), m->mutable_msg_body());
        m->set_cloud_custom_data(row[12].as<std::string>());
        m->set_msg_flag_bits(row[13].as<bool>() ? 8 : 0);
        m->set_client_msg_id(row[14].as<std::string>());
      }
    }
    uint64_t last = response.events_size() ? response.events(response.events_size() - 1).seq()
                                           : after_seq;
    response.set_complete(last >= max_seq);
    return response;
  });
}

namespace {

constexpr char kPairCondition[] =
    " sdkappid = $1 AND user_a = least($2, $3) AND user_b = greatest($2, $3) AND msg_key = $4";

uint64_t Append(pqxx::work& tx, uint64_t sdkappid, const std::string& user, int kind,
                const std::string& peer, const std::string& msg_key, int64_t read_time,
                int64_t now) {
  return tx
      .exec_params1("SELECT parley_timeline_append($1, $2, $3::smallint, $4, $5, $6, $7)",
                    sdkappid, user, kind, peer, msg_key, read_time, now)[0]
      .as<uint64_t>();
}

// Recounts owner's unread messages from peer after the conversation's read time.
void RecountUnread(pqxx::work& tx, uint64_t sdkappid, const std::string& owner,
                   const std::string& peer) {
  tx.exec_params(
      "UPDATE conversations c SET unread = ("
      "  SELECT count(*) FROM timeline t JOIN c2c_messages m ON m.sdkappid = t.sdkappid"
      "   AND m.user_a = least(t.user_id, t.peer) AND m.user_b = greatest(t.user_id, t.peer)"
      "   AND m.msg_key = t.msg_key"
      "  WHERE t.sdkappid = $1 AND t.user_id = $2 AND t.peer = $3 AND t.kind = 1"
      "   AND NOT t.deleted AND NOT m.recalled AND m.from_account = $3"
      "   AND t.event_time > c.read_time)"
      " WHERE c.sdkappid = $1 AND c.owner = $2 AND c.peer = $3",
      sdkappid, owner, peer);
}

}  // namespace

absl::StatusOr<std::optional<StoredMessage>> MessageStore::FindMessage(
    uint64_t sdkappid, const std::string& user_a, const std::string& user_b,
    const std::string& msg_key) {
  return pool_->Query<std::optional<StoredMessage>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<StoredMessage>> {
        pqxx::nontransaction tx(c);
        auto rows = tx.exec_params(
            std::string("SELECT from_account, to_account, msg_time, recalled FROM c2c_messages"
                        " WHERE") + kPairCondition,
            sdkappid, user_a, user_b, msg_key);
        if (rows.empty()) return std::optional<StoredMessage>();
        return std::optional<StoredMessage>(StoredMessage{
            rows[0][0].as<std::string>(), rows[0][1].as<std::string>(), rows[0][2].as<int64_t>(),
            rows[0][3].as<bool>()});
      });
}

absl::StatusOr<ChangeSeqs> MessageStore::Recall(uint64_t sdkappid, const StoredMessage& message,
                                                const std::string& msg_key, int64_t now) {
  return pool_->Query<ChangeSeqs>([&](pqxx::connection& c) -> absl::StatusOr<ChangeSeqs> {
    pqxx::work tx(c);
    auto updated = tx.exec_params(
        std::string("UPDATE c2c_messages SET recalled = true WHERE") + kPairCondition +
            " AND NOT recalled",
        sdkappid, message.from, message.to, msg_key);
    if (updated.affected_rows() == 0) {
      return absl::FailedPreconditionError("already recalled");  // lost a race
    }
    ChangeSeqs seqs{0, 0, now};
    seqs.to_seq = Append(tx, sdkappid, message.to, 2, message.from, msg_key, 0, now);
    if (message.from != message.to) {
      seqs.from_seq = Append(tx, sdkappid, message.from, 2, message.to, msg_key, 0, now);
    }
    RecountUnread(tx, sdkappid, message.to, message.from);
    tx.commit();
    return seqs;
  });
}

absl::StatusOr<ChangeSeqs> MessageStore::Modify(uint64_t sdkappid, const StoredMessage& message,
                                                const std::string& msg_key,
                                                const std::string& body_json,
                                                const std::optional<std::string>& cloud,
                                                int64_t now) {
  return pool_->Query<ChangeSeqs>([&](pqxx::connection& c) -> absl::StatusOr<ChangeSeqs> {
    pqxx::work tx(c);
    tx.exec_params(std::string("UPDATE c2c_messages SET body = $5,"
                               " cloud_custom_data = CASE WHEN $6 THEN $7 ELSE cloud_custom_data END"
                               " WHERE") + kPairCondition,
                   sdkappid, message.from, message.to, msg_key, body_json, cloud.has_value(),
                   cloud.value_or(""));
    ChangeSeqs seqs{0, 0, now};
    seqs.to_seq = Append(tx, sdkappid, message.to, 3, message.from, msg_key, 0, now);
    if (message.from != message.to) {
      seqs.from_seq = Append(tx, sdkappid, message.from, 3, message.to, msg_key, 0, now);
    }
    tx.commit();
    return seqs;
  });
}

absl::StatusOr<std::vector<std::string>> MessageStore::DeleteForOwner(
    uint64_t sdkappid, const std::string& owner, const std::string& peer,
    const std::vector<std::string>& keys) {
  return pool_->Query<std::vector<std::string>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::work tx(c);
        std::set<std::string> matched;
        for (const auto& row : tx.exec_params(
                 "UPDATE timeline SET deleted = true WHERE sdkappid = $1 AND user_id = $2"
                 " AND peer = $3 AND kind = 1 AND msg_key = ANY($4::text[]) RETURNING msg_key",
                 sdkappid, owner, peer, pg::TextArray(keys))) {
          matched.insert(row[0].as<std::string>());
        }
        RecountUnread(tx, sdkappid, owner, peer);
        tx.commit();
        std::vector<std::string> invalid;
        for (const auto& key : keys) {
          if (!matched.count(key)) invalid.push_back(key);
        }
        return invalid;
      });
}

absl::StatusOr<std::pair<uint64_t, uint64_t>> MessageStore::MarkRead(uint64_t sdkappid,
                                                                     const std::string& owner,
                                                                     const std::string& peer,
                                                                     int64_t read_time) {
  using Seqs = std::pair<uint64_t, uint64_t>;
  return pool_->Query<Seqs>([&](pqxx::connection& c) -> absl::StatusOr<Seqs> {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO conversations AS c (sdkappid, owner, peer, read_time) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET"
        "  read_time = greatest(c.read_time, EXCLUDED.read_time)",
        sdkappid, owner, peer, read_time);
    RecountUnread(tx, sdkappid, owner, peer);
    uint64_t receipt = Append(tx, sdkappid, peer, 4, owner, "", read_time, read_time);
    uint64_t own = Append(tx, sdkappid, owner, 6, peer, "", read_time, read_time);
    tx.commit();
    return Seqs{receipt, own};
  });
}

absl::StatusOr<std::vector<std::pair<std::string, uint32_t>>> MessageStore::Unread(
    uint64_t sdkappid, const std::string& owner, const std::vector<std::string>& peers) {
  using Result = std::vector<std::pair<std::string, uint32_t>>;
  return pool_->Query<Result>([&](pqxx::connection& c) -> absl::StatusOr<Result> {
    pqxx::nontransaction tx(c);
    Result out;
    auto rows = peers.empty()
                    ? tx.exec_params("SELECT peer, unread FROM conversations"
                                     " WHERE sdkappid = $1 AND owner = $2 AND unread > 0"
                                     " ORDER BY peer",
                                     sdkappid, owner)
                    : tx.exec_params("SELECT peer, unread FROM conversations"
                                     " WHERE sdkappid = $1 AND owner = $2"
                                     " AND peer = ANY($3::text[]) ORDER BY peer",
                                     sdkappid, owner, pg::TextArray(peers));
    for (const auto& row : rows) {
      out.emplace_back(row[0].as<std::string>(), row[1].as<uint32_t>());
    }
    return out;
  });
}

absl::StatusOr<std::vector<v1::RoamMessage>> MessageStore::Roam(
    uint64_t sdkappid, const std::string& owner, const std::string& peer, uint32_t max_cnt,
    int64_t min_time, int64_t max_time, const std::string& last_msg_key) {
  using Result = std::vector<v1::RoamMessage>;
  return pool_->Query<Result>([&](pqxx::connection& c) -> absl::StatusOr<Result> {
    pqxx::nontransaction tx(c);
    // Continue strictly after (older than) the last message of the previous page.
    int64_t before_time = max_time;
    int64_t before_seq = std::numeric_limits<int64_t>::max();
    if (!last_msg_key.empty()) {
      auto last = tx.exec_params(
          "SELECT event_time, seq FROM timeline WHERE sdkappid = $1 AND user_id = $2"
          " AND peer = $3 AND kind = 1 AND msg_key = $4",
          sdkappid, owner, peer, last_msg_key);
      if (!last.empty()) {
        before_time = last[0][0].as<int64_t>();
        before_seq = last[0][1].as<int64_t>();
      }
    }
    auto rows = tx.exec_params(
        "SELECT m.from_account, m.to_account, m.msg_seq, m.msg_random, m.msg_time, m.recalled,"
        "  m.msg_key, m.body::text, m.cloud_custom_data,"
        "  (m.from_account = $2 AND COALESCE(pc.read_time, 0) >= m.msg_time)"
        " FROM timeline t JOIN c2c_messages m ON m.sdkappid = t.sdkappid"
        "  AND m.user_a = least(t.user_id, t.peer) AND m.user_b = greatest(t.user_id, t.peer)"
        "  AND m.msg_key = t.msg_key"
        " LEFT JOIN conversations pc ON pc.sdkappid = t.sdkappid AND pc.owner = t.peer"
        "  AND pc.peer = t.user_id"
        " WHERE t.sdkappid = $1 AND t.user_id = $2 AND t.peer = $3 AND t.kind = 1"
        "  AND NOT t.deleted AND t.event_time >= $4 AND t.event_time <= $5"
        "  AND (t.event_time < $6 OR (t.event_time = $6 AND t.seq < $7))"
        " ORDER BY t.event_time DESC, t.seq DESC LIMIT $8",
        sdkappid, owner, peer, min_time, max_time, before_time, before_seq,
        static_cast<int64_t>(max_cnt) + 1);
    Result out;
    for (const auto& row : rows) {
      v1::RoamMessage m;
      m.set_from_account(row[0].as<std::string>());
      m.set_to_account(row[1].as<std::string>());
      m.set_msg_seq(static_cast<uint32_t>(row[2].as<int64_t>()));
      m.set_msg_random(static_cast<uint32_t>(row[3].as<int64_t>()));
      m.set_msg_time_stamp(static_cast<uint32_t>(row[4].as<int64_t>()));
      bool recalled = row[5].as<bool>();
      m.set_msg_flag_bits(recalled ? 8 : 0);
      m.set_msg_key(row[6].as<std::string>());
      if (!recalled) {
        (void)protojson::Parse(std::string_view(row[7].c_str(), row[7].size()), m.mutable_msg_body());
        m.set_cloud_custom_data(row[8].as<std::string>());
      }
      m.set_is_peer_read(row[9].as<bool>() ? 1 : 0);
      out.push_back(std::move(m));
    }
    return out;
  });
}

absl::StatusOr<bool> MessageStore::Import(const SendJob& job) {
  return pool_->Query<bool>([&](pqxx::connection& c) -> absl::StatusOr<bool> {
    pqxx::work tx(c);
    std::string msg_key = absl::StrCat(job.msg_seq, "_", job.random, "_", job.time);
    // Serialise imports of one pair, so a concurrent duplicate waits and sees ours.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1 || least($2, $3) || greatest($2, $3)))",
                   std::to_string(job.sdkappid), job.from, job.to);
    if (!tx.exec_params(std::string("SELECT 1 FROM c2c_messages WHERE") + kPairCondition,
                        job.sdkappid, job.from, job.to, msg_key)
             .empty()) {
      return true;
    }
    WriteOne(tx, job);
    tx.commit();
    return false;
  });
}

absl::StatusOr<std::vector<v1::SessionItem>> MessageStore::Conversations(uint64_t sdkappid,
                                                                         const std::string& owner,
                                                                         uint32_t offset,
                                                                         uint32_t limit) {
  using Result = std::vector<v1::SessionItem>;
  return pool_->Query<Result>([&](pqxx::connection& c) -> absl::StatusOr<Result> {
    pqxx::nontransaction tx(c);
    Result out;
    // One-to-one conversations and the owner's groups with a message
    // since they last deleted the group's conversation.
    for (const auto& row : tx.exec_params(
             "SELECT 1 AS type, peer AS id, last_msg_time, pinned, unread FROM conversations"
             " WHERE sdkappid = $1 AND owner = $2 AND last_msg_key <> ''"
             " UNION ALL"
             " SELECT 2, m.group_id, h.last_msg_time, m.pinned,"
             "   GREATEST(h.counted - COALESCE(r.counted_at, 0), 0)::int"
             " FROM group_member_seqs m"
             " JOIN group_heads h ON h.sdkappid = m.sdkappid AND h.group_id = m.group_id"
             " LEFT JOIN group_events r ON r.sdkappid = m.sdkappid AND r.group_id = m.group_id"
             "   AND r.seq = m.read_seq"
             " WHERE m.sdkappid = $1 AND m.user_id = $2"
             "   AND h.last_conversation_seq > m.hidden_seq"
             " ORDER BY pinned DESC, last_msg_time DESC, type, id LIMIT $3 OFFSET $4",
             sdkappid, owner, limit, offset)) {
      v1::SessionItem item;
      item.set_type(row[0].as<int>());
      if (item.type() == 1) {
        item.set_to_account(row[1].as<std::string>());
      } else {
        item.set_group_id(row[1].as<std::string>());
      }
      item.set_msg_time(static_cast<uint32_t>(row[2].as<int64_t>()));
      item.set_top_flag(row[3].as<bool>() ? 1 : 0);
      item.set_unread_msg_num(row[4].as<uint32_t>());
      out.push_back(std::move(item));
    }
    return out;
  });
}

absl::Status LockPinsUnderCap(pqxx::work& tx, uint64_t sdkappid, const std::string& owner,
                              const std::string& peer, const std::string& group, int max_pinned) {
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1 || '/pin/' || $2))",
                 std::to_string(sdkappid), owner);
  auto count = tx.exec_params1(
      "SELECT (SELECT count(*) FROM conversations WHERE sdkappid = $1 AND owner = $2"
      "   AND pinned AND peer <> $3)"
      " + (SELECT count(*) FROM group_member_seqs WHERE sdkappid = $1 AND user_id = $2"
      "   AND pinned AND group_id <> $4)",
      sdkappid, owner, peer, group);
  if (count[0].as<int>() >= max_pinned) {
    return absl::FailedPreconditionError("too many pinned conversations");
  }
  return absl::OkStatus();
}

absl::Status MessageStore::PinConversation(uint64_t sdkappid, const std::string& owner,
                                           const std::string& peer, bool pinned,
                                           int max_pinned) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    if (pinned) {
      if (auto st = LockPinsUnderCap(tx, sdkappid, owner, peer, "", max_pinned); !st.ok()) {
        return st;
      }
    }
    tx.exec_params(
        "INSERT INTO conversations AS c (sdkappid, owner, peer, pinned) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET pinned = EXCLUDED.pinned",
        sdkappid, owner, peer, pinned);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status MessageStore::DeleteConversation(uint64_t sdkappid, const std::string& owner,
                                              const std::string& peer, bool clear_history) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("DELETE FROM conversations WHERE sdkappid = $1 AND owner = $2 AND peer = $3",
                   sdkappid, owner, peer);
    if (clear_history) {
      tx.exec_params("UPDATE timeline SET deleted = true WHERE sdkappid = $1 AND user_id = $2"
                     " AND peer = $3 AND kind = 1",
                     sdkappid, owner, peer);
    }
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> MessageStore::DeleteExpiredDedup() {
  return pool_->Query<int64_t>([](pqxx::connection& c) -> absl::StatusOr<int64_t> {
    pqxx::work tx(c);
    auto result =
        tx.exec("DELETE FROM c2c_dedup WHERE created_at < now() - interval '10 minutes'");
    tx.commit();
    return static_cast<int64_t>(result.affected_rows());
  });
}

absl::Status MessageStore::SetNoSpeaking(uint64_t sdkappid, const std::string& user,
                                         std::optional<int64_t> c2c_until,
                                         std::optional<int64_t> group_until) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    // An absent kind keeps its value (a new row starts unmuted).
    tx.exec_params(
        "INSERT INTO no_speaking (sdkappid, user_id, c2c_until, group_until)"
        " VALUES ($1, $2, COALESCE($3::bigint, 0), COALESCE($4::bigint, 0))"
        " ON CONFLICT (sdkappid, user_id) DO UPDATE SET"
        " c2c_until = COALESCE($3::bigint, no_speaking.c2c_until),"
        " group_until = COALESCE($4::bigint, no_speaking.group_until)",
        sdkappid, user, c2c_until, group_until);
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<NoSpeaking> MessageStore::GetNoSpeaking(uint64_t sdkappid,
                                                       const std::string& user) {
  return pool_->Query<NoSpeaking>([&](pqxx::connection& c) -> absl::StatusOr<NoSpeaking> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT c2c_until, group_until FROM no_speaking WHERE sdkappid = $1 AND user_id = $2",
        sdkappid, user);
    NoSpeaking out;
    if (!rows.empty()) {
      out.c2c_until = rows[0][0].as<int64_t>();
      out.group_until = rows[0][1].as<int64_t>();
    }
    return out;
  });
}

}  // namespace parley::message
