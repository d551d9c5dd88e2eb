// The relationship chain's rules as pure functions: what a friend request
// does, what a check reports, which profile values are valid. The store gathers the facts under row locks;
// these decide. Codes are Tencent's (compat reference §2.5).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/struct.pb.h>

#include "absl/status/status.h"

namespace parley::relationship {

// Relationship codes (3xxxx) and profile codes (40xxx).
inline constexpr int32_t kSnsBadParam = 30001;
inline constexpr int32_t kSnsBadAccount = 30002;
inline constexpr int32_t kSnsNotImported = 30003;
inline constexpr int32_t kSnsRequiresAdmin = 30004;
inline constexpr int32_t kSnsInternal = 30006;
inline constexpr int32_t kSnsForbiddenToAdd = 30009;
inline constexpr int32_t kOwnFriendListFull = 30010;
inline constexpr int32_t kFriendGroupLimit = 30011;
inline constexpr int32_t kPendingListFull = 30012;
inline constexpr int32_t kBlocklistFull = 30013;
inline constexpr int32_t kPeerFriendListFull = 30014;
inline constexpr int32_t kTargetInYourBlocklist = 30515;
inline constexpr int32_t kTargetDeniesAll = 30516;
inline constexpr int32_t kYouInTargetsBlocklist = 30525;
inline constexpr int32_t kAddedAsPending = 30539;
inline constexpr int32_t kRequestNotFound = 30614;
inline constexpr int32_t kNotFriends = 31704;
inline constexpr int32_t kPendingItemNotFound = 31804;

inline constexpr int32_t kProfileBadParam = 40001;
inline constexpr int32_t kProfileNotImported = 40003;
inline constexpr int32_t kProfileRequiresAdmin = 40004;
inline constexpr int32_t kProfileInternal = 40006;
inline constexpr int32_t kProfileNoWritePermission = 40008;
inline constexpr int32_t kProfileTagUnknown = 40009;
inline constexpr int32_t kProfileValueTooLong = 40601;
inline constexpr int32_t kProfileValueInvalid = 40605;
inline constexpr int32_t kProfileValueWrongType = 40610;

// Batch and size limits (compat reference §7).
inline constexpr size_t kMaxBatchAccounts = 1000;   // delete, check, blocklist
inline constexpr size_t kMaxAddItems = 100;         // friend_add/import/update items
inline constexpr size_t kMaxProfileAccounts = 100;  // portrait_get
inline constexpr size_t kMaxFriendGroups = 32;
inline constexpr size_t kMaxFriendGroupNameBytes = 30;
inline constexpr size_t kMaxRemarkBytes = 96;
inline constexpr size_t kMaxAddWordingBytes = 256;
inline constexpr size_t kMaxValueBytes = 500;
inline constexpr size_t kMaxCustomKeyBytes = 8;

enum class AllowType { kNeedConfirm, kAllowAny, kDenyAny };
// Tag_Profile_IM_AllowType's value; unset means NeedConfirm, as in Tencent.
AllowType ParseAllowType(const std::string& value);

// Everything friend_add needs to know about one (requester, target) pair.
struct AddFacts {
  bool requester_forbidden = false;  // AdminForbid_Type_SendOut
  bool requester_blocked_target = false;
  bool target_blocked_requester = false;
  bool requester_has_target = false;  // target already in requester's list
  bool target_has_requester = false;
  uint32_t requester_friend_count = 0;
  uint32_t target_friend_count = 0;
  uint32_t friend_limit = 3000;
  uint32_t target_pending_count = 0;
  uint32_t pending_limit = 1000;
  AllowType target_allows = AllowType::kNeedConfirm;
  bool both = true;   // Add_Type_Both
  bool force = false;  // ForceAddFlags from an admin
};

struct AddDecision {
  int32_t code = 0;             // 0 added (or already friends), 30539 pending, else refused
  bool add_forward = false;     // put target in requester's list
  bool add_reverse = false;     // put requester in target's list
  bool create_request = false;  // store a pending request for the target
};
AddDecision DecideFriendAdd(const AddFacts& facts);

// Answering a pending request (the responder is the request's target).
struct ResponseFacts {
  bool agree = false;
  bool agree_and_add = false;  // the responder also adds the requester
  bool request_was_both = false;
  bool requester_blocked_responder = false;
  bool responder_blocked_requester = false;
  bool requester_has_responder = false;
  bool responder_has_requester = false;
  uint32_t requester_friend_count = 0;
  uint32_t responder_friend_count = 0;
  uint32_t friend_limit = 3000;
};
struct ResponseDecision {
  int32_t code = 0;
  bool add_to_requester = false;  // responder joins the requester's list
  bool add_to_responder = false;  // requester joins the responder's list
};
ResponseDecision DecideResponse(const ResponseFacts& facts);

// friend_check's Relation for A (the caller) and B.
std::string FriendRelation(bool a_has_b, bool b_has_a, bool check_both);
// black_list_check's Relation.
std::string BlockRelation(bool a_blocked_b, bool b_blocked_a, bool check_both);

// A profile item as set by portrait_set. Standard tags are checked against
// their type and range; custom ones must be declared for the app.
// `is_admin`: admins may also set AdminForbidType, Level and Role.
absl::Status ValidateProfileItem(const std::string& tag, const google::protobuf::Value& value,
                                 bool is_admin, const std::set<std::string>& declared_custom);
// A friend item as set by friend_update/import (Tag_SNS_IM_*, Tag_SNS_Custom_*).
absl::Status ValidateSnsItem(const std::string& tag, const google::protobuf::Value& value,
                             const std::set<std::string>& declared_custom);
// Friend-list names as friend_add's GroupName or Tag_SNS_IM_Group give
// them: one string or a list of strings; empty names and non-strings are
// dropped.
std::vector<std::string> GroupNames(const google::protobuf::Value& value);
// At most 32 names of at most 30 bytes each.
bool ValidGroupNames(const std::vector<std::string>& names);
// The ResultInfo that goes with a friend_add or response ResultCode.
const char* AddInfo(int32_t code);

// What an app's answer to a Sns.CallbackPrev* callback refuses: each
// ResultItem with a non-zero ResultCode, keyed by To_Account, with the code
// (kept when in the backend's range 38000..39000, 38000 otherwise) and its
// ResultInfo. Malformed answers and items refuse nothing.
struct Refusal {
  int32_t code = 0;
  std::string info;
};
std::map<std::string, Refusal> CallbackRefusals(const std::string& answer_json);
// A backend-chosen code: kept in 38000..39000, 38000 otherwise.
int32_t CallbackCode(int64_t code);

// A custom tag key: 1..8 ASCII letters, digits or '_'.
bool ValidCustomKey(const std::string& key);
// AddSource_Type_<1..8 letters>.
bool ValidAddSource(const std::string& source);

}  // namespace parley::relationship
