// SQL of Community topics (migrations/0008; docs/architecture.md "Community
// topics"). Each function runs in the caller's transaction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace parley::group {

struct TopicRow {
  std::string topic_id, group_id;
  std::string name, face_url, notification, introduction, custom_string;
  bool mute_all = false;
  int64_t create_time = 0;
  int64_t last_msg_time = 0;
  int64_t next_msg_seq = 1;
  uint32_t default_permission = 0;  // topic bits every member has in it
};

namespace store {

// False when the ID is taken.
bool InsertTopic(pqxx::work& tx, uint64_t app, const TopicRow& topic);
// With `lock`, the row stays locked to the end of the transaction.
std::optional<TopicRow> Topic(pqxx::work& tx, uint64_t app, const std::string& topic_id,
                              bool lock);
// A community's topics in creation order (all, or those of `ids`).
std::vector<TopicRow> Topics(pqxx::work& tx, uint64_t app, const std::string& group_id,
                             const std::vector<std::string>& ids);
uint32_t TopicCount(pqxx::work& tx, uint64_t app, const std::string& group_id);
void UpdateTopic(pqxx::work& tx, uint64_t app, const TopicRow& topic);
void DeleteTopic(pqxx::work& tx, uint64_t app, const std::string& topic_id);
// 0 unmutes.
void SetTopicMute(pqxx::work& tx, uint64_t app, const std::string& topic_id,
                  const std::string& user, int64_t mute_until);
// When the user's mute in the topic ends (0: not muted now).
int64_t TopicMuteOf(pqxx::work& tx, uint64_t app, const std::string& topic_id,
                    const std::string& user, int64_t now);
// The topics of `group_id` where `user` is muted now, with when it ends.
std::map<std::string, int64_t> UserTopicMutes(pqxx::work& tx, uint64_t app,
                                              const std::string& group_id,
                                              const std::string& user, int64_t now);
// Members muted in the topic now, in join order.
std::vector<std::pair<std::string, int64_t>> TopicMutes(pqxx::work& tx, uint64_t app,
                                                        const std::string& group_id,
                                                        const std::string& topic_id, int64_t now);
// The last message time and next seq of the topics in `notes` (topic, time, seq).
void NoteTopicMessages(pqxx::work& tx, uint64_t app, const std::vector<std::string>& topics,
                       const std::vector<int64_t>& times, const std::vector<int64_t>& seqs);

}  // namespace store
}  // namespace parley::group
