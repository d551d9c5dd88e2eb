#include "group_msg_store.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "group_msg_rules.h"
#include "handoff.h"
#include "message_store.h"
#include "parley/delivery/topics.h"
#include "parley/protojson/protojson.h"

namespace parley::message {
namespace {

// The columns GroupEventFromRow reads, in its order.
constexpr char kEventColumns[] =
    "seq, kind, from_account, random, msg_time, priority, body, cloud_custom_data, at_info,"
    " to_accounts, need_receipt, client_msg_id, recalled, deleted";

}  // namespace

v1::GroupEvent GroupEventFromRow(const pqxx::row& row, const std::string& group,
                                 const std::string& reader) {
  v1::GroupEvent event;
  event.set_group_id(group);
  event.set_seq(row[0].as<uint64_t>());
  auto kind = static_cast<v1::GroupEvent::Kind>(row[1].as<int>());
  event.set_kind(kind);
  event.set_event_time(static_cast<uint32_t>(row[4].as<int64_t>()));
  auto* m = event.mutable_message();
  m->set_group_id(group);
  m->set_from_account(row[2].c_str());
  m->set_msg_seq(static_cast<uint32_t>(event.seq()));
  m->set_msg_random(static_cast<uint32_t>(row[3].as<int64_t>()));
  m->set_msg_time_stamp(event.event_time());
  m->set_msg_key(absl::StrCat(event.seq(), "_", m->msg_random(), "_", m->msg_time_stamp()));
  std::vector<std::string> targets = pg::TextList(row[9]);
  bool hidden = !reader.empty() && !targets.empty() && m->from_account() != reader &&
                std::find(targets.begin(), targets.end(), reader) == targets.end();
  if (hidden || row[13].as<bool>()) {
    // A targeted message for others: the seq is there, its content is not.
    m->set_is_place_msg(1);
    delivery::SplitStream(&event);
    return event;
  }
  for (auto& t : targets) m->add_to_account(std::move(t));
  std::string_view body(row[6].c_str(), row[6].size());
  if (kind == v1::GroupEvent::KIND_TIP) {
    m->set_is_system_msg(1);
    (void)protojson::Parse(body, event.mutable_tip(), {true});
    *m->mutable_tip() = event.tip();
  } else {
    (void)protojson::Parse(body, m->mutable_msg_body());
  }
  m->set_msg_priority(row[5].c_str());
  m->set_cloud_custom_data(row[7].c_str());
  if (!row[8].is_null()) {
    v1::SendGroupRequest at;  // only its GroupAtInfo
    if (protojson::Parse(absl::StrCat("{\"GroupAtInfo\":", row[8].c_str(), "}"), &at, {true})
            .ok()) {
      *m->mutable_group_at_info() = at.group_at_info();
    }
  }
  m->set_need_read_receipt(row[10].as<bool>() ? 1 : 0);
  m->set_client_msg_id(row[11].c_str());
  if (row[12].as<bool>()) m->set_msg_flag_bits(8);
  delivery::SplitStream(&event);
  return event;
}

namespace {

// parley_group_append() for one event, in the caller's transaction.
GroupAppendResult AppendIn(pqxx::work& tx, const GroupAppend& e) {
  std::optional<std::string> push, at, to;
  if (!e.offline_push_json.empty()) push = e.offline_push_json;
  if (!e.at_info_json.empty()) at = e.at_info_json;
  if (!e.to_accounts.empty()) to = pg::TextArray(e.to_accounts);
  auto row = tx.exec_params1(
      "SELECT seq, msg_time, duplicate FROM parley_group_append($1, $2, $3::smallint,"
      " $4::smallint, $5, $6, $7, $8, $9, $10, $11, $12, $13::text[], $14, $15, $16, $17)",
      e.sdkappid, e.group_id, e.group_type, static_cast<int>(e.kind), e.from,
      static_cast<int64_t>(e.random), e.time, e.priority, e.body_json, e.cloud_custom_data, push,
      at, to, e.need_receipt, e.counts_unread, e.client_msg_id, e.dedup);
  GroupAppendResult result;
  result.seq = row[0].as<uint64_t>();
  result.time = row[1].as<int64_t>();
  result.duplicate = row[2].as<bool>();
  return result;
}

}  // namespace

namespace {

std::string Flag(bool b) { return b ? "t" : "f"; }

// The batch of AppendMany in one transaction, with a fixed number of
// statements whatever its size: heads created and locked (in group order),
// earlier copies looked up, seqs numbered here, every row inserted, heads
// moved. The same outcome as parley_group_append() per event, in order.
std::vector<GroupAppendResult> AppendSetBased(pqxx::work& tx,
                                              const std::vector<GroupAppend>& events,
                                              const std::vector<size_t>& order) {
  // Heads: one per (app, group), in the order they are locked.
  std::vector<int64_t> head_apps;
  std::vector<std::string> head_groups, head_types;
  std::map<std::pair<uint64_t, std::string>, size_t> head_index;
  for (size_t i : order) {
    const auto& e = events[i];
    if (head_index.emplace(std::make_pair(e.sdkappid, e.group_id), head_apps.size()).second) {
      head_apps.push_back(static_cast<int64_t>(e.sdkappid));
      head_groups.push_back(e.group_id);
      head_types.push_back(std::to_string(e.group_type));
    }
  }
  pg::ExecPrepared(tx, "group_heads_create",
      "INSERT INTO group_heads (sdkappid, group_id, group_type)"
      " SELECT * FROM unnest($1::bigint[], $2::text[], $3::smallint[]) ON CONFLICT DO NOTHING",
      pg::IntArray(head_apps), pg::TextArray(head_groups), pg::TextArray(head_types));
  struct Head {
    int64_t max_seq = 0, counted = 0, last_msg_time = 0, conversation_seq = 0;
  };
  std::vector<Head> heads(head_apps.size());
  auto locked = pg::ExecPrepared(tx, "group_heads_lock",
      "SELECT h.sdkappid, h.group_id, h.max_seq, h.counted FROM group_heads h"
      " JOIN unnest($1::bigint[], $2::text[]) AS k(app, grp)"
      "   ON h.sdkappid = k.app AND h.group_id = k.grp"
      " ORDER BY h.sdkappid, h.group_id FOR UPDATE OF h",
      pg::IntArray(head_apps), pg::TextArray(head_groups));
  for (const auto& row : locked) {
    auto it = head_index.find({row[0].as<uint64_t>(), row[1].c_str()});
    if (it == head_index.end()) continue;
    heads[it->second].max_seq = row[2].as<int64_t>();
    heads[it->second].counted = row[3].as<int64_t>();
  }
  // Earlier copies (a retry): by client message id, else by Random within
  // five minutes, from the same sender.
  using DedupKey = std::tuple<uint64_t, std::string, std::string, std::string, int64_t>;
  auto key_of = [](const GroupAppend& e) {
    return DedupKey{e.sdkappid, e.group_id, e.from, e.client_msg_id,
                    e.client_msg_id.empty() ? static_cast<int64_t>(e.random) : 0};
  };
  std::map<DedupKey, GroupAppendResult> earlier;
  {
    std::vector<int64_t> apps, randoms, min_times;
    std::vector<std::string> groups, froms, client_ids;
    for (size_t i : order) {
      const auto& e = events[i];
      if (!e.dedup) continue;
      apps.push_back(static_cast<int64_t>(e.sdkappid));
      groups.push_back(e.group_id);
      froms.push_back(e.from);
      client_ids.push_back(e.client_msg_id);
      randoms.push_back(static_cast<int64_t>(e.random));
      min_times.push_back(e.time - 300);
    }
    if (!apps.empty()) {
      auto found = pg::ExecPrepared(tx, "group_events_dedup",
          "SELECT d.app, d.grp, d.frm, d.cid, d.rnd, e.seq, e.msg_time"
          " FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[],"
          "             $6::bigint[]) AS d(app, grp, frm, cid, rnd, min_time)"
          " JOIN group_events e ON e.sdkappid = d.app AND e.group_id = d.grp AND e.kind = 1"
          "   AND e.from_account = d.frm"
          "   AND ((d.cid <> '' AND e.client_msg_id = d.cid)"
          "        OR (d.cid = '' AND e.random = d.rnd AND e.msg_time >= d.min_time))",
          pg::IntArray(apps), pg::TextArray(groups), pg::TextArray(froms),
          pg::TextArray(client_ids), pg::IntArray(randoms), pg::IntArray(min_times));
      for (const auto& row : found) {
        std::string cid = row[3].c_str();
        DedupKey key{row[0].as<uint64_t>(), row[1].c_str(), row[2].c_str(), cid,
                     cid.empty() ? row[4].as<int64_t>() : 0};
        earlier[key] = {row[5].as<uint64_t>(), row[6].as<int64_t>(), true};
      }
    }
  }
  // Number the rest, in order.
  std::vector<GroupAppendResult> results(events.size());
  std::vector<int64_t> apps, seqs, kinds, randoms, times, counted_ats;
  std::vector<std::string> groups, froms, priorities, bodies, clouds, pushes, ats, tos, receipts,
      client_ids;
  for (size_t i : order) {
    const auto& e = events[i];
    if (e.dedup) {
      if (auto it = earlier.find(key_of(e)); it != earlier.end()) {
        results[i] = it->second;
        results[i].duplicate = true;
        continue;
      }
    }
    Head& head = heads[head_index[{e.sdkappid, e.group_id}]];
    head.max_seq += 1;
    if (e.counts_unread) head.counted += 1;
    if (e.kind == v1::GroupEvent::KIND_MESSAGE && e.updates_conversation) {
      head.last_msg_time = std::max(head.last_msg_time, e.time);
      head.conversation_seq = head.max_seq;
    }
    results[i] = {static_cast<uint64_t>(head.max_seq), e.time, false};
    if (e.dedup) earlier[key_of(e)] = results[i];  // a repeat within the batch
    apps.push_back(static_cast<int64_t>(e.sdkappid));
    groups.push_back(e.group_id);
    seqs.push_back(head.max_seq);
    kinds.push_back(static_cast<int64_t>(e.kind));
    froms.push_back(e.from);
    randoms.push_back(static_cast<int64_t>(e.random));
    times.push_back(e.time);
    priorities.push_back(e.priority);
    bodies.push_back(e.body_json);
    clouds.push_back(e.cloud_custom_data);
    pushes.push_back(e.offline_push_json);
    ats.push_back(e.at_info_json);
    tos.push_back(e.to_accounts.empty() ? "" : pg::TextArray(e.to_accounts));
    receipts.push_back(Flag(e.need_receipt));
    counted_ats.push_back(head.counted);
    client_ids.push_back(e.client_msg_id);
  }
  if (apps.empty()) return results;
  pg::ExecPrepared(tx, "group_events_insert",
      "INSERT INTO group_events (sdkappid, group_id, seq, kind, from_account, random, msg_time,"
      "  priority, body, cloud_custom_data, offline_push, at_info, to_accounts, need_receipt,"
      "  counted_at, client_msg_id)"
      " SELECT app, grp, seq, kind, frm, rnd, t, prio, body, cloud, NULLIF(push, ''),"
      "   NULLIF(at, ''), NULLIF(tos, '')::text[], receipt, counted_at, cid"
      " FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::smallint[], $5::text[],"
      "   $6::bigint[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::text[],"
      "   $12::text[], $13::text[], $14::boolean[], $15::bigint[], $16::text[])"
      " AS r(app, grp, seq, kind, frm, rnd, t, prio, body, cloud, push, at, tos, receipt,"
      "      counted_at, cid)",
      pg::IntArray(apps), pg::TextArray(groups), pg::IntArray(seqs), pg::IntArray(kinds),
      pg::TextArray(froms), pg::IntArray(randoms), pg::IntArray(times), pg::TextArray(priorities),
      pg::TextArray(bodies), pg::TextArray(clouds), pg::TextArray(pushes), pg::TextArray(ats),
      pg::TextArray(tos), pg::TextArray(receipts), pg::IntArray(counted_ats),
      pg::TextArray(client_ids));
  std::vector<int64_t> new_max, new_counted, new_times, new_conversation;
  for (const auto& h : heads) {
    new_max.push_back(h.max_seq);
    new_counted.push_back(h.counted);
    new_times.push_back(h.last_msg_time);
    new_conversation.push_back(h.conversation_seq);
  }
  pg::ExecPrepared(tx, "group_heads_move",
      "UPDATE group_heads h SET max_seq = u.max_seq, counted = u.counted,"
      "   last_msg_time = GREATEST(h.last_msg_time, u.t),"
      "   last_conversation_seq = GREATEST(h.last_conversation_seq, u.conversation_seq)"
      " FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],"
      "             $6::bigint[]) AS u(app, grp, max_seq, counted, t, conversation_seq)"
      " WHERE h.sdkappid = u.app AND h.group_id = u.grp",
      pg::IntArray(head_apps), pg::TextArray(head_groups), pg::IntArray(new_max),
      pg::IntArray(new_counted), pg::IntArray(new_times), pg::IntArray(new_conversation));
  return results;
}

}  // namespace

namespace {

// The deliveries of the stored (not duplicate) messages that carry an event,
// into their results and one delivery_outbox row for the batch.
void RecordGroupDeliveries(pqxx::work& tx, const std::vector<GroupAppend>& events,
                           std::vector<GroupAppendResult>* results) {
  v1::HandOff handoff;
  std::vector<size_t> owners;
  for (size_t i = 0; i < events.size(); ++i) {
    GroupAppendResult& result = (*results)[i];
    if (result.duplicate || !events[i].event) continue;
    result.delivery = GroupMessageDelivery(*events[i].event, result.seq, result.time);
    auto* item = handoff.add_items();
    item->set_sdkappid(events[i].sdkappid);
    *item->mutable_group() = *result.delivery;
    owners.push_back(i);
  }
  auto ticket = RecordHandOff(tx, handoff);
  for (size_t i : owners) (*results)[i].ticket = ticket;
}

}  // namespace

std::vector<absl::StatusOr<GroupAppendResult>> GroupMessageStore::AppendMany(
    const std::vector<GroupAppend>& events) {
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::tie(events[a].sdkappid, events[a].group_id) <
           std::tie(events[b].sdkappid, events[b].group_id);
  });
  std::vector<absl::StatusOr<GroupAppendResult>> results(
      events.size(), absl::InternalError("not stored"));
  absl::Status batch = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto stored = AppendSetBased(tx, events, order);
    RecordGroupDeliveries(tx, events, &stored);
    tx.commit();
    for (size_t i = 0; i < stored.size(); ++i) results[i] = stored[i];
    return absl::OkStatus();
  });
  if (batch.ok() || events.size() == 1) {
    if (!batch.ok()) results[0] = batch;
    return results;
  }
  for (size_t i : order) results[i] = Append(events[i]);
  return results;
}

