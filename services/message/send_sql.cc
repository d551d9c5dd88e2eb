#include "send_sql.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
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

// This file's statements run prepared (pg::ExecPrepared): a batch runs each
// of them once per commit.

constexpr char kWriteOneSql[] =
    "SELECT duplicate, msg_key, msg_seq, msg_time, sender_seq, receiver_seq FROM parley_c2c_send("
    "$1, $2, $3, $4, $5, $6, $7, $8, $9, NULLIF($10, '')::jsonb, $11, $12, $13, $14)";

constexpr char kSelfSendSeqSql[] =
    "UPDATE c2c_dedup SET sender_seq = $4"
    " WHERE sdkappid = $1 AND from_account = $2 AND to_account = $2 AND dedup_key = $3";

// The batch's keys that someone already holds (their sends take the slow path).
constexpr char kFindDedupSql[] =
    "SELECT d.sdkappid, d.from_account, d.to_account, d.dedup_key FROM c2c_dedup d"
    " JOIN unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS u(app, f, t, k)"
    "  ON d.sdkappid = u.app AND d.from_account = u.f AND d.to_account = u.t AND d.dedup_key = u.k";

// Reserves n MsgSeqs per conversation ($1-$4) and n timeline seqs per user
// ($5-$7); returns each one's new last_seq, conversations (is_conversation)
// first.
constexpr char kReserveSeqsSql[] =
    "WITH conversation_seqs AS ("
    "  INSERT INTO c2c_conversation_seqs AS s (sdkappid, user_a, user_b, last_seq)"
    "  SELECT app, least(x, y), greatest(x, y), n"
    "   FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u(app, x, y, n)"
    "  ON CONFLICT (sdkappid, user_a, user_b) DO UPDATE SET last_seq = s.last_seq + "
    "EXCLUDED.last_seq"
    "  RETURNING sdkappid, user_a, user_b, last_seq),"
    " timeline_seqs AS ("
    "  INSERT INTO timeline_heads AS h (sdkappid, user_id, last_seq)"
    "  SELECT * FROM unnest($5::bigint[], $6::text[], $7::bigint[])"
    "  ON CONFLICT (sdkappid, user_id) DO UPDATE SET last_seq = h.last_seq + EXCLUDED.last_seq"
    "  RETURNING sdkappid, user_id, last_seq)"
    " SELECT true AS is_conversation, sdkappid, user_a, user_b, last_seq FROM conversation_seqs"
    " UNION ALL SELECT false, sdkappid, user_id, NULL, last_seq FROM timeline_seqs";

