// PostgreSQL storage of C2C messages, timelines and conversations. Sends are
// written many per transaction with set-based statements (send_sql.h), with
// parley_c2c_send() (migrations/0001_c2c.sql) for retries. Thread-safe.
#pragma once

#include <cstdint>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"
#include "no_speaking.h"
#include "parley/delivery/deliverer.h"
#include "parley/v1/message.pb.h"
#include "parley/v1/push.pb.h"

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
  // The recipient's receive option for the sender (do not disturb) holds for
  // its offline push: client sends, and REST sends with SendMsgControl
  // WithMuteNotifications.
  bool honor_receive_opt = true;
  // After-send callbacks the app wants for this message: recorded in the
  // transaction that stores it (the outbox), unless it is a duplicate.
  std::vector<std::string> after_commands;
  std::string opt_platform;  // of the sender, for those callbacks
  std::string client_ip;
  // The event sessions get, with no seq or key yet: set, the stored message
  // is handed off to push durably (handoff.h). Imports leave it unset.
  std::optional<v1::TimelineEvent> event;
};

struct SendResult {
  bool duplicate = false;
  std::string msg_key;
  uint32_t msg_seq = 0;
  int64_t msg_time = 0;
  uint64_t sender_seq = 0;
  uint64_t receiver_seq = 0;
  // The outbox rows of the job's after_commands, in order (none for a duplicate).
  std::vector<int64_t> owed_callback_ids;
  // What push gets (none for a duplicate), counted against the ticket of the
  // batch's delivery_outbox row.
  std::vector<v1::Delivery> deliveries;
  std::shared_ptr<delivery::Ticket> ticket;
};

// An after-send callback in the outbox whose process did not report it
// queued in time: its row and, when the message is still stored, the message.
struct OwedCallback {
  int64_t id = 0;
  std::string command;
  bool message_found = false;
  SendJob job;  // sdkappid, from, to, random, body_json, cloud_custom_data, platform, ip
  std::string msg_key;
  uint32_t msg_seq = 0;
  int64_t msg_time = 0;
};

// A stored message, as recall and edit need it.
struct StoredMessage {
  std::string from;
  std::string to;
  int64_t time = 0;
  bool recalled = false;
};

// What a recall or edit appended: the event seqs in both timelines.
struct ChangeSeqs {
  uint64_t from_seq = 0;
  uint64_t to_seq = 0;
  int64_t time = 0;
};

class MessageStore {
 public:
  explicit MessageStore(pg::Pool* pool) : pool_(pool) {}

  // Global mutes (migrations/0008): sets the kinds given (0 lifts), reads
  // both (no row: not muted).
  absl::Status SetNoSpeaking(uint64_t sdkappid, const std::string& user,
                             std::optional<int64_t> c2c_until, std::optional<int64_t> group_until);
  absl::StatusOr<NoSpeaking> GetNoSpeaking(uint64_t sdkappid, const std::string& user);

  // Persists every job in one transaction (one commit for all). If that
  // transaction fails, each job is retried alone so one bad message can't
  // fail the others. The result vector matches `jobs`.
  std::vector<absl::StatusOr<SendResult>> SendBatch(const std::vector<SendJob>& jobs);

  // Outbox rows due now (their process died, or never reported the event
  // queued), at most `limit`, each leased to the caller for `lease` so other
  // replicas leave it alone meanwhile.
  absl::StatusOr<std::vector<OwedCallback>> LeaseOwedCallbacks(size_t limit,
                                                               std::chrono::seconds lease);
  // Each (app, user)'s unread C2C messages in total, in order, in one statement.
  absl::StatusOr<std::vector<uint32_t>> UnreadTotals(
      const std::vector<std::pair<uint64_t, std::string>>& users);
  // Each user's unread C2C messages plus unread messages of their groups
  // with MsgFlag AcceptAndNotify, in order, in one statement.
  absl::StatusOr<std::vector<uint32_t>> BadgeTotals(uint64_t sdkappid,
                                                    const std::vector<std::string>& users);
  // Deletes outbox rows whose events are queued (or no longer wanted).
  absl::Status SettleOwedCallbacks(const std::vector<int64_t>& ids);

