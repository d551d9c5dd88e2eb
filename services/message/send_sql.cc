#include "send_sql.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "parley/pg/pool.h"

namespace parley::message {
namespace {

using pg::IntArray;
using pg::TextArray;

// (app, user): a timeline owner.
using UserKey = std::pair<uint64_t, std::string>;
// (app, lesser user, greater user) by byte order: a conversation between two
// users, independent of the database collation (rows from PostgreSQL are
// normalised with PairOf too).
using PairKey = std::tuple<uint64_t, std::string, std::string>;
// (app, from, to, dedup key): a sender's claim on a MsgRandom/client id.
using DedupKey = std::tuple<uint64_t, std::string, std::string, std::string>;

PairKey PairOf(uint64_t app, const std::string& x, const std::string& y) {
  return x < y ? PairKey{app, x, y} : PairKey{app, y, x};
}

DedupKey DedupOf(const SendJob& job) { return {job.sdkappid, job.from, job.to, job.dedup_key}; }

bool StoresForSender(const SendJob& job) { return job.store_for_sender && job.from != job.to; }

// Runs one of this file's statements as a prepared statement: a batch runs
// each of them once, so parsing and planning would otherwise be repeated for
// every commit. libpqxx registers it on the connection's first use (and again
// after a reconnect).
template <class... Args>
pqxx::result Exec(pqxx::work& tx, const char* name, const char* sql, Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

constexpr char kWriteOneSql[] =
    "SELECT duplicate, msg_key, msg_seq, msg_time, sender_seq, receiver_seq FROM parley_c2c_send("
    "$1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, NULLIF($10, '')::jsonb, $11, $12, $13, $14)";

// The batch's keys that someone already holds (their sends take the slow path).
constexpr char kFindDedupSql[] =
    "SELECT d.sdkappid, d.from_account, d.to_account, d.dedup_key FROM c2c_dedup d"
    " JOIN unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(app, f, t, k)"
    "  ON d.sdkappid = u.app AND d.from_account = u.f AND d.to_account = u.t AND d.dedup_key = u.k";

// Reserves n MsgSeqs per conversation; returns each one's new last_seq.
constexpr char kReserveMsgSeqsSql[] =
    "INSERT INTO c2c_conversation_seqs AS s (sdkappid, user_a, user_b, last_seq)"
    " SELECT app, least(x, y), greatest(x, y), n"
    "  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u(app, x, y, n)"
    " ON CONFLICT (sdkappid, user_a, user_b) DO UPDATE SET last_seq = s.last_seq + "
    "EXCLUDED.last_seq"
    " RETURNING sdkappid, user_a, user_b, last_seq";

// Reserves n timeline seqs per user; returns each one's new last_seq.
constexpr char kReserveTimelineSeqsSql[] =
    "INSERT INTO timeline_heads AS h (sdkappid, user_id, last_seq)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])"
    " ON CONFLICT (sdkappid, user_id) DO UPDATE SET last_seq = h.last_seq + EXCLUDED.last_seq"
    " RETURNING sdkappid, user_id, last_seq";

constexpr char kInsertMessagesSql[] =
    "INSERT INTO c2c_messages (sdkappid, user_a, user_b, msg_key, from_account, to_account,"
    "  msg_seq, msg_random, msg_time, body, cloud_custom_data, offline_push_info, client_msg_id)"
    " SELECT app, least(f, t), greatest(f, t), k, f, t, s, r, tm, b::jsonb, c,"
    "  NULLIF(p, '')::jsonb, cm"
    " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],"
    "  $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[])"
    "  AS u(app, f, t, k, s, r, tm, b, c, p, cm)";

constexpr char kInsertTimelineSql[] =
    "INSERT INTO timeline (sdkappid, user_id, seq, kind, peer, msg_key, event_time)"
    " SELECT app, owner, s, 1, peer, k, tm"
    " FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[])"
    "  AS u(app, owner, s, peer, k, tm)";

// Two forms: conversations whose last message moves, and (NoLastMsg) ones
// where only the unread count does.
constexpr char kUpsertConversationsMoveLastSql[] =
    "INSERT INTO conversations AS c (sdkappid, owner, peer, last_msg_key, last_msg_time, unread)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],"
    "  $6::int[])"
    " ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET unread = c.unread + EXCLUDED.unread,"
    "  last_msg_key = EXCLUDED.last_msg_key, last_msg_time = EXCLUDED.last_msg_time";
constexpr char kUpsertConversationsKeepLastSql[] =
    "INSERT INTO conversations AS c (sdkappid, owner, peer, last_msg_key, last_msg_time, unread)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],"
    "  $6::int[])"
    " ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET unread = c.unread + EXCLUDED.unread";

// Records what each key now stands for, so a retry gets the original ack.
// Written once, at the end: a key a concurrent transaction took meanwhile
// (another replica) conflicts here, and the batch is redone one by one.
constexpr char kRecordDedupSql[] =
    "INSERT INTO c2c_dedup (sdkappid, from_account, to_account, dedup_key, msg_key, msg_seq,"
    "  msg_time, sender_seq)"
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],"
    "  $6::bigint[], $7::bigint[], $8::bigint[]) ORDER BY 1, 2, 3, 4"
    " ON CONFLICT DO NOTHING";

// Splits jobs into those this batch may write set-based (in job order) and
// those that must go through parley_c2c_send(): a dedup key someone already
// holds, or one an earlier job of this batch uses.
void SplitByDedup(pqxx::work& tx, const std::vector<SendJob>& jobs, std::vector<size_t>* fast,
                  std::vector<size_t>* slow) {
  std::set<DedupKey> in_batch;
  std::vector<size_t> claimers;
  std::vector<int64_t> apps;
  std::vector<std::string> froms, tos, keys;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const SendJob& job = jobs[i];
    if (job.dedup_key.empty()) continue;
    if (!in_batch.insert(DedupOf(job)).second) continue;
    claimers.push_back(i);
    apps.push_back(static_cast<int64_t>(job.sdkappid));
    froms.push_back(job.from);
    tos.push_back(job.to);
    keys.push_back(job.dedup_key);
  }
  std::set<DedupKey> taken;
  if (!claimers.empty()) {
    auto rows = Exec(tx, "send_find_dedup", kFindDedupSql, IntArray(apps), TextArray(froms),
                     TextArray(tos), TextArray(keys));
    for (const auto& row : rows) {
      taken.emplace(row[0].as<uint64_t>(), row[1].as<std::string>(), row[2].as<std::string>(),
                    row[3].as<std::string>());
    }
  }
  size_t next_claimer = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    const SendJob& job = jobs[i];
    bool is_claimer = next_claimer < claimers.size() && claimers[next_claimer] == i;
    if (is_claimer) ++next_claimer;
    if (job.dedup_key.empty() || (is_claimer && !taken.count(DedupOf(job)))) {
      fast->push_back(i);
    } else {
      slow->push_back(i);
    }
  }
}