// Every row of the batch's fast jobs, in one statement: contents ($1-$11),
// timeline events ($12-$17), conversations whose last message moves
// ($18-$23) and (NoLastMsg) ones where only the unread count does ($24-$29),
// what each dedup key now stands for ($30-$37), so a retry gets the
// original ack, and the after-send callbacks owed ($38-$45, the outbox). Returns how many dedup keys it recorded: fewer than asked
// means a concurrent transaction (another replica) took one meanwhile, and
// the batch is redone one by one.
constexpr char kInsertRowsSql[] =
    "WITH contents AS ("
    "  INSERT INTO c2c_messages (sdkappid, user_a, user_b, msg_key, from_account, to_account,"
    "   msg_seq, msg_random, msg_time, body, cloud_custom_data, offline_push_info, client_msg_id)"
    "  SELECT app, least(f, t), greatest(f, t), k, f, t, s, r, tm, b, c,"
    "   NULLIF(p, '')::jsonb, cm"
    "  FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],"
    "   $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[])"
    "   AS u(app, f, t, k, s, r, tm, b, c, p, cm)),"
    " events AS ("
    "  INSERT INTO timeline (sdkappid, user_id, seq, kind, peer, msg_key, event_time)"
    "  SELECT app, owner, s, 1, peer, k, tm"
    "  FROM unnest($12::bigint[], $13::text[], $14::bigint[], $15::text[], $16::text[],"
    "   $17::bigint[]) AS u(app, owner, s, peer, k, tm)),"
    " moved AS ("
    "  INSERT INTO conversations AS c (sdkappid, owner, peer, last_msg_key, last_msg_time, unread)"
    "  SELECT * FROM unnest($18::bigint[], $19::text[], $20::text[], $21::text[], $22::bigint[],"
    "   $23::int[])"
    "  ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET unread = c.unread + EXCLUDED.unread,"
    "   last_msg_key = EXCLUDED.last_msg_key, last_msg_time = EXCLUDED.last_msg_time),"
    " kept AS ("
    "  INSERT INTO conversations AS c (sdkappid, owner, peer, last_msg_key, last_msg_time, unread)"
    "  SELECT * FROM unnest($24::bigint[], $25::text[], $26::text[], $27::text[], $28::bigint[],"
    "   $29::int[])"
    "  ON CONFLICT (sdkappid, owner, peer) DO UPDATE SET unread = c.unread + EXCLUDED.unread),"
    " claims AS ("
    "  INSERT INTO c2c_dedup (sdkappid, from_account, to_account, dedup_key, msg_key, msg_seq,"
    "   msg_time, sender_seq)"
    "  SELECT * FROM unnest($30::bigint[], $31::text[], $32::text[], $33::text[], $34::text[],"
    "   $35::bigint[], $36::bigint[], $37::bigint[]) ORDER BY 1, 2, 3, 4"
    "  ON CONFLICT DO NOTHING RETURNING 1),"
    " owed AS ("
    "  INSERT INTO c2c_after_outbox (id, sdkappid, from_account, to_account, msg_key, command,"
    "   opt_platform, client_ip)"
    "  SELECT * FROM unnest($38::bigint[], $39::bigint[], $40::text[], $41::text[], $42::text[],"
    "   $43::text[], $44::text[], $45::text[]))"
    " SELECT count(*) FROM claims";

// One statement's parameters, each an array literal, in $n order.
using Params = std::vector<std::string>;

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
    auto rows = pg::ExecPrepared(tx, "send_find_dedup", kFindDedupSql, IntArray(apps), TextArray(froms),
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

// Gives each job without a chosen MsgSeq the next seqs of its conversation,
// and each job its receiver's (and sender's) next timeline seqs, in job
// order, so each user's seqs stay gapless and follow send order.
void AssignSeqs(pqxx::work& tx, const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                std::vector<SendResult>* results) {
  std::map<PairKey, int64_t> msg_seqs_wanted;
  std::map<UserKey, int64_t> timeline_seqs_wanted;
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    if (job.msg_seq == 0) ++msg_seqs_wanted[PairOf(job.sdkappid, job.from, job.to)];
    ++timeline_seqs_wanted[{job.sdkappid, job.to}];
    if (StoresForSender(job)) ++timeline_seqs_wanted[{job.sdkappid, job.from}];
  }
  std::vector<int64_t> pair_apps, pair_counts, user_apps, user_counts;
  std::vector<std::string> xs, ys, users;
  for (const auto& [pair, count] : msg_seqs_wanted) {
    pair_apps.push_back(static_cast<int64_t>(std::get<0>(pair)));
    xs.push_back(std::get<1>(pair));
    ys.push_back(std::get<2>(pair));
    pair_counts.push_back(count);
  }
  for (const auto& [user, count] : timeline_seqs_wanted) {
    user_apps.push_back(static_cast<int64_t>(user.first));
    users.push_back(user.second);
    user_counts.push_back(count);
  }
  auto rows = pg::ExecPrepared(tx, "send_reserve_seqs", kReserveSeqsSql, IntArray(pair_apps), TextArray(xs),
                   TextArray(ys), IntArray(pair_counts), IntArray(user_apps), TextArray(users),
                   IntArray(user_counts));
  // The first seq each conversation and user reserved.
  std::map<PairKey, int64_t> next_msg_seq;
  std::map<UserKey, int64_t> next_timeline_seq;
  for (const auto& row : rows) {
    uint64_t app = row[1].as<uint64_t>();
    int64_t last = row[4].as<int64_t>();
    if (row[0].as<bool>()) {
      PairKey pair = PairOf(app, row[2].as<std::string>(), row[3].as<std::string>());
      next_msg_seq[pair] = last - msg_seqs_wanted[pair] + 1;
    } else {
      UserKey user{app, row[2].as<std::string>()};
      next_timeline_seq[user] = last - timeline_seqs_wanted[user] + 1;
    }
  }
  for (size_t i : fast) {
    const SendJob& job = jobs[i];
    SendResult& result = (*results)[i];
    result.msg_seq = job.msg_seq != 0
                         ? job.msg_seq
                         : static_cast<uint32_t>(
                               next_msg_seq[PairOf(job.sdkappid, job.from, job.to)]++);
    result.receiver_seq = static_cast<uint64_t>(next_timeline_seq[{job.sdkappid, job.to}]++);
    if (StoresForSender(job)) {
      result.sender_seq = static_cast<uint64_t>(next_timeline_seq[{job.sdkappid, job.from}]++);
    } else if (job.from == job.to) {
      result.sender_seq = result.receiver_seq;  // to oneself: one timeline, one seq
    }
  }
}