namespace {

// A community's tip, in its transaction: members' topic read positions
// follow joins and leaves, and a destroyed topic's events go.
void AppendTopicChanges(pqxx::work& tx, const GroupAppend& e) {
  if (e.group_type != kTypeCommunity) return;
  if (!e.joined.empty()) {
    // What the community's topics held before joining counts as read.
    tx.exec_params(
        "INSERT INTO group_topic_reads (sdkappid, user_id, topic_id, parent_id, read_seq)"
        " SELECT $1, u, h.group_id, $2, h.max_seq FROM group_heads h, unnest($3::text[]) AS u"
        " WHERE h.sdkappid = $1 AND h.parent_id = $2"
        " ON CONFLICT (sdkappid, user_id, topic_id) DO UPDATE SET read_seq = EXCLUDED.read_seq",
        e.sdkappid, e.group_id, pg::TextArray(e.joined));
  }
  if (!e.left.empty()) {
    tx.exec_params(
        "DELETE FROM group_topic_reads WHERE sdkappid = $1 AND user_id = ANY($3::text[])"
        " AND parent_id = $2",
        e.sdkappid, e.group_id, pg::TextArray(e.left));
  }
  if (e.dismissed) {
    tx.exec_params("DELETE FROM group_topic_reads WHERE sdkappid = $1 AND parent_id = $2",
                   e.sdkappid, e.group_id);
  }
  if (!e.destroyed_topic.empty() && delivery::TopicOf(e.destroyed_topic, e.group_id)) {
    for (const char* table : {"group_events", "group_heads", "group_receipts"}) {
      tx.exec_params(absl::StrCat("DELETE FROM ", table, " WHERE sdkappid = $1 AND group_id = $2"),
                     e.sdkappid, e.destroyed_topic);
    }
    tx.exec_params("DELETE FROM group_topic_reads WHERE sdkappid = $1 AND parent_id = $2"
                   " AND topic_id = $3",
                   e.sdkappid, e.group_id, e.destroyed_topic);
  }
}

}  // namespace

