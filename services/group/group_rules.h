// Group rules as pure functions (compat reference §5): group types and their
// defaults, IDs, profile limits, and who may do what. The store gathers the
// facts under a lock on the group's row; these decide. Codes are Tencent's
// (compat reference §2.5).
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "parley/accounts/accounts.h"
#include "parley/errors/errors.h"

namespace parley::group {

// Group codes (10xxx).
inline constexpr int32_t kInternal = 10002;
inline constexpr int32_t kInvalidParam = 10004;
inline constexpr int32_t kTooManyAccounts = 10005;
inline constexpr int32_t kNoPermission = 10007;
inline constexpr int32_t kOwnerCannotQuit = 10009;
inline constexpr int32_t kNoSuchGroup = 10010;
inline constexpr int32_t kJsonParse = 10011;
inline constexpr int32_t kAlreadyMember = 10013;
inline constexpr int32_t kAlreadyHandled = 10024;
inline constexpr int32_t kGroupFull = 10014;
inline constexpr int32_t kInvalidGroupId = 10015;
inline constexpr int32_t kRefusedByCallback = 10016;
inline constexpr int32_t kAccountMissing = 10019;
inline constexpr int32_t kGroupIdTaken = 10021;
inline constexpr int32_t kGroupIdYours = 10025;
inline constexpr int32_t kAttrKeyTooLong = 10045;
inline constexpr int32_t kAttrValueTooLong = 10046;
inline constexpr int32_t kTooManyAttrs = 10047;
inline constexpr int32_t kAttrsTooLarge = 10048;
inline constexpr int32_t kNoSuchAttr = 10050;
inline constexpr int32_t kTooManyCounters = 10063;
inline constexpr int32_t kInvalidTopicId = 110013;  // malformed, or no such topic

// Batch and size limits (compat reference §3.7, §5, §7).
inline constexpr size_t kMaxInitialMembers = 100;    // create_group MemberList
inline constexpr size_t kMaxAddMembers = 300;        // add_group_member MemberList
inline constexpr size_t kMaxDeleteMembers = 100;     // delete_group_member
inline constexpr size_t kMaxRoleQuery = 500;         // get_role_in_group
inline constexpr size_t kMaxInfoGroups = 50;         // get_group_info GroupIdList
inline constexpr size_t kMaxMemberPage = 6000;       // get_group_member_info Limit
inline constexpr size_t kMaxSpecifiedMembers = 500;  // get_specified_group_member_info
inline constexpr size_t kMaxAppListPage = 10000;     // get_appid_group_list Limit
inline constexpr size_t kMaxGroupIdBytes = 47;       // custom IDs: < 48 bytes
inline constexpr size_t kMaxNameBytes = 30;
inline constexpr size_t kMaxIntroductionBytes = 240;
inline constexpr size_t kMaxNotificationBytes = 300;
inline constexpr size_t kMaxFaceUrlBytes = 100;
inline constexpr size_t kMaxNameCardBytes = 50;
inline constexpr uint32_t kPermanentMute = 4294967295u;
inline constexpr size_t kMaxMuteAccounts = 500;      // forbid_send_msg
// AVChatRoom (live rooms).
inline constexpr size_t kMaxRoomAdmins = 5;          // modify_admin (Tencent's limit)
inline constexpr size_t kMaxBanAccounts = 500;       // ban_group_member / unban_group_member
inline constexpr size_t kMaxBanPage = 1000;          // get_group_ban_member Limit
inline constexpr size_t kMaxRoomMembersPage = 1000;  // get_members
inline constexpr size_t kMaxMarkAccounts = 500;      // modify_user_info MemberList
inline constexpr size_t kMaxMarksPerMember = 10;
inline constexpr size_t kMaxCheckMembers = 500;      // check_members
inline constexpr uint32_t kDefaultRoomMsgRate = 40;  // messages per room per second
inline constexpr uint32_t kMaxRoomMsgRate = 1000;
inline constexpr uint32_t kMaxRoomRecent = 20;
inline constexpr size_t kMaxAttrs = 16;
inline constexpr size_t kMaxAttrKeyBytes = 32;
inline constexpr size_t kMaxAttrValueBytes = 4000;
inline constexpr size_t kMaxAttrBytes = 16000;       // all keys and values
inline constexpr size_t kMaxCounters = 20;
inline constexpr size_t kMaxCounterKeyBytes = 128;
inline constexpr int64_t kMaxCounterValue = int64_t{1} << 53;  // exact in JSON

// Community topics (Parley's bounds where Tencent publishes none).
inline constexpr size_t kMaxTopics = 1000;             // per community
inline constexpr size_t kMaxTopicNameBytes = 150;
inline constexpr size_t kMaxTopicTextBytes = 400;      // Introduction, Notification
inline constexpr size_t kMaxTopicCustomBytes = 3000;   // CustomString
inline constexpr size_t kMaxDestroyTopics = 100;       // destroy_topic TopicIdList
inline constexpr size_t kMaxGetTopics = 1000;          // get_topic TopicIdList

// Community permission groups (compat reference §3.9): the bits.
namespace perm {
inline constexpr uint32_t kManageGroupInfo = 1;
inline constexpr uint32_t kManageGroupMember = 2;
inline constexpr uint32_t kManagePermissionGroupInfo = 4;
inline constexpr uint32_t kManagePermissionGroupMember = 8;
inline constexpr uint32_t kManageTopic = 16;
inline constexpr uint32_t kMuteMember = 32;
inline constexpr uint32_t kSendMessage = 64;
inline constexpr uint32_t kAtAll = 128;
inline constexpr uint32_t kGetHistory = 256;
inline constexpr uint32_t kRevokeOthers = 512;
inline constexpr uint32_t kBanMember = 1024;
inline constexpr uint32_t kAll = 2047;
// In a topic.
inline constexpr uint32_t kTopicManage = 1;
inline constexpr uint32_t kTopicManagePermission = 2;
inline constexpr uint32_t kTopicMute = 4;
inline constexpr uint32_t kTopicSend = 8;
inline constexpr uint32_t kTopicHistory = 16;
inline constexpr uint32_t kTopicRevokeOthers = 32;
inline constexpr uint32_t kTopicAtAll = 64;
inline constexpr uint32_t kTopicAll = 127;
}  // namespace perm
inline constexpr size_t kMaxPermissionGroups = 100;        // per community
inline constexpr size_t kMaxPermissionGroupIdBytes = 48;
inline constexpr size_t kMaxPermissionGroupNameBytes = 150;
inline constexpr size_t kMaxPermissionCustomBytes = 3000;
inline constexpr size_t kMaxPermissionAccounts = 100;      // add/delete_permission_group_member
inline constexpr uint32_t kMaxPermissionMemberPage = 50;   // get_permission_group_member_list
inline constexpr size_t kMaxPermissionIds = 100;           // ID lists of one call

// Stored as SMALLINT: never renumber.
enum class GroupType : int16_t { kWork = 1, kPublic = 2, kMeeting = 3, kCommunity = 4, kAVChatRoom = 5 };
enum class Role : int16_t { kMember = 0, kAdmin = 1, kOwner = 2 };
enum class MsgFlag : int16_t { kAcceptAndNotify = 0, kAcceptNotNotify = 1, kDiscard = 2 };

// REST names: "Private" (Work), "Public", "ChatRoom" (Meeting), "AVChatRoom",
// "Community". The new SDK names ("Work", "Meeting") are accepted too.
std::optional<GroupType> ParseGroupType(std::string_view name);
const char* GroupTypeName(GroupType type);  // the REST name
std::optional<Role> ParseRole(std::string_view name);  // Owner / Admin / Member
const char* RoleName(Role role);
std::optional<MsgFlag> ParseMsgFlag(std::string_view name);
const char* MsgFlagName(MsgFlag flag);

struct TypeRules {
  uint32_t max_members;        // default and upper bound of MaxMemberCount
  const char* apply_default;   // ApplyJoinOption when create_group leaves it out
  const char* invite_default;  // InviteJoinOption likewise
  bool has_admins;             // Work groups have none
  bool needs_activation;       // Work: listed for members after the first message
  bool owner_may_quit;         // Work: the group is left without an owner
  bool members_may_edit;       // Work: any member edits name/intro/notice/face
  bool supports_mute;          // Work: no muting
};
TypeRules RulesFor(GroupType type);

bool ValidApplyJoinOption(std::string_view option);   // FreeAccess / NeedPermission / DisableApply

// What a user's request to join comes to: joined at once (FreeAccess),
// waiting for an owner or admin (NeedPermission), or refused (DisableApply,
// and always for Work groups, which take members by invitation only).
enum class ApplyOutcome { kJoin, kPending, kRefused };
ApplyOutcome OnApply(GroupType type, std::string_view apply_option);
inline constexpr size_t kMaxApplyMessageBytes = 300;
bool ValidInviteJoinOption(std::string_view option);  // FreeAccess / NeedPermission / DisableInvite

// A group ID as a caller spells it anywhere: printable ASCII, 1..47 bytes.
bool WellFormedGroupId(std::string_view id);
// A custom ID for create_group: well formed, and Community IDs start
// "@TGS#_" while other types' IDs must not start "@TGS#". kInvalidGroupId.
absl::Status CheckCustomGroupId(std::string_view id, GroupType type);
// A server-made ID: "@TGS#" + a type mark + `random` in base 32 (Community:
// "@TGS#_@TGS#c" + ...). `random` should be 50 or more random bits.
std::string MakeGroupId(GroupType type, uint64_t random);

// A topic ID a caller gives for `group`: "<group>@TOPIC#_" and a suffix of
// printable ASCII that holds neither "@TGS#_" nor a second "@TOPIC#_",
// whole at most 96 bytes (generated suffixes are "@TOPIC#" + 12 base-32
// characters). kInvalidTopicId.
absl::Status CheckTopicId(std::string_view topic, std::string_view group);
std::string MakeTopicId(std::string_view group, uint64_t random);
// A topic's profile: name (when given) 1-150 bytes, FaceUrl 100,
// Introduction and Notification 400, CustomString 3000. kInvalidParam.
struct TopicProfile {
  std::optional<std::string> name, face_url, notification, introduction, custom_string;
};
absl::Status CheckTopicProfile(const TopicProfile& profile);

// A custom permission group ID: "@PMG#_" and 1-42 printable ASCII bytes
// (10004). Server-made ones are "@PMG#_@PMG#" and 10 base-32 characters.
absl::Status CheckPermissionGroupId(std::string_view id);
std::string MakePermissionGroupId(uint64_t random);
// Bits beyond the known ones (perm::kAll, or perm::kTopicAll in a topic) are 10004.
absl::Status CheckPermissionBits(uint32_t bits, bool topic, const char* field);
// The topic bits community bits carry into every topic: sending, @all,
// history, recalling others', muting and managing topics.
uint32_t TopicBitsOf(uint32_t community_bits);

// The profile fields create_group and modify_group_base_info take.
struct Profile {
  std::optional<std::string> name, introduction, notification, face_url;
};
// Byte limits; a name, when given, must not be empty. kInvalidParam.
absl::Status CheckProfile(const Profile& profile);

// When a mute of `mute_time` seconds set at `now` ends: 0 lifts it, and it
// never passes kPermanentMute (4294967295, "forever"), so MuteUntil always
// fits the uint32 Tencent's answers carry.
int64_t MuteUntil(int64_t now, uint32_t mute_time);

// Custom fields (AppDefinedData, AppMemberDefinedData): an app declares up
// to 10 group keys and 5 member keys, each 1-15 bytes of [A-Za-z0-9_];
// values are at most 512 (group) / 64 (member) bytes.
inline constexpr size_t kMaxGroupDataKeys = 10;
inline constexpr size_t kMaxMemberDataKeys = 5;
inline constexpr size_t kMaxGroupDataValueBytes = 512;
inline constexpr size_t kMaxMemberDataValueBytes = 64;
using CustomData = std::map<std::string, std::string>;
// Keys an app declares: at most `max`, well formed, no repeats. 10004.
absl::Status CheckDeclaredKeys(const std::vector<std::string>& keys, size_t max,
                               const char* field);
// Applies Key/Value items to `data`: each key must be declared and each
// value at most `max_value` bytes (10004); an empty value removes the key.
absl::Status ApplyCustomData(const std::vector<std::string>& declared,
                             const std::vector<std::pair<std::string, std::string>>& items,
                             size_t max_value, const char* field, CustomData* data);

// Group attributes: the change one command makes to the current set, with
// Tencent's limits (10045-10048; deleting a missing key is 10050).
enum class AttrOp { kModify, kSet, kDelete, kClear };
using Attrs = std::map<std::string, std::string>;
absl::Status ApplyAttrs(AttrOp op, const std::vector<std::pair<std::string, std::string>>& items,
                        Attrs* attrs);

// Group counters: Set, Increase or Decrease (empty Mode: Set) each named key
// of `counters`; new keys start at 0. More than 20 keys is 10063; a value
// that is not an integer within +-2^53, or would leave that range, 10004.
using Counters = std::map<std::string, int64_t>;
absl::Status ApplyCounters(std::string_view mode,
                           const std::vector<std::pair<std::string, double>>& items,
                           Counters* counters);

// Who may do what (compat reference §5). `app_admin` is the app's REST
// admin, who may do everything the owner may and more.
// With a Community's permission groups on (`by_permission`), a member
// who is not the owner has the powers of their bits only (admins too):
// `bits` in the community and, acting in a topic, `topic_bits` there.
struct Actor {
  Role role = Role::kMember;
  bool app_admin = false;
  bool by_permission = false;
  uint32_t bits = 0;
  uint32_t topic_bits = 0;
};
bool MayEditProfile(GroupType type, const Actor& actor);
// Kick `target`: owner kicks anyone but themselves; admins kick members.
bool MayKick(GroupType type, const Actor& actor, Role target);
bool MayMute(GroupType type, const Actor& actor, Role target);
bool MaySetRole(GroupType type, const Actor& actor);  // owner (or app admin) only
bool MayDisband(GroupType type, const Actor& actor);
bool MayInvite(GroupType type, const Actor& actor, std::string_view invite_option);
// Create, change and destroy a Community's topics: owner and admins (by
// bits: kManageTopic, or kTopicManage in the topic).
bool MayManageTopics(const Actor& actor);
// Permission groups: the owner and the app; others by `bit` when they are
// on, else admins.
bool MayManagePermissions(const Actor& actor, uint32_t bit);

// Distinct account IDs in request order; 10004 for an invalid one.
template <class Ids>
absl::StatusOr<std::vector<std::string>> Accounts(const Ids& ids, size_t max, const char* field) {
  if (static_cast<size_t>(ids.size()) > max) {
    return errors::Error(kTooManyAccounts, absl::StrCat(field, " holds more than ", max,
                                                        " accounts"));
  }
  std::vector<std::string> out;
  for (const auto& id : ids) {
    if (!accounts::ValidUserId(id)) {
      return errors::Error(kInvalidParam, absl::StrCat(field, " holds an invalid UserID"));
    }
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  return out;
}

inline nlohmann::json AccountList(const std::vector<std::string>& users) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& u : users) list.push_back({{"Member_Account", u}});
  return list;
}

// The room message rate an app's setting means (0: the default).
inline uint32_t RoomMsgRate(uint32_t configured) {
  return configured == 0 ? kDefaultRoomMsgRate : configured;
}
// 10004 unless 0 <= rate <= kMaxRoomMsgRate and recent <= kMaxRoomRecent.
absl::Status CheckRoomSettings(uint32_t rate, uint32_t recent);
// When a ban of `duration` seconds from `now` ends (10004 for 0).
absl::StatusOr<int64_t> BanUntil(int64_t now, uint32_t duration);

}  // namespace parley::group