  // The user's timeline after `after_seq`, at most `limit` events, in order:
  // TimelineHeads, then SyncUpTo.
  absl::StatusOr<v1::SyncResponse> Sync(uint64_t sdkappid, const std::string& user_id,
                                        uint64_t after_seq, uint32_t limit);
  // The same when the user's head is known (`max_seq`, from TimelineHeads):
  // one statement, and none at all when after_seq is at the head already.
  // Events up to a head read earlier are committed, so no transaction spans
  // the two reads.
  absl::StatusOr<v1::SyncResponse> SyncUpTo(uint64_t sdkappid, const std::string& user_id,
                                            uint64_t after_seq, uint64_t max_seq,
                                            uint32_t limit);

  // The latest timeline seq of each (app, user) (0 for an empty timeline), in
  // order, in one statement.
  absl::StatusOr<std::vector<uint64_t>> TimelineHeads(
      const std::vector<std::pair<uint64_t, std::string>>& users);

  // The message (a, b in either order) or nullopt.
  absl::StatusOr<std::optional<StoredMessage>> FindMessage(uint64_t sdkappid,
                                                           const std::string& user_a,
                                                           const std::string& user_b,
                                                           const std::string& msg_key);
  // Marks the message recalled, takes it out of the receiver's unread count
  // and appends a recall event to both timelines.
  absl::StatusOr<ChangeSeqs> Recall(uint64_t sdkappid, const StoredMessage& message,
                                    const std::string& msg_key, int64_t now);
  // Replaces body (and cloud data when given); appends edit events.
  absl::StatusOr<ChangeSeqs> Modify(uint64_t sdkappid, const StoredMessage& message,
                                    const std::string& msg_key, const std::string& body_json,
                                    const std::optional<std::string>& cloud_custom_data,
                                    int64_t now);
  // Hides messages from `owner`'s history; returns the keys that matched nothing.
  absl::StatusOr<std::vector<std::string>> DeleteForOwner(uint64_t sdkappid,
                                                          const std::string& owner,
                                                          const std::string& peer,
                                                          const std::vector<std::string>& keys);
  // Marks owner's conversation with peer read up to read_time, recounts its
  // unread messages and appends a read receipt to the peer's timeline.
  // Returns the receipt's seq.
  // Records the read mark; returns the seqs of the peer's receipt and of the
  // reader's own read event (for the reader's other devices).
  absl::StatusOr<std::pair<uint64_t, uint64_t>> MarkRead(uint64_t sdkappid, const std::string& owner,
                                    const std::string& peer, int64_t read_time);
  // Unread counts of owner's conversations (all when peers is empty).
  absl::StatusOr<std::vector<std::pair<std::string, uint32_t>>> Unread(
      uint64_t sdkappid, const std::string& owner, const std::vector<std::string>& peers);
  // owner's history with peer, newest first, within [min_time, max_time],
  // continuing before `last_msg_key` when given. Fetches max_cnt + 1 rows so
  // the caller knows whether more remain.
  absl::StatusOr<std::vector<v1::RoamMessage>> Roam(uint64_t sdkappid, const std::string& owner,
                                                    const std::string& peer, uint32_t max_cnt,
                                                    int64_t min_time, int64_t max_time,
                                                    const std::string& last_msg_key);
  // Imports a message unless one with its key exists; true when it existed.
  absl::StatusOr<bool> Import(const SendJob& job);
  // owner's conversations, pinned first then newest, from `offset`.
  absl::StatusOr<std::vector<v1::SessionItem>> Conversations(uint64_t sdkappid,
                                                             const std::string& owner,
                                                             uint32_t offset, uint32_t limit);
  // Pins (at most `max_pinned` per owner: FAILED_PRECONDITION beyond) or
  // unpins owner's conversation with peer, creating it if needed.
  absl::Status PinConversation(uint64_t sdkappid, const std::string& owner,
                               const std::string& peer, bool pinned, int max_pinned);
  absl::Status DeleteConversation(uint64_t sdkappid, const std::string& owner,
                                  const std::string& peer, bool clear_history);

  // Forgets dedup records older than the dedup window (run periodically).
  absl::StatusOr<int64_t> DeleteExpiredDedup();

 private:
  pg::Pool* pool_;
};

// The pin cap, one-to-one and group conversations together: locks `owner`'s
// pins for the transaction (so the cap holds under concurrency) and fails
// with FAILED_PRECONDITION when `max_pinned` others are pinned already. The
// conversation being pinned (`peer` or `group`; the other empty) is not
// counted.
absl::Status LockPinsUnderCap(pqxx::work& tx, uint64_t sdkappid, const std::string& owner,
                              const std::string& peer, const std::string& group, int max_pinned);

}  // namespace parley::message