absl::StatusOr<GroupAppendResult> GroupMessageStore::Append(const GroupAppend& e) {
  return pool_->Query<GroupAppendResult>([&](pqxx::connection& c)
                                             -> absl::StatusOr<GroupAppendResult> {
    pqxx::work tx(c);
    GroupAppendResult result = AppendIn(tx, e);
    if (!result.duplicate) {
      if (!e.joined.empty()) {
        // A member who joins (again) starts at this tip: what came before is
        // read, and hidden for types that show no history before joining.
        tx.exec_params(
            "INSERT INTO group_member_seqs"
            " (sdkappid, user_id, group_id, join_seq, read_seq, msg_flag)"
            " SELECT $1, u, $2, $3, $3, $5 FROM unnest($4::text[]) AS u"
            " ON CONFLICT (sdkappid, user_id, group_id)"
            " DO UPDATE SET join_seq = EXCLUDED.join_seq, read_seq = EXCLUDED.read_seq,"
            "   msg_flag = EXCLUDED.msg_flag",
            e.sdkappid, e.group_id, result.seq, pg::TextArray(e.joined), e.joined_flag);
      }
      if (!e.left.empty()) {
        tx.exec_params(
            "DELETE FROM group_member_seqs WHERE sdkappid = $1 AND group_id = $2"
            " AND user_id = ANY($3::text[])",
            e.sdkappid, e.group_id, pg::TextArray(e.left));
      }
      if (e.flag_change) {
        tx.exec_params(
            "UPDATE group_member_seqs SET msg_flag = $4"
            " WHERE sdkappid = $1 AND group_id = $2 AND user_id = $3",
            e.sdkappid, e.group_id, e.flag_change->first, e.flag_change->second);
      }
      if (e.dismissed) {
        tx.exec_params("DELETE FROM group_member_seqs WHERE sdkappid = $1 AND group_id = $2",
                       e.sdkappid, e.group_id);
      }
      AppendTopicChanges(tx, e);
    }
    std::vector<GroupAppendResult> one = {result};
    RecordGroupDeliveries(tx, {e}, &one);
    tx.commit();
    return one[0];
  });
}

