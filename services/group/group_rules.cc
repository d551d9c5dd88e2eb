#include "group_rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"

namespace parley::group {

std::optional<GroupType> ParseGroupType(std::string_view name) {
  if (name == "Private" || name == "Work") return GroupType::kWork;
  if (name == "Public") return GroupType::kPublic;
  if (name == "ChatRoom" || name == "Meeting") return GroupType::kMeeting;
  if (name == "Community") return GroupType::kCommunity;
  if (name == "AVChatRoom") return GroupType::kAVChatRoom;
  return std::nullopt;
}

const char* GroupTypeName(GroupType type) {
  switch (type) {
    case GroupType::kWork: return "Private";
    case GroupType::kPublic: return "Public";
    case GroupType::kMeeting: return "ChatRoom";
    case GroupType::kCommunity: return "Community";
    case GroupType::kAVChatRoom: return "AVChatRoom";
  }
  return "";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "Owner") return Role::kOwner;
  if (name == "Admin") return Role::kAdmin;
  if (name == "Member") return Role::kMember;
  return std::nullopt;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kOwner: return "Owner";
    case Role::kAdmin: return "Admin";
    case Role::kMember: return "Member";
  }
  return "";
}

std::optional<MsgFlag> ParseMsgFlag(std::string_view name) {
  if (name == "AcceptAndNotify") return MsgFlag::kAcceptAndNotify;
  if (name == "AcceptNotNotify") return MsgFlag::kAcceptNotNotify;
  if (name == "Discard") return MsgFlag::kDiscard;
  return std::nullopt;
}

const char* MsgFlagName(MsgFlag flag) {
  switch (flag) {
    case MsgFlag::kAcceptAndNotify: return "AcceptAndNotify";
    case MsgFlag::kAcceptNotNotify: return "AcceptNotNotify";
    case MsgFlag::kDiscard: return "Discard";
  }
  return "";
}

TypeRules RulesFor(GroupType type) {
  switch (type) {
    case GroupType::kWork:
      return {6000, "DisableApply", "FreeAccess", false, true, true, true, false};
    case GroupType::kPublic:
      return {6000, "NeedPermission", "DisableInvite", true, false, false, false, true};
    case GroupType::kMeeting:
      return {6000, "FreeAccess", "DisableInvite", true, false, false, false, true};
    case GroupType::kCommunity:
      return {100000, "FreeAccess", "FreeAccess", true, false, false, false, true};
    case GroupType::kAVChatRoom:
      return {0, "FreeAccess", "DisableInvite", false, false, false, false, true};
  }
  return {};
}

bool ValidApplyJoinOption(std::string_view option) {
  return option == "FreeAccess" || option == "NeedPermission" || option == "DisableApply";
}

bool ValidInviteJoinOption(std::string_view option) {
  return option == "FreeAccess" || option == "NeedPermission" || option == "DisableInvite";
}

bool WellFormedGroupId(std::string_view id) {
  if (id.empty() || id.size() > kMaxGroupIdBytes) return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

absl::Status CheckCustomGroupId(std::string_view id, GroupType type) {
  if (!WellFormedGroupId(id)) {
    return errors::Error(kInvalidGroupId,
                         "GroupId must be 1 to 47 bytes of printable ASCII");
  }
  if (type == GroupType::kCommunity) {
    if (id.substr(0, 6) != "@TGS#_") {
      return errors::Error(kInvalidGroupId, "a Community's GroupId must start with @TGS#_");
    }
  }
  if (id.find("@TOPIC#_") != std::string_view::npos) {
    return errors::Error(kInvalidGroupId, "a GroupId must not hold @TOPIC#_ (topic IDs do)");
  }
  if (type != GroupType::kCommunity && id.substr(0, 5) == "@TGS#") {
    return errors::Error(kInvalidGroupId, "a custom GroupId must not start with @TGS#");
  }
  return absl::OkStatus();
}

std::string MakeGroupId(GroupType type, uint64_t random) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string suffix;
  for (int i = 0; i < 10; ++i) {
    suffix.push_back(kDigits[random & 31]);
    random >>= 5;
  }
  switch (type) {
    case GroupType::kCommunity: return absl::StrCat("@TGS#_@TGS#c", suffix);
    case GroupType::kWork: return absl::StrCat("@TGS#1", suffix);
    case GroupType::kPublic: return absl::StrCat("@TGS#2", suffix);
    case GroupType::kMeeting: return absl::StrCat("@TGS#3", suffix);
    case GroupType::kAVChatRoom: return absl::StrCat("@TGS#a", suffix);
  }
  return "";
}

