#include "all_member_rules.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "push_rules.h"

namespace parley::push {
namespace {
constexpr int32_t kBadField = 90001;
}  // namespace

absl::Status CheckTag(const std::string& tag) {
  if (tag.empty()) return errors::Error(kTagEmpty, "a tag is empty");
  if (tag.size() > kMaxTagBytes) return errors::Error(kTagTooLong, "a tag is longer than 50 bytes");
  return absl::OkStatus();
}

bool EmptyCondition(const v1::ImPushCondition& c) {
  return c.tags_and().empty() && c.tags_or().empty() && c.attrs_and().empty() &&
         c.attrs_or().empty();
}

absl::Status CheckCondition(const v1::ImPushCondition& c, const std::set<std::string>& attr_names) {
  bool tags = !c.tags_and().empty() || !c.tags_or().empty();
  bool attrs = !c.attrs_and().empty() || !c.attrs_or().empty();
  if (tags && attrs) return errors::Error(kBadField, "Condition takes tags or attributes, not both");
  if (!c.tags_and().empty() && !c.tags_or().empty()) {
    return errors::Error(kBadField, "Condition takes TagsAnd or TagsOr, not both");
  }
  if (!c.attrs_and().empty() && !c.attrs_or().empty()) {
    return errors::Error(kBadField, "Condition takes AttrsAnd or AttrsOr, not both");
  }
  const auto& list = c.tags_and().empty() ? c.tags_or() : c.tags_and();
  if (static_cast<size_t>(list.size()) > kMaxConditionTags) {
    return errors::Error(kTooManyTags, "Condition has more than 10 tags");
  }
  std::set<std::string> seen;
  for (const auto& tag : list) {
    if (auto st = CheckTag(tag); !st.ok()) return st;
    if (!seen.insert(tag).second) return errors::Error(kTagDuplicate, "Condition repeats a tag");
  }
  const auto& map = c.attrs_and().empty() ? c.attrs_or() : c.attrs_and();
  if (map.size() > kMaxAttrNames) return errors::Error(kBadAttribute, "Condition has more than 10 attributes");
  for (const auto& [name, value] : map) {
    if (!attr_names.count(name)) {
      return errors::Error(kBadAttribute, "Condition names an attribute im_set_attr_name did not set");
    }
  }
  return absl::OkStatus();
}

bool ConditionMatches(const v1::ImPushCondition& c, const std::set<std::string>& tags,
                      const std::map<std::string, std::string>& attrs) {
  if (EmptyCondition(c)) return true;
  if (!c.tags_and().empty()) {
    for (const auto& t : c.tags_and()) {
      if (!tags.count(t)) return false;
    }
    return true;
  }
  if (!c.tags_or().empty()) {
    for (const auto& t : c.tags_or()) {
      if (tags.count(t)) return true;
    }
    return false;
  }
  auto has = [&](const std::string& name, const std::string& value) {
    auto it = attrs.find(name);
    return it != attrs.end() && it->second == value;
  };
  if (!c.attrs_and().empty()) {
    for (const auto& [name, value] : c.attrs_and()) {
      if (!has(name, value)) return false;
    }
    return true;
  }
  for (const auto& [name, value] : c.attrs_or()) {
    if (has(name, value)) return true;
  }
  return false;
}

absl::StatusOr<std::map<int, std::string>> ParseAttrNames(const v1::AttrNames& names) {
  if (names.attr_names().size() > kMaxAttrNames) {
    return errors::Error(kBadAttribute, "at most 10 attributes");
  }
  std::map<int, std::string> out;
  std::set<std::string> seen;
  for (const auto& [key, name] : names.attr_names()) {
    int index = -1;
    if (!absl::SimpleAtoi(key, &index) || index < 0 || index > 9 || key.size() != 1) {
      return errors::Error(kBadAttribute, "AttrNames keys are 0 to 9");
    }
    if (name.empty() || name.size() > 50) {
      return errors::Error(kBadAttribute, "an attribute name is empty or longer than 50 bytes");
    }
    if (!seen.insert(name).second) return errors::Error(kBadAttribute, "attribute names repeat");
    out[index] = name;
  }
  return out;
}

std::optional<v1::Notification> MakeBroadcastNotification(const v1::AllMemberMessage& message) {
  v1::C2CMessage as_message;
  as_message.set_from_account(message.from_account());
  *as_message.mutable_msg_body() = message.msg_body();
  *as_message.mutable_offline_push_info() = message.offline_push_info();
  as_message.set_msg_key(message.task_id());
  auto n = MakeC2CNotification(as_message);
  if (!n) return n;
  n->set_kind(3);
  return n;
}

}  // namespace parley::push