void AddContentParams(const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                      const std::vector<SendResult>& results, Params* params) {
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
  params->insert(params->end(),
                 {IntArray(apps), TextArray(froms), TextArray(tos), TextArray(keys),
                  IntArray(seqs), IntArray(randoms), IntArray(times), TextArray(bodies),
                  TextArray(clouds), TextArray(pushes), TextArray(client_ids)});
}

void AddTimelineParams(const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                       const std::vector<SendResult>& results, Params* params) {
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
  params->insert(params->end(), {IntArray(apps), TextArray(owners), IntArray(seqs),
                                 TextArray(peers), TextArray(keys), IntArray(times)});
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

// Conversations whose last message moves, then those where it stays.
void AddConversationParams(const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                           const std::vector<SendResult>& results, Params* params) {
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
    params->insert(params->end(), {IntArray(apps), TextArray(owners), TextArray(peers),
                                   TextArray(keys), IntArray(times), IntArray(unreads)});
  }
}

// Returns how many dedup keys the batch claims.
size_t AddDedupParams(const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                      const std::vector<SendResult>& results, Params* params) {
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
  params->insert(params->end(),
                 {IntArray(apps), TextArray(froms), TextArray(tos), TextArray(dedup_keys),
                  TextArray(keys), IntArray(seqs), IntArray(times), IntArray(sender_seqs)});
  return apps.size();
}

// The outbox rows of the jobs at `indices` that are stored (not duplicates):
// their ids go to the results. Returns how many rows.
size_t AddOwedParams(const std::vector<SendJob>& jobs, const std::vector<size_t>& indices,
                   std::vector<SendResult>* results, Params* params) {
  std::vector<int64_t> ids, apps;
  std::vector<std::string> froms, tos, keys, commands, platforms, ips;
  for (size_t i : indices) {
    SendResult& result = (*results)[i];
    if (result.duplicate) continue;
    for (const auto& command : jobs[i].after_commands) {
      ids.push_back(NewOwedId());
      result.owed_callback_ids.push_back(ids.back());
      apps.push_back(static_cast<int64_t>(jobs[i].sdkappid));
      froms.push_back(jobs[i].from);
      tos.push_back(jobs[i].to);
      keys.push_back(result.msg_key);
      commands.push_back(command);
      platforms.push_back(jobs[i].opt_platform);
      ips.push_back(jobs[i].client_ip);
    }
  }
  params->insert(params->end(), {IntArray(ids), IntArray(apps), TextArray(froms), TextArray(tos),
                                 TextArray(keys), TextArray(commands), TextArray(platforms),
                                 TextArray(ips)});
  return ids.size();
}

