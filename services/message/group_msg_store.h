// PostgreSQL storage of group messages and tips (migrations/0005): one
// gapless seq per group, each event stored once, and each member's join and
// read seqs. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "parley/pg/pool.h"
#include "parley/v1/group_message.pb.h"

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
  std::string client_msg_id;
  bool dedup = false;  // look for an earlier copy (sends)
  // Tips: membership changes applied in the same transaction.
  std::vector<std::string> joined;
  int32_t joined_flag = 0;  // their MsgFlag
  std::vector<std::string> left;
  bool dismissed = false;
  // A member's new MsgFlag (MsgFlagChanged tips): user, flag.
  std::optional<std::pair<std::string, int32_t>> flag_change;
};

struct GroupAppendResult {
  uint64_t seq = 0;
  int64_t time = 0;
  bool duplicate = false;
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
};

class GroupMessageStore {
 public:
  explicit GroupMessageStore(pg::Pool* pool) : pool_(pool) {}

  absl::StatusOr<GroupAppendResult> Append(const GroupAppend& event);
  // Appends messages (not tips) of any groups in one transaction: one
  // commit for all. Each group's head is locked in group order (a stable
  // sort keeps each group's messages in the order given), so concurrent
  // batches on any number of replicas queue instead of deadlocking. If the
  // transaction fails, each message is tried alone. Results match `events`.
  std::vector<absl::StatusOr<GroupAppendResult>> AppendMany(
      const std::vector<GroupAppend>& events);

  // Events of the group with seq in [from_seq, to_seq], ascending, at most
  // `limit`. For `reader` (empty: an app admin, who sees everything), a
  // targeted message for others comes back as a placeholder.
  absl::StatusOr<std::vector<v1::GroupEvent>> Range(uint64_t sdkappid, const std::string& group,
                                                    uint64_t from_seq, uint64_t to_seq,
                                                    uint32_t limit, const std::string& reader);
  // The group's latest seq and type (0, 0 when it has no events).
  absl::StatusOr<std::pair<uint64_t, int32_t>> Head(uint64_t sdkappid, const std::string& group);

  // The user's standing in the given groups (all their groups when empty).
  absl::StatusOr<std::vector<GroupMemberSeqs>> MemberSeqs(uint64_t sdkappid,
                                                          const std::string& user,
                                                          const std::vector<std::string>& groups);
  // Moves the user's read seq forward to `seq` (never back, never past the
  // head); returns the read seq now. NOT_FOUND when the user has no standing.
  absl::StatusOr<uint64_t> MarkRead(uint64_t sdkappid, const std::string& user,
                                    const std::string& group, uint64_t seq);

  absl::StatusOr<std::optional<GroupEventInfo>> Find(uint64_t sdkappid, const std::string& group,
                                                     uint64_t seq);
  // Marks the message recalled; false when it was already.
  absl::StatusOr<bool> Recall(uint64_t sdkappid, const std::string& group, uint64_t seq);

 private:
  pg::Pool* pool_;
};

// A stored row as an event (also used for placeholders).
v1::GroupEvent GroupEventFromRow(const pqxx::row& row, const std::string& group,
                                 const std::string& reader);

}  // namespace parley::message