absl::StatusOr<std::vector<v1::GroupEvent>> GroupMessageStore::Range(
    uint64_t sdkappid, const std::string& group, uint64_t from_seq, uint64_t to_seq,
    uint32_t limit, const std::string& reader) {
  return pool_->Query<std::vector<v1::GroupEvent>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<v1::GroupEvent>> {
        pqxx::read_transaction tx(c);
        auto rows = tx.exec_params(
            absl::StrCat("SELECT ", kEventColumns,
                         " FROM group_events WHERE sdkappid = $1 AND group_id = $2"
                         " AND seq >= $3 AND seq <= $4 ORDER BY seq LIMIT $5"),
            sdkappid, group, static_cast<int64_t>(from_seq), static_cast<int64_t>(to_seq),
            static_cast<int64_t>(limit));
        std::vector<v1::GroupEvent> events;
        events.reserve(rows.size());
        for (const auto& row : rows) events.push_back(GroupEventFromRow(row, group, reader));
        return events;
      });
}

absl::StatusOr<std::map<std::string, std::vector<v1::GroupEvent>>> GroupMessageStore::Ranges(
    uint64_t sdkappid, const std::vector<std::pair<std::string, uint64_t>>& from, uint32_t limit,
    const std::string& reader) {
  using Out = std::map<std::string, std::vector<v1::GroupEvent>>;
  return pool_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    std::vector<std::string> groups;
    std::vector<int64_t> seqs;
    for (const auto& [group, seq] : from) {
      groups.push_back(group);
      seqs.push_back(static_cast<int64_t>(seq));
    }
    auto rows = tx.exec_params(
        absl::StrCat("SELECT x.*, c.grp FROM unnest($2::text[], $3::bigint[]) AS c(grp, from_seq)"
                     " CROSS JOIN LATERAL (SELECT ", kEventColumns,
                     "   FROM group_events WHERE sdkappid = $1 AND group_id = c.grp"
                     "   AND seq >= c.from_seq ORDER BY seq LIMIT $4) x"
                     " ORDER BY c.grp, x.seq"),
        sdkappid, pg::TextArray(groups), pg::IntArray(seqs), static_cast<int64_t>(limit));
    Out out;
    for (const auto& row : rows) {
      std::string group = row[14].c_str();
      out[group].push_back(GroupEventFromRow(row, group, reader));
    }
    return out;
  });
}