// Gives each job without a chosen MsgSeq the next seqs of its conversation.
void AssignMsgSeqs(pqxx::work& tx, const std::vector<SendJob>& jobs,
                   const std::vector<size_t>& fast, std::vector<SendResult>* results) {
  std::map<PairKey, int64_t> wanted;
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    if (job.msg_seq == 0)
      ++wanted[PairOf(job.sdkappid, job.from, job.to)];
    else
      (*results)[i].msg_seq = job.msg_seq;
  }
  if (wanted.empty()) return;
  std::vector<int64_t> apps, counts;
  std::vector<std::string> xs, ys;
  for (const auto& [pair, count] : wanted) {
    apps.push_back(static_cast<int64_t>(std::get<0>(pair)));
    xs.push_back(std::get<1>(pair));
    ys.push_back(std::get<2>(pair));
    counts.push_back(count);
  }
  auto rows = Exec(tx, "send_reserve_msg_seqs", kReserveMsgSeqsSql, IntArray(apps), TextArray(xs),
                   TextArray(ys), IntArray(counts));
  std::map<PairKey, int64_t> next;
  for (const auto& row : rows) {
    PairKey pair =
        PairOf(row[0].as<uint64_t>(), row[1].as<std::string>(), row[2].as<std::string>());
    next[pair] = row[3].as<int64_t>() - wanted[pair] + 1;
  }
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    if (job.msg_seq == 0) {
      (*results)[i].msg_seq = static_cast<uint32_t>(next[PairOf(job.sdkappid, job.from, job.to)]++);
    }
  }
}

