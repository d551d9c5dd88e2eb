// PostgreSQL storage of group messages and tips (migrations/0005): one
// gapless seq per group, each event stored once, and each member's join and
// read seqs. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"
#include "parley/delivery/deliverer.h"
#include "parley/v1/group_message.pb.h"
#include "parley/v1/push.pb.h"

namespace parley::message {

// One event to append to a group's seq.
struct GroupAppend {
  uint64_t sdkappid = 0;
  std::string group_id;
  int32_t group_type = 0;  // 0: unknown (keep what the head has)
  v1::GroupEvent::Kind kind = v1::GroupEvent::KIND_MESSAGE;
  std::string from;
  uint32_t random = 0;
  int64_t time = 0;
  std::string priority;
  std::string body_json;  // MsgBody, or the tip as JSON
  std::string cloud_custom_data;
  std::string offline_push_json;  // empty: none
  std::string at_info_json;       // empty: none
  std::vector<std::string> to_accounts;  // empty: every member
  bool need_receipt = false;
  bool counts_unread = true;
  bool updates_conversation = true;  // not SendMsgControl NoLastMsg
  std::string client_msg_id;
  bool dedup = false;  // look for an earlier copy (sends)
  // Tips: membership changes applied in the same transaction.
  std::vector<std::string> joined;
  int32_t joined_flag = 0;  // their MsgFlag
  std::vector<std::string> left;
  bool dismissed = false;
  // A community's TopicDestroyed tip: the topic whose events go with it.
  std::string destroyed_topic;
  // A member's new MsgFlag (MsgFlagChanged tips): user, flag.
  std::optional<std::pair<std::string, int32_t>> flag_change;
  // A message's event, with no seq or key yet: set, the stored message is
  // handed off to push durably (handoff.h).
  std::optional<v1::GroupEvent> event;
};

struct GroupAppendResult {
  uint64_t seq = 0;
  int64_t time = 0;
  bool duplicate = false;
  // What push gets (none for a duplicate or without an event), counted
  // against the ticket of the batch's delivery_outbox row.
  std::optional<v1::GroupDelivery> delivery;
  std::shared_ptr<delivery::Ticket> ticket;
};

// A member's standing in one group.
struct GroupMemberSeqs {
  std::string group_id;
  int32_t group_type = 0;
  uint64_t max_seq = 0;
  uint64_t join_seq = 0;
  uint64_t read_seq = 0;
  uint32_t unread = 0;
  int32_t msg_flag = 0;
};

// What recall needs of a stored event.
struct GroupEventInfo {
  v1::GroupEvent::Kind kind = v1::GroupEvent::KIND_UNSPECIFIED;
  std::string from;
  int64_t time = 0;
  bool recalled = false;
  bool deleted = false;
  bool need_receipt = false;
};

class GroupMessageStore {
 public:
  explicit GroupMessageStore(pg::Pool* pool) : pool_(pool) {}

  absl::StatusOr<GroupAppendResult> Append(const GroupAppend& event);
  // Appends messages (not tips) of any groups in one transaction and a
  // fixed number of statements: one commit and a few round trips for all.
  // Each group's head is locked in group order (a stable sort keeps each
  // group's messages in the order given), so concurrent batches on any
  // number of replicas queue instead of deadlocking. If the transaction
  // fails, each message is tried alone. Results match `events`.
  std::vector<absl::StatusOr<GroupAppendResult>> AppendMany(
      const std::vector<GroupAppend>& events);

  // Events of the group with seq in [from_seq, to_seq], ascending, at most
  // `limit`. For `reader` (empty: an app admin, who sees everything), a
  // targeted message for others comes back as a placeholder.
  absl::StatusOr<std::vector<v1::GroupEvent>> Range(uint64_t sdkappid, const std::string& group,
                                                    uint64_t from_seq, uint64_t to_seq,
                                                    uint32_t limit, const std::string& reader);
  // For each (group, from_seq): the group's events from that seq on,
  // ascending, at most `limit` per group, for `reader` (as Range). One
  // statement for all the groups.
  absl::StatusOr<std::map<std::string, std::vector<v1::GroupEvent>>> Ranges(
      uint64_t sdkappid, const std::vector<std::pair<std::string, uint64_t>>& from,
      uint32_t limit, const std::string& reader);
  // The group's latest seq and type (0, 0 when it has no events).
  absl::StatusOr<std::pair<uint64_t, int32_t>> Head(uint64_t sdkappid, const std::string& group);