absl::StatusOr<std::pair<uint64_t, int32_t>> GroupMessageStore::Head(uint64_t sdkappid,
                                                                     const std::string& group) {
  return pool_->Query<std::pair<uint64_t, int32_t>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::pair<uint64_t, int32_t>> {
        pqxx::read_transaction tx(c);
        auto rows = tx.exec_params(
            "SELECT max_seq, group_type FROM group_heads WHERE sdkappid = $1 AND group_id = $2",
            sdkappid, group);
        if (rows.empty()) return std::pair<uint64_t, int32_t>{0, 0};
        return std::pair<uint64_t, int32_t>{rows[0][0].as<uint64_t>(), rows[0][1].as<int32_t>()};
      });
}

absl::StatusOr<std::vector<GroupMemberSeqs>> GroupMessageStore::MemberSeqs(
    uint64_t sdkappid, const std::string& user, const std::vector<std::string>& groups) {
  return pool_->Query<std::vector<GroupMemberSeqs>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<GroupMemberSeqs>> {
        pqxx::read_transaction tx(c);
        // One statement for all of the user's groups: heads, read positions
        // and unread counts (counted - counted_at of the read seq).
        auto rows = tx.exec_params(
            "SELECT m.group_id, h.group_type, h.max_seq, m.join_seq, m.read_seq,"
            " h.counted - COALESCE(r.counted_at, 0), m.msg_flag"
            " FROM group_member_seqs m"
            " JOIN group_heads h ON h.sdkappid = m.sdkappid AND h.group_id = m.group_id"
            " LEFT JOIN group_events r ON r.sdkappid = m.sdkappid AND r.group_id = m.group_id"
            "   AND r.seq = m.read_seq"
            " WHERE m.sdkappid = $1 AND m.user_id = $2"
            "   AND ($3::text[] IS NULL OR m.group_id = ANY($3::text[]))"
            " ORDER BY m.group_id",
            sdkappid, user,
            groups.empty() ? std::optional<std::string>() : pg::TextArray(groups));
        std::vector<GroupMemberSeqs> out;
        out.reserve(rows.size());
        for (const auto& row : rows) {
          GroupMemberSeqs s;
          s.group_id = row[0].c_str();
          s.group_type = row[1].as<int32_t>();
          s.max_seq = row[2].as<uint64_t>();
          s.join_seq = row[3].as<uint64_t>();
          s.read_seq = row[4].as<uint64_t>();
          int64_t unread = row[5].as<int64_t>();
          s.unread = static_cast<uint32_t>(std::max<int64_t>(0, unread));
          s.msg_flag = row[6].as<int32_t>();
          out.push_back(std::move(s));
        }
        return out;
      });
}

