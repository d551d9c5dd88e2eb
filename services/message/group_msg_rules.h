// Rules of group messages as pure functions (compat reference §3.7, §5):
// what a send may carry, who may recall what, and what a member may read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "parley/v1/group.pb.h"
#include "parley/v1/group_message.pb.h"

namespace parley::message {

// Group error codes (Tencent 10xxx).
inline constexpr int32_t kGroupInternal = 10002;
inline constexpr int32_t kGroupInvalidParam = 10004;
inline constexpr int32_t kGroupNoPermission = 10007;
inline constexpr int32_t kGroupNotFound = 10010;
inline constexpr int32_t kGroupInvalidId = 10015;
inline constexpr int32_t kGroupRefusedByCallback = 10016;
inline constexpr int32_t kGroupAccountMissing = 10019;  // the account does not exist
inline constexpr int32_t kGroupSenderMuted = 10017;
inline constexpr int32_t kGroupRecallNotFound = 10030;
inline constexpr int32_t kGroupRecallTooLate = 10031;
inline constexpr int32_t kGroupNotRecallable = 10032;
inline constexpr int32_t kGroupTooManyAts = 10053;
inline constexpr int32_t kGroupTypeNoRecall = 10033;   // the group type can't recall
inline constexpr int32_t kGroupRoomNoDelete = 10035;   // AVChatRoom messages can't be deleted
inline constexpr int32_t kGroupNoRoaming = 10044;      // the group type keeps no history
inline constexpr int32_t kBodyTooLong = 80002;
inline constexpr int32_t kGroupInvalidTopic = 110013;  // not a topic of the group

// group_rules.h's values, as the group service sends them.
inline constexpr int32_t kTypeWork = 1;
inline constexpr int32_t kTypePublic = 2;
inline constexpr int32_t kTypeMeeting = 3;
inline constexpr int32_t kTypeCommunity = 4;
inline constexpr int32_t kTypeRoom = 5;  // AVChatRoom
inline constexpr int32_t kRoleMember = 0;
inline constexpr int32_t kRoleAdmin = 1;
inline constexpr int32_t kRoleOwner = 2;
inline constexpr int32_t kFlagDiscard = 2;

inline constexpr size_t kMaxGroupAts = 30;
inline constexpr size_t kMaxTargets = 100;  // To_Account of a targeted message
inline constexpr int64_t kMemberRecallSeconds = 120;
inline constexpr uint32_t kMaxHistoryPage = 20;   // group_msg_get_simple
inline constexpr uint32_t kMaxRangePage = 200;    // GetGroupRange

// Checks what a send carries besides MsgBody: MsgPriority, GroupAtInfo (at
// most 30 accounts: 10053), To_Account, SendMsgControl and
// ForbidCallbackControl values. 10004 otherwise.
absl::Status CheckGroupSend(const v1::SendGroupRequest& request);

// A message body: ValidateMsgBody's verdict with the group codes (80002 too
// long, 10004 anything else).
absl::Status CheckGroupBody(const google::protobuf::ListValue& body, const std::string& body_json,
                            const std::string& cloud_custom_data);

// With a Community's permission groups on, a sender other than the owner
// needs the send bit: in a topic the topic's (8), else the community's (64).
// 10007 otherwise.
absl::Status PermissionToSend(const v1::MemberContext& context);

// Whether a sender is silenced: muted until after `now`, or every member
// muted and the sender neither owner nor admin.
bool SenderMuted(int32_t role, int64_t mute_until, bool mute_all, int64_t now);

// The oldest seq a member who joined at `join_seq` may read: 1 for types
// that show history before joining (Meeting, Community), else the seq
// after their joining.
uint64_t FirstReadableSeq(int32_t group_type, uint64_t join_seq);

// Whether `caller_role` may recall a message `sender` sent at `sent`:
// OK, 10007 (another's message, as a member) or 10031 (a member's own,
// after two minutes). App admins may recall anything.
absl::Status MayRecall(bool is_admin, int32_t caller_role, const std::string& caller,
                       const std::string& sender, int64_t sent, int64_t now);

// "AcceptAndNotify" etc. for group_rules.h MsgFlag values.
std::string MsgFlagName(int32_t flag);
// Whether a message with these SendMsgControl values counts as unread.
bool CountsUnread(const v1::SendGroupRequest& request);

// An AVChatRoom's frequency-control class of a MsgPriority: 'h' (High),
// 'n' (Normal, and the default) or 'l' (Low).
char RoomPriorityClass(const std::string& priority);

// 10044 (or `code`) for an AVChatRoom: it stores nothing, so history,
// recalls, edits, receipts and deletes have nothing to work on.
absl::Status NotForRooms(int32_t group_type, int32_t code, const char* what);

}  // namespace parley::message