  // The user's standing in the given groups (all their groups when empty).
  absl::StatusOr<std::vector<GroupMemberSeqs>> MemberSeqs(uint64_t sdkappid,
                                                          const std::string& user,
                                                          const std::vector<std::string>& groups);
  // Community topics: each topic of `community` with events, with the
  // user's read seq and unread count (group_id is the topic's ID).
  absl::StatusOr<std::vector<GroupMemberSeqs>> TopicSeqs(uint64_t sdkappid,
                                                         const std::string& user,
                                                         const std::string& community);
  // Every topic with events of the communities: (topic ID, latest seq).
  absl::StatusOr<std::vector<std::pair<std::string, uint64_t>>> TopicHeads(
      uint64_t sdkappid, const std::vector<std::string>& communities);
  // MarkRead for a topic (the caller checked membership); 0 when the topic
  // has no events yet.
  absl::StatusOr<uint64_t> MarkTopicRead(uint64_t sdkappid, const std::string& user,
                                         const std::string& topic, uint64_t seq);
  // Moves the user's read seq forward to `seq` (never back, never past the
  // head); returns the read seq now. NOT_FOUND when the user has no standing.
  absl::StatusOr<uint64_t> MarkRead(uint64_t sdkappid, const std::string& user,
                                    const std::string& group, uint64_t seq);

  absl::StatusOr<std::optional<GroupEventInfo>> Find(uint64_t sdkappid, const std::string& group,
                                                     uint64_t seq);
  // Marks the message recalled; false when it was already.
  absl::StatusOr<bool> Recall(uint64_t sdkappid, const std::string& group, uint64_t seq);
  // Recalls `sender`'s messages among the group's last `window` seqs;
  // returns their seqs.
  absl::StatusOr<std::vector<uint64_t>> RecallBySender(uint64_t sdkappid, const std::string& group,
                                                       const std::string& sender, uint64_t window);
  // Replaces a message's body (and cloud data when given).
  absl::Status Modify(uint64_t sdkappid, const std::string& group, uint64_t seq,
                      const std::string& body_json, const std::optional<std::string>& cloud);
  // Deletes history up to `seq` (0: all); deleted seqs read as placeholders.
  absl::Status Clear(uint64_t sdkappid, const std::string& group, uint64_t seq);
  // Sets the member's read seq so that `unread` messages are unread.
  // NOT_FOUND when the user has no standing in the group.
  absl::Status SetUnread(uint64_t sdkappid, const std::string& group, const std::string& user,
                         uint32_t unread);

  // Group conversations: hides the user's conversation of the group until
  // its next message, or pins / unpins it (NOT_FOUND without standing).
  absl::Status HideConversation(uint64_t sdkappid, const std::string& user,
                                const std::string& group);
  // Pinning fails (FAILED_PRECONDITION) beyond `max_pinned` pinned
  // conversations of both kinds.
  absl::Status PinConversation(uint64_t sdkappid, const std::string& user,
                               const std::string& group, bool pinned, int max_pinned);

  // Read receipts. Records that `reader` read `seqs` (messages that asked
  // for a receipt, not the reader's own); returns those newly recorded with
  // their senders.
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> AddReceipts(
      uint64_t sdkappid, const std::string& group, const std::string& reader,
      const std::vector<uint64_t>& seqs, int64_t now);
  struct ReceiptCount {
    uint64_t seq = 0;
    bool found = false;  // a message that asked for a receipt
    uint32_t read = 0;
    uint32_t unread = 0;  // members since before it, not its sender, who have not read it
  };
  absl::StatusOr<std::vector<ReceiptCount>> ReceiptCounts(uint64_t sdkappid,
                                                          const std::string& group,
                                                          const std::vector<uint64_t>& seqs);
  // Readers (read = true) or non-readers of one message, by account, after
  // `after` (empty: from the start), at most `limit`.
  absl::StatusOr<std::vector<std::string>> ReceiptAccounts(uint64_t sdkappid,
                                                           const std::string& group, uint64_t seq,
                                                           bool read, const std::string& after,
                                                           uint32_t limit);

 private:
  pg::Pool* pool_;
};

// A stored row as an event (also used for placeholders).
v1::GroupEvent GroupEventFromRow(const pqxx::row& row, const std::string& group,
                                 const std::string& reader);

}  // namespace parley::message