absl::StatusOr<std::vector<GroupMemberSeqs>> GroupMessageStore::TopicSeqs(
    uint64_t sdkappid, const std::string& user, const std::string& community) {
  return pool_->Query<std::vector<GroupMemberSeqs>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<GroupMemberSeqs>> {
        pqxx::read_transaction tx(c);
        auto rows = tx.exec_params(
            "SELECT h.group_id, h.max_seq, COALESCE(r.read_seq, 0),"
            " h.counted - COALESCE(e.counted_at, 0)"
            " FROM group_heads h"
            " LEFT JOIN group_topic_reads r ON r.sdkappid = h.sdkappid AND r.user_id = $2"
            "   AND r.topic_id = h.group_id"
            " LEFT JOIN group_events e ON e.sdkappid = h.sdkappid AND e.group_id = h.group_id"
            "   AND e.seq = r.read_seq"
            " WHERE h.sdkappid = $1 AND h.parent_id = $3 ORDER BY h.group_id",
            sdkappid, user, community);
        std::vector<GroupMemberSeqs> out;
        for (const auto& row : rows) {
          GroupMemberSeqs s;
          s.group_id = row[0].c_str();
          s.group_type = kTypeCommunity;
          s.max_seq = row[1].as<uint64_t>();
          s.read_seq = row[2].as<uint64_t>();
          s.unread = static_cast<uint32_t>(std::max<int64_t>(0, row[3].as<int64_t>()));
          out.push_back(std::move(s));
        }
        return out;
      });
}

absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> GroupMessageStore::TopicHeads(
    uint64_t sdkappid, const std::vector<std::string>& communities) {
  using Out = std::vector<std::pair<std::string, uint64_t>>;
  return pool_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    auto rows = tx.exec_params(
        "SELECT group_id, max_seq FROM group_heads WHERE sdkappid = $1"
        " AND parent_id = ANY($2::text[]) ORDER BY group_id",
        sdkappid, pg::TextArray(communities));
    Out out;
    for (const auto& row : rows) out.emplace_back(row[0].c_str(), row[1].as<uint64_t>());
    return out;
  });
}

absl::StatusOr<uint64_t> GroupMessageStore::MarkTopicRead(uint64_t sdkappid,
                                                          const std::string& user,
                                                          const std::string& topic,
                                                          uint64_t seq) {
  return pool_->Query<uint64_t>([&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "INSERT INTO group_topic_reads (sdkappid, user_id, topic_id, parent_id, read_seq)"
        " SELECT $1, $2, $3, h.parent_id,"
        "   LEAST(CASE WHEN $4 = 0 THEN h.max_seq ELSE $4 END, h.max_seq)"
        " FROM group_heads h WHERE h.sdkappid = $1 AND h.group_id = $3"
        " ON CONFLICT (sdkappid, user_id, topic_id)"
        " DO UPDATE SET read_seq = GREATEST(group_topic_reads.read_seq, EXCLUDED.read_seq)"
        " RETURNING read_seq",
        sdkappid, user, topic, static_cast<int64_t>(seq));
    tx.commit();
    return rows.empty() ? 0 : rows[0][0].as<uint64_t>();
  });
}

absl::StatusOr<uint64_t> GroupMessageStore::MarkRead(uint64_t sdkappid, const std::string& user,
                                                     const std::string& group, uint64_t seq) {
  return pool_->Query<uint64_t>([&](pqxx::connection& c) -> absl::StatusOr<uint64_t> {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "UPDATE group_member_seqs m SET read_seq = GREATEST(m.read_seq,"
        "   LEAST(CASE WHEN $4 = 0 THEN h.max_seq ELSE $4 END, h.max_seq))"
        " FROM group_heads h"
        " WHERE m.sdkappid = $1 AND m.user_id = $2 AND m.group_id = $3"
        "   AND h.sdkappid = m.sdkappid AND h.group_id = m.group_id"
        " RETURNING m.read_seq",
        sdkappid, user, group, static_cast<int64_t>(seq));
    if (rows.empty()) return absl::NotFoundError("not a member");
    tx.commit();
    return rows[0][0].as<uint64_t>();
  });
}

absl::StatusOr<std::optional<GroupEventInfo>> GroupMessageStore::Find(uint64_t sdkappid,
                                                                      const std::string& group,
                                                                      uint64_t seq) {
  return pool_->Query<std::optional<GroupEventInfo>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::optional<GroupEventInfo>> {
        pqxx::read_transaction tx(c);
        auto rows = tx.exec_params(
            "SELECT kind, from_account, msg_time, recalled, deleted, need_receipt FROM group_events"
            " WHERE sdkappid = $1 AND group_id = $2 AND seq = $3",
            sdkappid, group, static_cast<int64_t>(seq));
        if (rows.empty()) return std::optional<GroupEventInfo>();
        GroupEventInfo info;
        info.kind = static_cast<v1::GroupEvent::Kind>(rows[0][0].as<int>());
        info.from = rows[0][1].c_str();
        info.time = rows[0][2].as<int64_t>();
        info.recalled = rows[0][3].as<bool>();
        info.deleted = rows[0][4].as<bool>();
        info.need_receipt = rows[0][5].as<bool>();
        return std::optional<GroupEventInfo>(info);
      });
}