absl::Status CheckTopicId(std::string_view topic, std::string_view group) {
  std::string prefix = std::string(group) + "@TOPIC#_";
  if (topic.size() <= prefix.size() || topic.size() > 96 || topic.substr(0, prefix.size()) != prefix) {
    return errors::Error(kInvalidTopicId,
                         "TopicId must be the GroupId, @TOPIC#_ and a suffix, at most 96 bytes");
  }
  std::string_view suffix = topic.substr(prefix.size());
  for (unsigned char c : suffix) {
    if (c < 0x21 || c > 0x7e) {
      return errors::Error(kInvalidTopicId, "a TopicId's suffix must be printable ASCII");
    }
  }
  if (suffix.find("@TGS#_") != std::string_view::npos ||
      suffix.find("@TOPIC#_") != std::string_view::npos) {
    return errors::Error(kInvalidTopicId, "a TopicId's suffix must not hold @TGS#_ or @TOPIC#_");
  }
  return absl::OkStatus();
}

std::string MakeTopicId(std::string_view group, uint64_t random) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string suffix;
  for (int i = 0; i < 12; ++i) {
    suffix.push_back(kDigits[random & 31]);
    random >>= 5;
  }
  return std::string(group) + "@TOPIC#_@TOPIC#" + suffix;
}

absl::Status CheckTopicProfile(const TopicProfile& p) {
  struct Limit {
    const std::optional<std::string>& value;
    size_t max;
    const char* field;
  };
  for (const Limit& l : {Limit{p.name, kMaxTopicNameBytes, "TopicName"},
                         Limit{p.face_url, kMaxFaceUrlBytes, "FaceUrl"},
                         Limit{p.notification, kMaxTopicTextBytes, "Notification"},
                         Limit{p.introduction, kMaxTopicTextBytes, "Introduction"},
                         Limit{p.custom_string, kMaxTopicCustomBytes, "CustomString"}}) {
    if (l.value && l.value->size() > l.max) {
      return errors::Error(kInvalidParam, absl::StrCat(l.field, " is longer than ", l.max, " bytes"));
    }
  }
  if (p.name && p.name->empty()) return errors::Error(kInvalidParam, "TopicName is empty");
  return absl::OkStatus();
}

absl::Status CheckProfile(const Profile& profile) {
  struct Limit {
    const std::optional<std::string>& value;
    size_t max;
    const char* field;
  };
  for (const Limit& limit : {Limit{profile.name, kMaxNameBytes, "Name"},
                             Limit{profile.introduction, kMaxIntroductionBytes, "Introduction"},
                             Limit{profile.notification, kMaxNotificationBytes, "Notification"},
                             Limit{profile.face_url, kMaxFaceUrlBytes, "FaceUrl"}}) {
    if (limit.value && limit.value->size() > limit.max) {
      return errors::Error(kInvalidParam,
                           absl::StrCat(limit.field, " is longer than ", limit.max, " bytes"));
    }
  }
  if (profile.name && profile.name->empty()) {
    return errors::Error(kInvalidParam, "Name must not be empty");
  }
  return absl::OkStatus();
}

int64_t MuteUntil(int64_t now, uint32_t mute_time) {
  if (mute_time == 0) return 0;
  return std::min<int64_t>(now + mute_time, kPermanentMute);
}

absl::Status ApplyAttrs(AttrOp op, const std::vector<std::pair<std::string, std::string>>& items,
                        Attrs* attrs) {
  for (const auto& [key, value] : items) {
    if (key.empty() || key.size() > kMaxAttrKeyBytes) {
      return errors::Error(kAttrKeyTooLong,
                           absl::StrCat("an attribute key must be 1 to ", kMaxAttrKeyBytes, " bytes"));
    }
    if (value.size() > kMaxAttrValueBytes) {
      return errors::Error(kAttrValueTooLong, absl::StrCat("an attribute value is longer than ",
                                                           kMaxAttrValueBytes, " bytes"));
    }
  }
  Attrs next = op == AttrOp::kModify || op == AttrOp::kDelete ? *attrs : Attrs();
  for (const auto& [key, value] : items) {
    if (op == AttrOp::kDelete) {
      if (next.erase(key) == 0) {
        return errors::Error(kNoSuchAttr, absl::StrCat("no attribute ", key));
      }
    } else if (op != AttrOp::kClear) {
      next[key] = value;
    }
  }
  if (next.size() > kMaxAttrs) {
    return errors::Error(kTooManyAttrs,
                         absl::StrCat("a group holds at most ", kMaxAttrs, " attributes"));
  }
  size_t bytes = 0;
  for (const auto& [key, value] : next) bytes += key.size() + value.size();
  if (bytes > kMaxAttrBytes) {
    return errors::Error(kAttrsTooLarge, absl::StrCat("a group's attributes hold at most ",
                                                      kMaxAttrBytes, " bytes"));
  }
  *attrs = std::move(next);
  return absl::OkStatus();
}

