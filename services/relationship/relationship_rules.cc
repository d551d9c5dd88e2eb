#include "relationship_rules.h"

#include <cmath>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"

namespace parley::relationship {
namespace {

using google::protobuf::Value;

enum class TagType { kString, kUint32, kEnum };

struct StandardTag {
  TagType type;
  bool admin_only;
  std::set<std::string> allowed;  // kEnum
};

const std::map<std::string, StandardTag>& StandardProfileTags() {
  static const auto* tags = new std::map<std::string, StandardTag>{
      {"Tag_Profile_IM_Nick", {TagType::kString, false, {}}},
      {"Tag_Profile_IM_Gender",
       {TagType::kEnum, false, {"Gender_Type_Unknown", "Gender_Type_Female", "Gender_Type_Male"}}},
      {"Tag_Profile_IM_BirthDay", {TagType::kUint32, false, {}}},
      {"Tag_Profile_IM_Location", {TagType::kString, false, {}}},
      {"Tag_Profile_IM_SelfSignature", {TagType::kString, false, {}}},
      {"Tag_Profile_IM_AllowType",
       {TagType::kEnum,
        false,
        {"AllowType_Type_NeedConfirm", "AllowType_Type_AllowAny", "AllowType_Type_DenyAny"}}},
      {"Tag_Profile_IM_Language", {TagType::kUint32, false, {}}},
      {"Tag_Profile_IM_Image", {TagType::kString, false, {}}},
      {"Tag_Profile_IM_MsgSettings", {TagType::kUint32, false, {}}},
      // Set by the app's backend only: they gate what the user may do.
      {"Tag_Profile_IM_AdminForbidType",
       {TagType::kEnum, true, {"AdminForbid_Type_None", "AdminForbid_Type_SendOut"}}},
      {"Tag_Profile_IM_Level", {TagType::kUint32, true, {}}},
      {"Tag_Profile_IM_Role", {TagType::kUint32, true, {}}},
  };
  return *tags;
}

constexpr char kProfileCustomPrefix[] = "Tag_Profile_Custom_";
constexpr char kSnsCustomPrefix[] = "Tag_SNS_Custom_";

bool IsUint32(const Value& value) {
  if (value.kind_case() != Value::kNumberValue) return false;
  double n = value.number_value();
  return n >= 0 && n <= 4294967295.0 && std::floor(n) == n;
}

// Custom values are strings (at most 500 bytes) or unsigned integers.
absl::Status ValidateCustomValue(const std::string& tag, const Value& value, int32_t wrong_type,
                                 int32_t too_long) {
  if (value.kind_case() == Value::kStringValue) {
    if (value.string_value().size() > kMaxValueBytes) {
      return errors::Error(too_long, absl::StrCat(tag, " is longer than 500 bytes"));
    }
    return absl::OkStatus();
  }
  if (IsUint32(value)) return absl::OkStatus();
  return errors::Error(wrong_type, absl::StrCat(tag, " must be a string or an unsigned integer"));
}

}  // namespace

AllowType ParseAllowType(const std::string& value) {
  if (value == "AllowType_Type_AllowAny") return AllowType::kAllowAny;
  if (value == "AllowType_Type_DenyAny") return AllowType::kDenyAny;
  return AllowType::kNeedConfirm;
}

AddDecision DecideFriendAdd(const AddFacts& f) {
  AddDecision d;
  if (f.requester_forbidden) {
    d.code = kSnsForbiddenToAdd;
    return d;
  }
  if (f.requester_blocked_target) {
    d.code = kTargetInYourBlocklist;
    return d;
  }
  if (f.target_blocked_requester) {
    d.code = kYouInTargetsBlocklist;
    return d;
  }
  bool need_forward = !f.requester_has_target;
  bool need_reverse = f.both && !f.target_has_requester;
  if (!need_forward && !need_reverse) return d;  // already friends: nothing to do
  if (need_forward && f.requester_friend_count >= f.friend_limit) {
    d.code = kOwnFriendListFull;
    return d;
  }
  if (need_reverse && f.target_friend_count >= f.friend_limit) {
    d.code = kPeerFriendListFull;
    return d;
  }
  if (!f.force) {
    if (f.target_allows == AllowType::kDenyAny) {
      d.code = kTargetDeniesAll;
      return d;
    }
    if (f.target_allows == AllowType::kNeedConfirm) {
      if (f.target_pending_count >= f.pending_limit) {
        d.code = kPendingListFull;
        return d;
      }
      d.code = kAddedAsPending;
      d.create_request = true;
      return d;
    }
  }
  d.add_forward = need_forward;
  d.add_reverse = need_reverse;
  return d;
}

ResponseDecision DecideResponse(const ResponseFacts& f) {
  ResponseDecision d;
  if (!f.agree) return d;  // a rejection only removes the request
  if (f.responder_blocked_requester) {
    d.code = kTargetInYourBlocklist;
    return d;
  }
  if (f.requester_blocked_responder) {
    d.code = kYouInTargetsBlocklist;
    return d;
  }
  bool to_requester = !f.requester_has_responder;
  bool to_responder = (f.agree_and_add || f.request_was_both) && !f.responder_has_requester;
  if (to_responder && f.responder_friend_count >= f.friend_limit) {
    d.code = kOwnFriendListFull;
    return d;
  }
  if (to_requester && f.requester_friend_count >= f.friend_limit) {
    d.code = kPeerFriendListFull;
    return d;
  }
  d.add_to_requester = to_requester;
  d.add_to_responder = to_responder;
  return d;
}

std::string FriendRelation(bool a_has_b, bool b_has_a, bool check_both) {
  if (!check_both) return a_has_b ? "CheckResult_Type_AWithB" : "CheckResult_Type_NoRelation";
  if (a_has_b && b_has_a) return "CheckResult_Type_BothWay";
  if (a_has_b) return "CheckResult_Type_AWithB";
  if (b_has_a) return "CheckResult_Type_BWithA";
  return "CheckResult_Type_NoRelation";
}

std::string BlockRelation(bool a_blocked_b, bool b_blocked_a, bool check_both) {
  if (!check_both) return a_blocked_b ? "BlackCheckResult_Type_AWithB" : "BlackCheckResult_Type_NO";
  if (a_blocked_b && b_blocked_a) return "BlackCheckResult_Type_BothWay";
  if (a_blocked_b) return "BlackCheckResult_Type_AWithB";
  if (b_blocked_a) return "BlackCheckResult_Type_BWithA";
  return "BlackCheckResult_Type_NO";
}

absl::Status ValidateProfileItem(const std::string& tag, const Value& value, bool is_admin,
                                 const std::set<std::string>& declared_custom) {
  if (absl::StartsWith(tag, kProfileCustomPrefix)) {
    std::string key = tag.substr(sizeof(kProfileCustomPrefix) - 1);
    if (!declared_custom.count(key)) {
      return errors::Error(kProfileTagUnknown,
                           absl::StrCat(tag, " is not a custom profile tag declared for this app"));
    }
    return ValidateCustomValue(tag, value, kProfileValueWrongType, kProfileValueTooLong);
  }
  auto it = StandardProfileTags().find(tag);
  if (it == StandardProfileTags().end()) {
    return errors::Error(kProfileTagUnknown, absl::StrCat("unknown profile tag ", tag));
  }
  const StandardTag& spec = it->second;
  if (spec.admin_only && !is_admin) {
    return errors::Error(kProfileNoWritePermission,
                         absl::StrCat(tag, " can only be set by the app's backend"));
  }
  switch (spec.type) {
    case TagType::kString:
      if (value.kind_case() != Value::kStringValue) {
        return errors::Error(kProfileValueWrongType, absl::StrCat(tag, " must be a string"));
      }
      if (value.string_value().size() > kMaxValueBytes) {
        return errors::Error(kProfileValueTooLong, absl::StrCat(tag, " is longer than 500 bytes"));
      }
      return absl::OkStatus();
    case TagType::kUint32:
      if (value.kind_case() != Value::kNumberValue) {
        return errors::Error(kProfileValueWrongType, absl::StrCat(tag, " must be a number"));
      }
      if (!IsUint32(value)) {
        return errors::Error(kProfileValueInvalid,
                             absl::StrCat(tag, " must be an integer from 0 to 4294967295"));
      }
      return absl::OkStatus();
    case TagType::kEnum:
      if (value.kind_case() != Value::kStringValue) {
        return errors::Error(kProfileValueWrongType, absl::StrCat(tag, " must be a string"));
      }
      if (!spec.allowed.count(value.string_value())) {
        return errors::Error(kProfileValueInvalid,
                             absl::StrCat(tag, " has an invalid value: ", value.string_value()));
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::Status ValidateSnsItem(const std::string& tag, const Value& value,
                             const std::set<std::string>& declared_custom) {
  if (absl::StartsWith(tag, kSnsCustomPrefix)) {
    std::string key = tag.substr(sizeof(kSnsCustomPrefix) - 1);
    if (!declared_custom.count(key)) {
      return errors::Error(kSnsBadParam,
                           absl::StrCat(tag, " is not a custom friend tag declared for this app"));
    }
    return ValidateCustomValue(tag, value, kSnsBadParam, kSnsBadParam);
  }
  if (tag == "Tag_SNS_IM_Remark") {
    if (value.kind_case() != Value::kStringValue) {
      return errors::Error(kSnsBadParam, "Tag_SNS_IM_Remark must be a string");
    }
    if (value.string_value().size() > kMaxRemarkBytes) {
      return errors::Error(kSnsBadParam, "Tag_SNS_IM_Remark is longer than 96 bytes");
    }
    return absl::OkStatus();
  }
  if (tag == "Tag_SNS_IM_Group") {
    if (value.kind_case() != Value::kListValue) {
      return errors::Error(kSnsBadParam, "Tag_SNS_IM_Group must be an array of strings");
    }
    if (static_cast<size_t>(value.list_value().values_size()) > kMaxFriendGroups) {
      return errors::Error(kFriendGroupLimit, "a friend is in at most 32 friend lists");
    }
    for (const auto& name : value.list_value().values()) {
      if (name.kind_case() != Value::kStringValue || name.string_value().empty() ||
          name.string_value().size() > kMaxFriendGroupNameBytes) {
        return errors::Error(kSnsBadParam, "friend list names are 1 to 30 bytes");
      }
    }
    return absl::OkStatus();
  }
  return errors::Error(kSnsBadParam, absl::StrCat(tag, " cannot be updated"));
}

bool ValidCustomKey(const std::string& key) {
  if (key.empty() || key.size() > kMaxCustomKeyBytes) return false;
  for (char c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

bool ValidAddSource(const std::string& source) {
  constexpr char kPrefix[] = "AddSource_Type_";
  if (!absl::StartsWith(source, kPrefix)) return false;
  std::string rest = source.substr(sizeof(kPrefix) - 1);
  if (rest.empty() || rest.size() > 8) return false;
  for (char c : rest) {
    if (!std::isalpha(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

std::vector<std::string> GroupNames(const Value& value) {
  std::vector<std::string> out;
  if (value.kind_case() == Value::kStringValue && !value.string_value().empty()) {
    out.push_back(value.string_value());
  } else if (value.kind_case() == Value::kListValue) {
    for (const auto& v : value.list_value().values()) {
      if (v.kind_case() == Value::kStringValue && !v.string_value().empty()) {
        out.push_back(v.string_value());
      }
    }
  }
  return out;
}

bool ValidGroupNames(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (n.size() > kMaxFriendGroupNameBytes) return false;
  }
  return names.size() <= kMaxFriendGroups;
}

const char* AddInfo(int32_t code) {
  switch (code) {
    case 0: return "";
    case kAddedAsPending: return "the request is waiting for the target's confirmation";
    case kSnsForbiddenToAdd: return "the account is forbidden to send friend requests";
    case kTargetInYourBlocklist: return "the target is in your blocklist";
    case kYouInTargetsBlocklist: return "you are in the target's blocklist";
    case kOwnFriendListFull: return "your friend list is full";
    case kPeerFriendListFull: return "the target's friend list is full";
    case kTargetDeniesAll: return "the target accepts no friend requests";
    case kPendingListFull: return "the target has too many pending requests";
    case kFriendGroupLimit: return "at most 32 friend lists";
    default: return "refused";
  }
}

int32_t CallbackCode(int64_t code) {
  return static_cast<int32_t>(code >= 38000 && code <= 39000 ? code : 38000);
}

std::map<std::string, Refusal> CallbackRefusals(const std::string& answer_json) {
  std::map<std::string, Refusal> refused;
  auto answer = nlohmann::json::parse(answer_json, nullptr, false);
  if (!answer.is_object()) return refused;
  auto items = answer.find("ResultItem");
  if (items == answer.end() || !items->is_array()) return refused;
  for (const auto& item : *items) {
    if (!item.is_object()) continue;
    auto to = item.find("To_Account");
    auto code = item.find("ResultCode");
    if (to == item.end() || !to->is_string()) continue;
    if (code == item.end() || !code->is_number_integer() || code->get<int64_t>() == 0) continue;
    auto info = item.find("ResultInfo");
    refused[to->get<std::string>()] = {
        CallbackCode(code->get<int64_t>()),
        info != item.end() && info->is_string() ? info->get<std::string>()
                                                : "refused by the app's callback"};
  }
  return refused;
}

}  // namespace parley::relationship