absl::StatusOr<bool> GroupMessageStore::Recall(uint64_t sdkappid, const std::string& group,
                                               uint64_t seq) {
  return pool_->Query<bool>([&](pqxx::connection& c) -> absl::StatusOr<bool> {
    pqxx::work tx(c);
    auto updated = tx.exec_params(
        "UPDATE group_events SET recalled = true"
        " WHERE sdkappid = $1 AND group_id = $2 AND seq = $3 AND kind = 1 AND NOT recalled"
        " AND NOT deleted",
        sdkappid, group, static_cast<int64_t>(seq));
    tx.commit();
    return updated.affected_rows() > 0;
  });
}

absl::StatusOr<std::vector<uint64_t>> GroupMessageStore::RecallBySender(
    uint64_t sdkappid, const std::string& group, const std::string& sender, uint64_t window) {
  return pool_->Query<std::vector<uint64_t>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<uint64_t>> {
        pqxx::work tx(c);
        auto rows = tx.exec_params(
            "UPDATE group_events e SET recalled = true FROM group_heads h"
            " WHERE h.sdkappid = $1 AND h.group_id = $2 AND e.sdkappid = h.sdkappid"
            "   AND e.group_id = h.group_id AND e.seq > h.max_seq - $4 AND e.kind = 1"
            "   AND e.from_account = $3 AND NOT e.recalled AND NOT e.deleted"
            " RETURNING e.seq",
            sdkappid, group, sender, static_cast<int64_t>(window));
        tx.commit();
        std::vector<uint64_t> seqs;
        for (const auto& row : rows) seqs.push_back(row[0].as<uint64_t>());
        std::sort(seqs.begin(), seqs.end());
        return seqs;
      });
}

absl::Status GroupMessageStore::Modify(uint64_t sdkappid, const std::string& group, uint64_t seq,
                                       const std::string& body_json,
                                       const std::optional<std::string>& cloud) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE group_events SET body = $4,"
        " cloud_custom_data = CASE WHEN $5 THEN $6 ELSE cloud_custom_data END"
        " WHERE sdkappid = $1 AND group_id = $2 AND seq = $3 AND kind = 1",
        sdkappid, group, static_cast<int64_t>(seq), body_json, cloud.has_value(),
        cloud.value_or(""));
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status GroupMessageStore::Clear(uint64_t sdkappid, const std::string& group, uint64_t seq) {
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(
        "UPDATE group_events SET deleted = true, body = '[]', cloud_custom_data = ''"
        " WHERE sdkappid = $1 AND group_id = $2 AND ($3 = 0 OR seq <= $3) AND NOT deleted",
        sdkappid, group, static_cast<int64_t>(seq));
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status GroupMessageStore::SetUnread(uint64_t sdkappid, const std::string& group,
                                          const std::string& user, uint32_t unread) {
  return pool_->Run([&](pqxx::connection& c) -> absl::Status {
    pqxx::work tx(c);
    // The newest seq with `unread` counted messages after it.
    auto rows = tx.exec_params(
        "UPDATE group_member_seqs m SET read_seq = COALESCE("
        "   (SELECT max(e.seq) FROM group_events e"
        "     WHERE e.sdkappid = m.sdkappid AND e.group_id = m.group_id"
        "       AND e.counted_at <= h.counted - $4), 0)"
        " FROM group_heads h"
        " WHERE m.sdkappid = $1 AND m.group_id = $2 AND m.user_id = $3"
        "   AND h.sdkappid = m.sdkappid AND h.group_id = m.group_id"
        " RETURNING m.read_seq",
        sdkappid, group, user, static_cast<int64_t>(unread));
    if (rows.empty()) return absl::NotFoundError("not a member");
    tx.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> GroupMessageStore::AddReceipts(
    uint64_t sdkappid, const std::string& group, const std::string& reader,
    const std::vector<uint64_t>& seqs, int64_t now) {
  using Out = std::vector<std::pair<uint64_t, std::string>>;
  return pool_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::work tx(c);
    std::vector<int64_t> wanted(seqs.begin(), seqs.end());
    auto rows = tx.exec_params(
        "WITH added AS ("
        "  INSERT INTO group_receipts (sdkappid, group_id, seq, user_id, read_time)"
        "  SELECT e.sdkappid, e.group_id, e.seq, $3, $5 FROM group_events e"
        "   WHERE e.sdkappid = $1 AND e.group_id = $2 AND e.seq = ANY($4::bigint[])"
        "     AND e.kind = 1 AND e.need_receipt AND e.from_account <> $3"
        "     AND NOT e.recalled AND NOT e.deleted"
        "  ON CONFLICT DO NOTHING RETURNING seq)"
        " SELECT a.seq, e.from_account FROM added a JOIN group_events e"
        "   ON e.sdkappid = $1 AND e.group_id = $2 AND e.seq = a.seq ORDER BY a.seq",
        sdkappid, group, reader, pg::IntArray(wanted), now);
    tx.commit();
    Out out;
    for (const auto& row : rows) out.push_back({row[0].as<uint64_t>(), row[1].c_str()});
    return out;
  });
}

absl::StatusOr<std::vector<GroupMessageStore::ReceiptCount>> GroupMessageStore::ReceiptCounts(
    uint64_t sdkappid, const std::string& group, const std::vector<uint64_t>& seqs) {
  using Out = std::vector<ReceiptCount>;
  return pool_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    std::vector<int64_t> wanted(seqs.begin(), seqs.end());
    // One statement for every seq asked (at most 100): read counts from the
    // receipts, members who could read it from their join seqs.
    auto rows = tx.exec_params(
        "SELECT e.seq,"
        " (SELECT count(*) FROM group_receipts r WHERE r.sdkappid = e.sdkappid"
        "    AND r.group_id = e.group_id AND r.seq = e.seq),"
        " (SELECT count(*) FROM group_member_seqs m WHERE m.sdkappid = e.sdkappid"
        "    AND m.group_id = e.group_id AND m.join_seq < e.seq AND m.user_id <> e.from_account)"
        " FROM group_events e WHERE e.sdkappid = $1 AND e.group_id = $2"
        "   AND e.seq = ANY($3::bigint[]) AND e.kind = 1 AND e.need_receipt AND NOT e.deleted",
        sdkappid, group, pg::IntArray(wanted));
    std::map<uint64_t, std::pair<uint32_t, uint32_t>> found;  // seq -> read, members
    for (const auto& row : rows) {
      found[row[0].as<uint64_t>()] = {row[1].as<uint32_t>(), row[2].as<uint32_t>()};
    }
    Out out;
    for (uint64_t seq : seqs) {
      ReceiptCount count;
      count.seq = seq;
      if (auto it = found.find(seq); it != found.end()) {
        count.found = true;
        count.read = it->second.first;
        uint32_t members = it->second.second;
        count.unread = members > count.read ? members - count.read : 0;
      }
      out.push_back(count);
    }
    return out;
  });
}