absl::Status ApplyCounters(std::string_view mode,
                           const std::vector<std::pair<std::string, double>>& items,
                           Counters* counters) {
  int sign = 0;
  if (mode.empty() || mode == "Set") sign = 0;
  else if (mode == "Increase") sign = 1;
  else if (mode == "Decrease") sign = -1;
  else return errors::Error(kInvalidParam, "Mode must be Set, Increase or Decrease");
  Counters next = *counters;
  for (const auto& [key, value] : items) {
    if (key.empty() || key.size() > kMaxCounterKeyBytes) {
      return errors::Error(kInvalidParam, absl::StrCat("a counter key must be 1 to ",
                                                       kMaxCounterKeyBytes, " bytes"));
    }
    // In range first (NaN fails it), so the cast below is defined.
    if (!(value >= -static_cast<double>(kMaxCounterValue) &&
          value <= static_cast<double>(kMaxCounterValue)) ||
        value != std::trunc(value)) {
      return errors::Error(kInvalidParam, "a counter value must be an integer within +-2^53");
    }
    int64_t v = static_cast<int64_t>(value);
    int64_t result = sign == 0 ? v : next[key] + sign * v;
    if (result > kMaxCounterValue || result < -kMaxCounterValue) {
      return errors::Error(kInvalidParam, "the counter would leave +-2^53");
    }
    next[key] = result;
  }
  if (next.size() > kMaxCounters) {
    return errors::Error(kTooManyCounters,
                         absl::StrCat("a group holds at most ", kMaxCounters, " counters"));
  }
  *counters = std::move(next);
  return absl::OkStatus();
}

namespace {

bool OwnerOrAppAdmin(const Actor& actor) {
  return actor.app_admin || actor.role == Role::kOwner;
}

bool Manager(const Actor& actor) { return OwnerOrAppAdmin(actor) || actor.role == Role::kAdmin; }

// Owners (and app admins) act on anyone but an owner; admins on members only.
bool Outranks(const Actor& actor, Role target) {
  if (target == Role::kOwner) return false;
  if (OwnerOrAppAdmin(actor)) return true;
  return actor.role == Role::kAdmin && target == Role::kMember;
}

}  // namespace

// Permission groups are on and the actor is neither owner nor the app.
bool ByBits(const Actor& actor) { return actor.by_permission && !OwnerOrAppAdmin(actor); }

bool MayEditProfile(GroupType type, const Actor& actor) {
  if (ByBits(actor)) return actor.bits & perm::kManageGroupInfo;
  if (type == GroupType::kWork) return true;  // any member
  if (type == GroupType::kAVChatRoom) return OwnerOrAppAdmin(actor);
  return Manager(actor);
}

bool MayKick(GroupType type, const Actor& actor, Role target) {
  if (type == GroupType::kAVChatRoom) return false;  // mute or ban instead
  if (ByBits(actor)) return (actor.bits & perm::kManageGroupMember) && target != Role::kOwner;
  if (type == GroupType::kWork) return OwnerOrAppAdmin(actor) && target != Role::kOwner;
  return Outranks(actor, target);
}

bool MayMute(GroupType type, const Actor& actor, Role target) {
  if (!RulesFor(type).supports_mute) return false;
  if (ByBits(actor)) {
    return ((actor.bits & perm::kMuteMember) || (actor.topic_bits & perm::kTopicMute)) &&
           target != Role::kOwner;
  }
  if (type == GroupType::kAVChatRoom) return OwnerOrAppAdmin(actor) && target != Role::kOwner;
  return Outranks(actor, target);
}

bool MaySetRole(GroupType type, const Actor& actor) {
  return RulesFor(type).has_admins && OwnerOrAppAdmin(actor);
}

bool MayDisband(GroupType type, const Actor& actor) {
  if (type == GroupType::kWork) return actor.app_admin;  // REST only
  return OwnerOrAppAdmin(actor);
}

bool MayInvite(GroupType type, const Actor& actor, std::string_view invite_option) {
  if (actor.app_admin) return type != GroupType::kAVChatRoom;
  if (type == GroupType::kAVChatRoom || invite_option == "DisableInvite") return false;
  if (ByBits(actor)) return actor.bits & perm::kManageGroupMember;
  if (type == GroupType::kWork || type == GroupType::kCommunity) return true;
  return Manager(actor);  // Public and Meeting: owner and admins
}

