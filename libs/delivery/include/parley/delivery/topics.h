// Community topic IDs (compat reference §5): "<GroupId>@TOPIC#_<suffix>".
// A topic has its own message seq, stored under its whole ID; its members
// and its delivery are the community's. Group IDs never hold the mark, so
// the first one ends the community's ID.
#pragma once

#include <string>
#include <string_view>

#include "parley/v1/group_message.pb.h"

namespace parley::delivery {

inline constexpr std::string_view kTopicMark = "@TOPIC#_";
inline constexpr size_t kMaxTopicIdBytes = 96;

// The community of a topic ID; empty for anything else.
inline std::string_view CommunityOf(std::string_view id) {
  size_t at = id.find(kTopicMark);
  if (at == std::string_view::npos || at == 0 || at + kTopicMark.size() == id.size()) return {};
  return id.substr(0, at);
}

// Whether `topic` names a topic of `group`.
inline bool TopicOf(std::string_view topic, std::string_view group) {
  return !group.empty() && CommunityOf(topic) == group;
}

// The seq key of a group's (topic empty) or a topic's events.
inline const std::string& StreamOf(const std::string& group, const std::string& topic) {
  return topic.empty() ? group : topic;
}

// An event read or made under its stream's ID, as clients see it: a topic's
// event names the community in group_id and the topic in topic_id.
inline void SplitStream(v1::GroupEvent* event) {
  std::string_view community = CommunityOf(event->group_id());
  if (community.empty()) return;
  std::string topic = event->group_id();
  event->set_group_id(std::string(community));
  event->set_topic_id(topic);
  if (event->has_message()) {
    event->mutable_message()->set_group_id(std::string(community));
    event->mutable_message()->set_topic_id(topic);
  }
}

}  // namespace parley::delivery