absl::StatusOr<std::vector<std::string>> GroupMessageStore::ReceiptAccounts(
    uint64_t sdkappid, const std::string& group, uint64_t seq, bool read, const std::string& after,
    uint32_t limit) {
  using Out = std::vector<std::string>;
  return pool_->Query<Out>([&](pqxx::connection& c) -> absl::StatusOr<Out> {
    pqxx::read_transaction tx(c);
    pqxx::result rows;
    if (read) {
      rows = tx.exec_params(
          "SELECT user_id FROM group_receipts WHERE sdkappid = $1 AND group_id = $2 AND seq = $3"
          "   AND user_id > $4 ORDER BY user_id LIMIT $5",
          sdkappid, group, static_cast<int64_t>(seq), after, static_cast<int64_t>(limit));
    } else {
      rows = tx.exec_params(
          "SELECT m.user_id FROM group_member_seqs m"
          " JOIN group_events e ON e.sdkappid = m.sdkappid AND e.group_id = m.group_id"
          "   AND e.seq = $3"
          " WHERE m.sdkappid = $1 AND m.group_id = $2 AND m.join_seq < $3"
          "   AND m.user_id <> e.from_account AND m.user_id > $4"
          "   AND NOT EXISTS (SELECT 1 FROM group_receipts r WHERE r.sdkappid = m.sdkappid"
          "     AND r.group_id = m.group_id AND r.seq = $3 AND r.user_id = m.user_id)"
          " ORDER BY m.user_id LIMIT $5",
          sdkappid, group, static_cast<int64_t>(seq), after, static_cast<int64_t>(limit));
    }
    Out out;
    for (const auto& row : rows) out.push_back(row[0].c_str());
    return out;
  });
}

absl::Status GroupMessageStore::HideConversation(uint64_t sdkappid, const std::string& user,
                                                 const std::string& group) {
  return pool_->Run([&](pqxx::connection& c) -> absl::Status {
    pqxx::work tx(c);
    auto rows = tx.exec_params(
        "UPDATE group_member_seqs m SET hidden_seq = h.last_conversation_seq FROM group_heads h"
        " WHERE m.sdkappid = $1 AND m.user_id = $2 AND m.group_id = $3"
        "   AND h.sdkappid = m.sdkappid AND h.group_id = m.group_id RETURNING 1",
        sdkappid, user, group);
    if (rows.empty()) return absl::NotFoundError("not a member");
    tx.commit();
    return absl::OkStatus();
  });
}

absl::Status GroupMessageStore::PinConversation(uint64_t sdkappid, const std::string& user,
                                                const std::string& group, bool pinned,
                                                int max_pinned) {
  return pool_->Run([&](pqxx::connection& c) -> absl::Status {
    pqxx::work tx(c);
    if (pinned) {
      if (auto st = LockPinsUnderCap(tx, sdkappid, user, "", group, max_pinned); !st.ok()) {
        return st;
      }
    }
    auto rows = tx.exec_params(
        "UPDATE group_member_seqs SET pinned = $4"
        " WHERE sdkappid = $1 AND user_id = $2 AND group_id = $3 RETURNING 1",
        sdkappid, user, group, pinned);
    if (rows.empty()) return absl::NotFoundError("not a member");
    tx.commit();
    return absl::OkStatus();
  });
}

}  // namespace parley::message