// Gives each job its receiver's (and sender's) next timeline seqs, in job
// order, so each user's seqs stay gapless and follow send order.
void AssignTimelineSeqs(pqxx::work& tx, const std::vector<SendJob>& jobs,
                        const std::vector<size_t>& fast, std::vector<SendResult>* results) {
  std::map<UserKey, int64_t> wanted;
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    ++wanted[{job.sdkappid, job.to}];
    if (StoresForSender(job)) ++wanted[{job.sdkappid, job.from}];
  }
  std::vector<int64_t> apps, counts;
  std::vector<std::string> users;
  for (const auto& [user, count] : wanted) {
    apps.push_back(static_cast<int64_t>(user.first));
    users.push_back(user.second);
    counts.push_back(count);
  }
  auto rows = Exec(tx, "send_reserve_timeline_seqs", kReserveTimelineSeqsSql, IntArray(apps),
                   TextArray(users), IntArray(counts));
  std::map<UserKey, int64_t> next;
  for (const auto& row : rows) {
    UserKey user{row[0].as<uint64_t>(), row[1].as<std::string>()};
    next[user] = row[2].as<int64_t>() - wanted[user] + 1;
  }
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    SendResult& result = (*results)[i];
    result.receiver_seq = static_cast<uint64_t>(next[{job.sdkappid, job.to}]++);
    if (StoresForSender(job)) {
      result.sender_seq = static_cast<uint64_t>(next[{job.sdkappid, job.from}]++);
    }
  }
}

void InsertMessages(pqxx::work& tx, const std::vector<SendJob>& jobs,
                    const std::vector<size_t>& fast, const std::vector<SendResult>& results) {
  std::vector<int64_t> apps, seqs, randoms, times;
  std::vector<std::string> froms, tos, keys, bodies, clouds, pushes, client_ids;
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    apps.push_back(static_cast<int64_t>(job.sdkappid));
    froms.push_back(job.from);
    tos.push_back(job.to);
    keys.push_back(results[i].msg_key);
    seqs.push_back(results[i].msg_seq);
    randoms.push_back(job.random);
    times.push_back(job.time);
    bodies.push_back(job.body_json);
    clouds.push_back(job.cloud_custom_data);
    pushes.push_back(job.offline_push_json);
    client_ids.push_back(job.client_msg_id);
  }
  Exec(tx, "send_insert_messages", kInsertMessagesSql, IntArray(apps), TextArray(froms),
       TextArray(tos), TextArray(keys), IntArray(seqs), IntArray(randoms), IntArray(times),
       TextArray(bodies), TextArray(clouds), TextArray(pushes), TextArray(client_ids));
}

void InsertTimelineEvents(pqxx::work& tx, const std::vector<SendJob>& jobs,
                          const std::vector<size_t>& fast, const std::vector<SendResult>& results) {
  std::vector<int64_t> apps, seqs, times;
  std::vector<std::string> owners, peers, keys;
  auto add = [&](const SendJob& job, const std::string& owner, const std::string& peer,
                 uint64_t seq, const std::string& key) {
    apps.push_back(static_cast<int64_t>(job.sdkappid));
    owners.push_back(owner);
    seqs.push_back(static_cast<int64_t>(seq));
    peers.push_back(peer);
    keys.push_back(key);
    times.push_back(job.time);
  };
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    add(job, job.to, job.from, results[i].receiver_seq, results[i].msg_key);
    if (StoresForSender(job)) add(job, job.from, job.to, results[i].sender_seq, results[i].msg_key);
  }
  Exec(tx, "send_insert_timeline", kInsertTimelineSql, IntArray(apps), TextArray(owners),
       IntArray(seqs), TextArray(peers), TextArray(keys), IntArray(times));
}

// One row per (owner, peer) however many of the batch's messages it holds:
// the unread counts add up and the last message is the batch's latest one
// that may move it.
struct ConversationChange {
  int64_t unread = 0;
  bool moves_last = false;
  std::string last_key;  // also the key a new row starts with
  int64_t last_time = 0;
};

