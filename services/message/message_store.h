// PostgreSQL storage of C2C messages, timelines and conversations. Sends go
// through parley_c2c_send() (migrations/0001_c2c.sql): one statement per
// message, many messages per transaction. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"
#include "parley/v1/message.pb.h"

namespace parley::message {

// One message to persist.
struct SendJob {
  uint64_t sdkappid = 0;
  std::string from;
  std::string to;
  std::string dedup_key;  // empty: no dedup
  uint32_t msg_seq = 0;   // 0: next seq of the conversation
  uint32_t random = 0;
  int64_t time = 0;
  std::string body_json;  // MsgBody as a JSON array
  std::string cloud_custom_data;
  std::string offline_push_json;  // empty: none
  std::string client_msg_id;
  bool store_for_sender = true;  // SyncOtherMachine != 2
  bool count_unread = true;      // not SendMsgControl NoUnread
  bool update_last_message = true;  // not SendMsgControl NoLastMsg
};

struct SendResult {
  bool duplicate = false;
  std::string msg_key;
  uint32_t msg_seq = 0;
  int64_t msg_time = 0;
  uint64_t sender_seq = 0;
  uint64_t receiver_seq = 0;
};

class MessageStore {
 public:
  explicit MessageStore(pg::Pool* pool) : pool_(pool) {}

  // Persists every job in one transaction (one commit for all). If that
  // transaction fails, each job is retried alone so one bad message can't
  // fail the others. The result vector matches `jobs`.
  std::vector<absl::StatusOr<SendResult>> SendBatch(const std::vector<SendJob>& jobs);

  // The user's timeline after `after_seq`, at most `limit` events, in order.
  absl::StatusOr<v1::SyncResponse> Sync(uint64_t sdkappid, const std::string& user_id,
                                        uint64_t after_seq, uint32_t limit);

  // Forgets dedup records older than the dedup window (run periodically).
  absl::StatusOr<int64_t> DeleteExpiredDedup();

 private:
  pg::Pool* pool_;
};

}  // namespace parley::message