bool MayManageTopics(const Actor& actor) {
  if (ByBits(actor)) return (actor.bits & perm::kManageTopic) || (actor.topic_bits & perm::kTopicManage);
  return Manager(actor);
}

bool MayManagePermissions(const Actor& actor, uint32_t bit) {
  if (ByBits(actor)) return actor.bits & bit;
  return Manager(actor);
}

absl::Status CheckPermissionGroupId(std::string_view id) {
  if (id.size() <= 6 || id.size() > kMaxPermissionGroupIdBytes || id.substr(0, 6) != "@PMG#_") {
    return errors::Error(kInvalidParam,
                         "PermissionGroupId must be @PMG#_ and 1 to 42 more bytes");
  }
  for (unsigned char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return errors::Error(kInvalidParam, "PermissionGroupId must be printable ASCII");
    }
  }
  return absl::OkStatus();
}

std::string MakePermissionGroupId(uint64_t random) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string id = "@PMG#_@PMG#";
  for (int i = 0; i < 10; ++i) {
    id.push_back(kDigits[random & 31]);
    random >>= 5;
  }
  return id;
}

absl::Status CheckPermissionBits(uint32_t bits, bool topic, const char* field) {
  if (bits & ~(topic ? perm::kTopicAll : perm::kAll)) {
    return errors::Error(kInvalidParam, absl::StrCat(field, " holds unknown permission bits"));
  }
  return absl::OkStatus();
}

uint32_t TopicBitsOf(uint32_t c) {
  uint32_t t = 0;
  if (c & perm::kSendMessage) t |= perm::kTopicSend;
  if (c & perm::kAtAll) t |= perm::kTopicAtAll;
  if (c & perm::kGetHistory) t |= perm::kTopicHistory;
  if (c & perm::kRevokeOthers) t |= perm::kTopicRevokeOthers;
  if (c & perm::kMuteMember) t |= perm::kTopicMute;
  if (c & perm::kManageTopic) t |= perm::kTopicManage;
  return t;
}

ApplyOutcome OnApply(GroupType type, std::string_view apply_option) {
  if (type == GroupType::kWork || apply_option == "DisableApply") return ApplyOutcome::kRefused;
  if (apply_option == "NeedPermission") return ApplyOutcome::kPending;
  return ApplyOutcome::kJoin;
}

absl::Status CheckDeclaredKeys(const std::vector<std::string>& keys, size_t max,
                               const char* field) {
  if (keys.size() > max) {
    return errors::Error(kInvalidParam, absl::StrCat(field, ": at most ", max, " keys"));
  }
  std::set<std::string> seen;
  for (const auto& key : keys) {
    bool ok = !key.empty() && key.size() <= 15 &&
              std::all_of(key.begin(), key.end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
              });
    if (!ok) {
      return errors::Error(kInvalidParam,
                           absl::StrCat(field, ": a key is 1 to 15 letters, digits or _"));
    }
    if (!seen.insert(key).second) {
      return errors::Error(kInvalidParam, absl::StrCat(field, ": key ", key, " twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyCustomData(const std::vector<std::string>& declared,
                             const std::vector<std::pair<std::string, std::string>>& items,
                             size_t max_value, const char* field, CustomData* data) {
  for (const auto& [key, value] : items) {
    if (std::find(declared.begin(), declared.end(), key) == declared.end()) {
      return errors::Error(kInvalidParam,
                           absl::StrCat(field, " key '", key, "' is not declared for the app"));
    }
    if (value.size() > max_value) {
      return errors::Error(kInvalidParam, absl::StrCat(field, " values are at most ", max_value,
                                                       " bytes"));
    }
  }
  for (const auto& [key, value] : items) {
    if (value.empty()) {
      data->erase(key);
    } else {
      (*data)[key] = value;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRoomSettings(uint32_t rate, uint32_t recent) {
  if (rate > kMaxRoomMsgRate) {
    return errors::Error(kInvalidParam, absl::StrCat("room_msg_rate_limit may be at most ",
                                                     kMaxRoomMsgRate));
  }
  if (recent > kMaxRoomRecent) {
    return errors::Error(kInvalidParam,
                         absl::StrCat("room_recent_count may be at most ", kMaxRoomRecent));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> BanUntil(int64_t now, uint32_t duration) {
  if (duration == 0) return errors::Error(kInvalidParam, "Duration must be at least 1 second");
  return now + static_cast<int64_t>(duration);
}

}  // namespace parley::group
