#include "group_msg_store.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "parley/protojson/protojson.h"

namespace parley::message {
namespace {

// The columns GroupEventFromRow reads, in its order.
constexpr char kEventColumns[] =
    "seq, kind, from_account, random, msg_time, priority, body, cloud_custom_data, at_info,"
    " to_accounts, need_receipt, client_msg_id, recalled";

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
  std::vector<std::string> targets;
  if (!row[9].is_null()) {
    auto array = row[9].as_array();
    for (auto item = array.get_next(); item.first != pqxx::array_parser::juncture::done;
         item = array.get_next()) {
      if (item.first == pqxx::array_parser::juncture::string_value) {
        targets.push_back(item.second);
      }
    }
  }
  bool hidden = !reader.empty() && !targets.empty() && m->from_account() != reader &&
                std::find(targets.begin(), targets.end(), reader) == targets.end();
  if (hidden) {
    // A targeted message for others: the seq is there, its content is not.
    m->set_is_place_msg(1);
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
    for (size_t i : order) results[i] = AppendIn(tx, events[i]);
    tx.commit();
    return absl::OkStatus();
  });
  if (batch.ok() || events.size() == 1) {
    if (!batch.ok()) results[0] = batch;
    return results;
  }
  for (size_t i : order) results[i] = Append(events[i]);
  return results;
}

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
    }
    tx.commit();
    return result;
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
            "SELECT kind, from_account, msg_time, recalled FROM group_events"
            " WHERE sdkappid = $1 AND group_id = $2 AND seq = $3",
            sdkappid, group, static_cast<int64_t>(seq));
        if (rows.empty()) return std::optional<GroupEventInfo>();
        GroupEventInfo info;
        info.kind = static_cast<v1::GroupEvent::Kind>(rows[0][0].as<int>());
        info.from = rows[0][1].c_str();
        info.time = rows[0][2].as<int64_t>();
        info.recalled = rows[0][3].as<bool>();
        return std::optional<GroupEventInfo>(info);
      });
}

absl::StatusOr<bool> GroupMessageStore::Recall(uint64_t sdkappid, const std::string& group,
                                               uint64_t seq) {
  return pool_->Query<bool>([&](pqxx::connection& c) -> absl::StatusOr<bool> {
    pqxx::work tx(c);
    auto updated = tx.exec_params(
        "UPDATE group_events SET recalled = true"
        " WHERE sdkappid = $1 AND group_id = $2 AND seq = $3 AND kind = 1 AND NOT recalled",
        sdkappid, group, static_cast<int64_t>(seq));
    tx.commit();
    return updated.affected_rows() > 0;
  });
}

}  // namespace parley::message
