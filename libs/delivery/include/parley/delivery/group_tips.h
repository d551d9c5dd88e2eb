// The membership change a group tip makes (GroupTip.type), read the same way
// by the message service (members' seqs) and by gateways (routing).
#pragma once

#include <string>
#include <vector>

#include "parley/v1/group_message.pb.h"

namespace parley::delivery {

struct MembershipChange {
  std::vector<std::string> joined;
  std::vector<std::string> left;
  bool dismissed = false;
  // MsgFlagChanged: the members' new receive option (in detail).
  bool flag_changed = false;
};

inline MembershipChange MembershipOf(const v1::GroupTip& tip) {
  MembershipChange change;
  const std::string& type = tip.type();
  std::vector<std::string> members(tip.member_account().begin(), tip.member_account().end());
  if (type == "GroupCreated" || type == "MemberJoined") {
    change.joined = std::move(members);
  } else if (type == "MemberQuit" || type == "MemberKicked") {
    change.left = std::move(members);
  } else if (type == "GroupDismissed") {
    change.dismissed = true;
  } else if (type == "MsgFlagChanged") {
    change.flag_changed = true;
    change.joined = std::move(members);
  }
  return change;
}

// group_rules.h MsgFlag for its name (AcceptAndNotify when unknown or empty).
inline int32_t MsgFlagValue(const std::string& name) {
  if (name == "AcceptNotNotify") return 1;
  if (name == "Discard") return 2;
  return 0;
}

}  // namespace parley::delivery