void UpsertConversations(pqxx::work& tx, const std::vector<SendJob>& jobs,
                         const std::vector<size_t>& fast, const std::vector<SendResult>& results) {
  std::map<std::tuple<uint64_t, std::string, std::string>, ConversationChange> changes;
  auto add = [&](const SendJob& job, const std::string& owner, const std::string& peer,
                 bool counts_unread, const std::string& key) {
    ConversationChange& change = changes[{job.sdkappid, owner, peer}];
    if (counts_unread) ++change.unread;
    if (job.update_last_message || !change.moves_last) {
      change.moves_last = change.moves_last || job.update_last_message;
      change.last_key = key;
      change.last_time = job.time;
    }
  };
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    add(job, job.to, job.from, job.count_unread, results[i].msg_key);
    if (StoresForSender(job)) add(job, job.from, job.to, false, results[i].msg_key);
  }
  for (bool moves_last : {true, false}) {
    std::vector<int64_t> apps, times, unreads;
    std::vector<std::string> owners, peers, keys;
    for (const auto& [conversation, change] : changes) {
      if (change.moves_last != moves_last) continue;
      apps.push_back(static_cast<int64_t>(std::get<0>(conversation)));
      owners.push_back(std::get<1>(conversation));
      peers.push_back(std::get<2>(conversation));
      keys.push_back(change.last_key);
      times.push_back(change.last_time);
      unreads.push_back(change.unread);
    }
    if (apps.empty()) continue;
    Exec(tx, moves_last ? "send_upsert_conversations_move_last" : "send_upsert_conversations",
         moves_last ? kUpsertConversationsMoveLastSql : kUpsertConversationsKeepLastSql,
         IntArray(apps), TextArray(owners), TextArray(peers), TextArray(keys), IntArray(times),
         IntArray(unreads));
  }
}

void RecordDedup(pqxx::work& tx, const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                 const std::vector<SendResult>& results) {
  std::vector<int64_t> apps, seqs, times, sender_seqs;
  std::vector<std::string> froms, tos, dedup_keys, keys;
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    if (job.dedup_key.empty()) continue;
    apps.push_back(static_cast<int64_t>(job.sdkappid));
    froms.push_back(job.from);
    tos.push_back(job.to);
    dedup_keys.push_back(job.dedup_key);
    keys.push_back(results[i].msg_key);
    seqs.push_back(results[i].msg_seq);
    times.push_back(results[i].msg_time);
    sender_seqs.push_back(static_cast<int64_t>(results[i].sender_seq));
  }
  if (apps.empty()) return;
  auto written = Exec(tx, "send_record_dedup", kRecordDedupSql, IntArray(apps), TextArray(froms),
                      TextArray(tos), TextArray(dedup_keys), TextArray(keys), IntArray(seqs),
                      IntArray(times), IntArray(sender_seqs));
  if (written.affected_rows() != apps.size()) {
    // Rolls the batch back; MessageStore redoes it one send at a time, and
    // parley_c2c_send() then answers the retry with the original ack.
    throw std::runtime_error("a dedup key was taken by a concurrent send");
  }
}

}  // namespace

SendResult WriteOne(pqxx::work& tx, const SendJob& job) {
  auto rows = Exec(tx, "send_one", kWriteOneSql, job.sdkappid, job.from, job.to, job.dedup_key,
                   static_cast<int64_t>(job.msg_seq), static_cast<int64_t>(job.random), job.time,
                   job.body_json, job.cloud_custom_data, job.offline_push_json, job.client_msg_id,
                   job.store_for_sender, job.count_unread, job.update_last_message);
  const auto row = rows.at(0);
  SendResult result;
  result.duplicate = row[0].as<bool>();
  result.msg_key = row[1].as<std::string>();
  result.msg_seq = static_cast<uint32_t>(row[2].as<int64_t>());
  result.msg_time = row[3].as<int64_t>();
  result.sender_seq = row[4].as<uint64_t>();
  result.receiver_seq = row[5].as<uint64_t>();
  return result;
}

std::vector<SendResult> WriteMany(pqxx::work& tx, const std::vector<SendJob>& jobs) {
  std::vector<SendResult> results(jobs.size());
  std::vector<size_t> fast, slow;
  SplitByDedup(tx, jobs, &fast, &slow);
  if (!fast.empty()) {
    AssignMsgSeqs(tx, jobs, fast, &results);
    AssignTimelineSeqs(tx, jobs, fast, &results);
    for (size_t i : fast) {
      SendResult& result = results[i];
      result.msg_time = jobs[i].time;
      // The same key parley_c2c_send() builds.
      result.msg_key = absl::StrCat(result.msg_seq, "_", jobs[i].random, "_", jobs[i].time);
    }
    InsertMessages(tx, jobs, fast, results);
    InsertTimelineEvents(tx, jobs, fast, results);
    UpsertConversations(tx, jobs, fast, results);
    RecordDedup(tx, jobs, fast, results);
  }
  for (size_t i : slow) results[i] = WriteOne(tx, jobs[i]);
  return results;
}

}  // namespace parley::message
