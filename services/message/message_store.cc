#include "message_store.h"

#include <google/protobuf/util/json_util.h>

#include "parley/log/log.h"

namespace parley::message {
namespace {

constexpr char kSendSql[] =
    "SELECT duplicate, msg_key, msg_seq, msg_time, sender_seq, receiver_seq FROM parley_c2c_send("
    "$1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, NULLIF($10, '')::jsonb, $11, $12, $13, $14)";

SendResult RunOne(pqxx::work& tx, const SendJob& job) {
  auto row = tx.exec_params1(kSendSql, job.sdkappid, job.from, job.to, job.dedup_key,
                             static_cast<int64_t>(job.msg_seq), static_cast<int64_t>(job.random),
                             job.time, job.body_json, job.cloud_custom_data, job.offline_push_json,
                             job.client_msg_id, job.store_for_sender, job.count_unread,
                             job.update_last_message);
  SendResult result;
  result.duplicate = row[0].as<bool>();
  result.msg_key = row[1].as<std::string>();
  result.msg_seq = static_cast<uint32_t>(row[2].as<int64_t>());
  result.msg_time = row[3].as<int64_t>();
  result.sender_seq = row[4].as<uint64_t>();
  result.receiver_seq = row[5].as<uint64_t>();
  return result;
}

}  // namespace

std::vector<absl::StatusOr<SendResult>> MessageStore::SendBatch(const std::vector<SendJob>& jobs) {
  std::vector<absl::StatusOr<SendResult>> results;
  absl::Status batch = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& job : jobs) results.push_back(RunOne(tx, job));
    tx.commit();
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
          SendResult r = RunOne(tx, job);
          tx.commit();
          return r;
        });
    results.push_back(std::move(one));
  }
  return results;
}

absl::StatusOr<v1::SyncResponse> MessageStore::Sync(uint64_t sdkappid, const std::string& user_id,
                                                    uint64_t after_seq, uint32_t limit) {
  return pool_->Query<v1::SyncResponse>([&](pqxx::connection& c)
                                            -> absl::StatusOr<v1::SyncResponse> {
    pqxx::work tx(c, "sync");
    v1::SyncResponse response;
    auto head = tx.exec_params(
        "SELECT last_seq FROM timeline_heads WHERE sdkappid = $1 AND user_id = $2", sdkappid,
        user_id);
    uint64_t max_seq = head.empty() ? 0 : head[0][0].as<uint64_t>();
    response.set_max_seq(max_seq);
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
    google::protobuf::util::JsonParseOptions options;
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
        (void)google::protobuf::util::JsonStringToMessage(row[11].as<std::string>(),
                                                          m->mutable_msg_body(), options);
        m->set_cloud_custom_data(row[12].as<std::string>());
        m->set_msg_flag_bits(row[13].as<bool>() ? 8 : 0);
        m->set_client_msg_id(row[14].as<std::string>());
      }
    }
    uint64_t last = response.events_size() ? response.events(response.events_size() - 1).seq()
                                           : after_seq;
    response.set_complete(last >= max_seq);
    tx.commit();
    return response;
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

}  // namespace parley::message