void InsertRows(pqxx::work& tx, const std::vector<SendJob>& jobs, const std::vector<size_t>& fast,
                std::vector<SendResult>* results) {
  Params params;
  params.reserve(45);
  AddContentParams(jobs, fast, *results, &params);
  AddTimelineParams(jobs, fast, *results, &params);
  AddConversationParams(jobs, fast, *results, &params);
  size_t claims = AddDedupParams(jobs, fast, *results, &params);
  AddOwedParams(jobs, fast, results, &params);
  tx.conn().prepare("send_insert_rows", kInsertRowsSql);
  auto recorded = tx.exec_prepared1("send_insert_rows", pqxx::prepare::make_dynamic_params(params));
  if (recorded[0].as<size_t>() != claims) {
    // Rolls the batch back; MessageStore redoes it one send at a time, and
    // parley_c2c_send() then answers the retry with the original ack.
    throw std::runtime_error("a dedup key was taken by a concurrent send");
  }
}

}  // namespace

// A fresh outbox row id. Ids are made here, not by a sequence, so rows go
// into the batch's one statement without a RETURNING to match back. They
// grow with time (milliseconds, then 8 random bits per process and a
// 12-bit counter), so new rows go to the right edge of the primary key while
// settled rows are deleted further left: random ids put inserts on pages
// full of just-deleted entries, which cost every send batch about 0.4 ms
// (bench/message_bench.sh 1000 with a dead callback URL: p50 7.2-7.9 ms
// against 4.4-6.2 without a URL). Two replicas collide only if they drew the
// same 8 bits and their counters meet within one millisecond; a collision
// fails the batch, which is then redone one send at a time with new ids.
int64_t NewOwedId() {
  static const int64_t tag = static_cast<int64_t>(std::random_device{}() & 0xff) << 12;
  static std::atomic<uint32_t> counter{std::random_device{}()};
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  return (ms << 20) | tag | static_cast<int64_t>(counter.fetch_add(1) & 0xfff);
}


SendResult WriteOne(pqxx::work& tx, const SendJob& job) {
  auto rows = pg::ExecPrepared(tx, "send_one", kWriteOneSql, job.sdkappid, job.from, job.to, job.dedup_key,
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
  if (!result.duplicate && job.from == job.to) {
    // To oneself the message is in one timeline: its seq is the sender's
    // too, and a retry must be answered with it.
    result.sender_seq = result.receiver_seq;
    if (!job.dedup_key.empty()) {
      pg::ExecPrepared(tx, "send_one_self", kSelfSendSeqSql, job.sdkappid, job.from, job.dedup_key,
           static_cast<int64_t>(result.sender_seq));
    }
  }
  return result;
}

std::vector<SendResult> WriteMany(pqxx::work& tx, const std::vector<SendJob>& jobs) {
  std::vector<SendResult> results(jobs.size());
  std::vector<size_t> fast, slow;
  SplitByDedup(tx, jobs, &fast, &slow);
  if (!fast.empty()) {
    AssignSeqs(tx, jobs, fast, &results);
    for (size_t i : fast) {
      SendResult& result = results[i];
      result.msg_time = jobs[i].time;
      // The same key parley_c2c_send() builds.
      result.msg_key = absl::StrCat(result.msg_seq, "_", jobs[i].random, "_", jobs[i].time);
    }
    InsertRows(tx, jobs, fast, &results);
  }
  for (size_t i : slow) results[i] = WriteOne(tx, jobs[i]);
  RecordOwedCallbacks(tx, jobs, slow, &results);
  return results;
}

void RecordOwedCallbacks(pqxx::work& tx, const std::vector<SendJob>& jobs,
                         const std::vector<size_t>& indices, std::vector<SendResult>* results) {
  Params params;
  if (AddOwedParams(jobs, indices, results, &params) == 0) return;
  tx.conn().prepare("send_record_owed",
                    "INSERT INTO c2c_after_outbox (id, sdkappid, from_account, to_account,"
                    " msg_key, command, opt_platform, client_ip)"
                    " SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],"
                    "  $5::text[], $6::text[], $7::text[], $8::text[])");
  tx.exec_prepared("send_record_owed", pqxx::prepare::make_dynamic_params(params));
}

}  // namespace parley::message
