// The pure rules of all-member push (compat reference §3.3): conditions,
// tags, attribute names, and who a condition takes. No I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/v1/message.pb.h"
#include "parley/v1/push.pb.h"

namespace parley::push {

inline constexpr size_t kMaxAttrNames = 10;
inline constexpr size_t kMaxConditionTags = 10;
inline constexpr size_t kMaxTagsPerUser = 100;
inline constexpr size_t kMaxTagBytes = 50;
inline constexpr size_t kMaxAccountsPerCall = 100;
inline constexpr int64_t kMaxBroadcastLifeSeconds = 604800;

// Tencent's codes for all_member_push.
inline constexpr int32_t kTagDuplicate = 90022;
inline constexpr int32_t kPushTooFrequent = 90024;
inline constexpr int32_t kLifeTimeTooLarge = 90026;
inline constexpr int32_t kTooManyTags = 90032;
inline constexpr int32_t kBadAttribute = 90033;
inline constexpr int32_t kTagTooLong = 90034;
inline constexpr int32_t kTagEmpty = 90040;
inline constexpr int32_t kDailyLimit = 90047;
inline constexpr int32_t kTooManyAccounts = 90018;

// A tag's problem (OK when it is fine): empty 90040, over 50 bytes 90034.
absl::Status CheckTag(const std::string& tag);
// A condition's problem: tags and attributes mixed, or And and Or mixed
// (90001); over 10 tags or attributes (90032, 90033); a duplicate tag
// (90022); a bad tag; an attribute not named with im_set_attr_name (90033).
absl::Status CheckCondition(const v1::ImPushCondition& condition,
                            const std::set<std::string>& attr_names);
bool EmptyCondition(const v1::ImPushCondition& condition);
// Whether a user with these tags and attributes is taken by the condition
// (an empty one takes everyone).
bool ConditionMatches(const v1::ImPushCondition& condition, const std::set<std::string>& tags,
                      const std::map<std::string, std::string>& attrs);
// AttrNames ("0" to "9" -> name, names unique, 1 to 50 bytes), or 90033.
absl::StatusOr<std::map<int, std::string>> ParseAttrNames(const v1::AttrNames& names);

// The Redis key of the highest all-member task a user has had, and the
// script that raises it (KEYS[1], ARGV[1] the seq, ARGV[2] ms to keep).
std::string BroadcastMarkerKey(uint64_t sdkappid, const std::string& user);
extern const char kRaiseMarkerScript[];

// The notification an all-member push makes: OfflinePushInfo as for
// messages, the sender as default title; no badge. nullopt: PushFlag 1 or
// nothing to show.
std::optional<v1::Notification> MakeBroadcastNotification(const v1::AllMemberMessage& message);

}  // namespace parley::push
