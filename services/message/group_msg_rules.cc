#include "group_msg_rules.h"

#include "absl/strings/str_cat.h"

#include <algorithm>

#include "parley/errors/errors.h"
#include "validation.h"

namespace parley::message {
namespace {

bool OneOf(const std::string& value, std::initializer_list<const char*> allowed) {
  return std::any_of(allowed.begin(), allowed.end(),
                     [&](const char* a) { return value == a; });
}

}  // namespace

absl::Status CheckGroupSend(const v1::SendGroupRequest& request) {
  if (!OneOf(request.msg_priority(), {"", "High", "Normal", "Low"})) {
    return errors::Error(kGroupInvalidParam, "MsgPriority must be High, Normal or Low");
  }
  if (static_cast<size_t>(request.group_at_info_size()) > kMaxGroupAts) {
    return errors::Error(kGroupTooManyAts, "GroupAtInfo has more than 30 entries");
  }
  for (const auto& at : request.group_at_info()) {
    if (at.group_at_all_flag() != 0 && at.group_at_all_flag() != 1) {
      return errors::Error(kGroupInvalidParam, "GroupAtAllFlag must be 0 or 1");
    }
    if (at.group_at_all_flag() == 0 &&
        (at.group_at_account().empty() || at.group_at_account().size() > 32)) {
      return errors::Error(kGroupInvalidParam, "GroupAt_Account is missing or invalid");
    }
  }
  if (static_cast<size_t>(request.to_account_size()) > kMaxTargets) {
    return errors::Error(kGroupInvalidParam, "To_Account has more than 100 accounts");
  }
  for (const auto& to : request.to_account()) {
    if (to.empty() || to.size() > 32) {
      return errors::Error(kGroupInvalidParam, "To_Account holds an invalid account");
    }
  }
  for (const auto& c : request.send_msg_control()) {
    if (!OneOf(c, {"NoLastMsg", "NoUnread", "WithMuteNotifications"})) {
      return errors::Error(kGroupInvalidParam, "SendMsgControl holds an unknown value");
    }
  }
  for (const auto& c : request.forbid_callback_control()) {
    if (!OneOf(c, {"ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"})) {
      return errors::Error(kGroupInvalidParam, "ForbidCallbackControl holds an unknown value");
    }
  }
  if (request.online_only_flag() != 0 && request.online_only_flag() != 1) {
    return errors::Error(kGroupInvalidParam, "OnlineOnlyFlag must be 0 or 1");
  }
  if (request.client_msg_id().size() > 64) {
    return errors::Error(kGroupInvalidParam, "ClientMsgId is longer than 64 bytes");
  }
  return absl::OkStatus();
}

bool SenderMuted(int32_t role, int64_t mute_until, bool mute_all, int64_t now) {
  if (mute_until > now) return true;
  return mute_all && role == kRoleMember;
}

uint64_t FirstReadableSeq(int32_t group_type, uint64_t join_seq) {
  if (group_type == kTypeMeeting || group_type == kTypeCommunity) return 1;
  return join_seq + 1;
}

absl::Status MayRecall(bool is_admin, int32_t caller_role, const std::string& caller,
                       const std::string& sender, int64_t sent, int64_t now) {
  if (is_admin || caller_role == kRoleOwner || caller_role == kRoleAdmin) {
    return absl::OkStatus();
  }
  if (caller != sender) {
    return errors::Error(kGroupNoPermission, "members may recall only their own messages");
  }
  if (now - sent > kMemberRecallSeconds) {
    return errors::Error(kGroupRecallTooLate, "the message is older than two minutes");
  }
  return absl::OkStatus();
}

std::string MsgFlagName(int32_t flag) {
  switch (flag) {
    case 1: return "AcceptNotNotify";
    case 2: return "Discard";
    default: return "AcceptAndNotify";
  }
}

bool CountsUnread(const v1::SendGroupRequest& request) {
  if (request.to_account_size() > 0) return false;
  return std::none_of(request.send_msg_control().begin(), request.send_msg_control().end(),
                      [](const std::string& c) { return c == "NoUnread"; });
}

char RoomPriorityClass(const std::string& priority) {
  if (priority == "High") return 'h';
  if (priority == "Low") return 'l';
  return 'n';
}

absl::Status NotForRooms(int32_t group_type, int32_t code, const char* what) {
  if (group_type != kTypeRoom) return absl::OkStatus();
  return errors::Error(code, absl::StrCat("an AVChatRoom stores no messages: ", what,
                                          " does not apply"));
}

// A message body: ValidateMsgBody's verdict with the group codes (80002 too
// long, 10004 anything else).
absl::Status CheckGroupBody(const google::protobuf::ListValue& body, const std::string& body_json,
                            const std::string& cloud_custom_data) {
  auto st = ValidateMsgBody(body, body_json.size() + cloud_custom_data.size());
  if (st.ok()) return st;
  int32_t code = errors::TencentCode(st) == kBodyTooLong ? kBodyTooLong : kGroupInvalidParam;
  return errors::Error(code, st.message());
}

absl::Status PermissionToSend(const v1::MemberContext& context) {
  if (!context.permission_enabled()) return absl::OkStatus();
  bool allowed = context.topic() ? (context.topic_permission_bits() & 8) != 0
                                 : (context.permission_bits() & 64) != 0;
  if (allowed) return absl::OkStatus();
  return errors::Error(kGroupNoPermission, context.topic()
                                               ? "your permission groups do not let you send in this topic"
                                               : "your permission groups do not let you send here");
}

}  // namespace parley::message
