// SQL of Community permission groups (migrations/0009; docs/architecture.md
// "Community permission groups"). Each function runs in the caller's
// transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace parley::group {

struct PermissionGroupRow {
  std::string id, name, custom_string;
  uint32_t permission = 0;
  uint32_t member_num = 0;
  int64_t serial = 0;
};

namespace store {

// False when the ID is taken in the community.
bool InsertPermissionGroup(pqxx::work& tx, uint64_t app, const std::string& group,
                           const PermissionGroupRow& row);
std::optional<PermissionGroupRow> PermissionGroup(pqxx::work& tx, uint64_t app,
                                                  const std::string& group, const std::string& id);
// Those of `ids`, or (ids empty) a page after `after_serial` in creation order.
std::vector<PermissionGroupRow> PermissionGroups(pqxx::work& tx, uint64_t app,
                                                 const std::string& group,
                                                 const std::vector<std::string>& ids,
                                                 int64_t after_serial, uint32_t limit);
uint32_t PermissionGroupCount(pqxx::work& tx, uint64_t app, const std::string& group);
void UpdatePermissionGroup(pqxx::work& tx, uint64_t app, const std::string& group,
                           const PermissionGroupRow& row);
// False when there was none.
bool DeletePermissionGroup(pqxx::work& tx, uint64_t app, const std::string& group,
                           const std::string& id);

// Of `users` (members of the community), those newly added.
std::vector<std::string> AddPermissionMembers(pqxx::work& tx, uint64_t app,
                                              const std::string& group, const std::string& pg,
                                              const std::vector<std::string>& users);
std::vector<std::string> DeletePermissionMembers(pqxx::work& tx, uint64_t app,
                                                 const std::string& group, const std::string& pg,
                                                 const std::vector<std::string>& users);
// (user, serial) after `after_serial`, in the order they were added.
std::vector<std::pair<std::string, int64_t>> PermissionMembers(pqxx::work& tx, uint64_t app,
                                                               const std::string& group,
                                                               const std::string& pg,
                                                               int64_t after_serial,
                                                               uint32_t limit);

// A permission group's bits in a topic: insert only (`add`) or update only.
// False when that did nothing (there already was one / there was none).
bool PutTopicPermission(pqxx::work& tx, uint64_t app, const std::string& group,
                        const std::string& pg, const std::string& topic, uint32_t bits, bool add);
bool DeleteTopicPermission(pqxx::work& tx, uint64_t app, const std::string& group,
                           const std::string& pg, const std::string& topic);
// (topic, bits) of the permission group: those of `topics`, or all.
std::vector<std::pair<std::string, uint32_t>> TopicPermissions(
    pqxx::work& tx, uint64_t app, const std::string& group, const std::string& pg,
    const std::vector<std::string>& topics);

// The bits of the permission groups `user` is in (0 for none): in the
// community, and in `topic`.
uint32_t MemberBits(pqxx::work& tx, uint64_t app, const std::string& group,
                    const std::string& user);
uint32_t MemberTopicBits(pqxx::work& tx, uint64_t app, const std::string& group,
                         const std::string& topic, const std::string& user);

}  // namespace store
}  // namespace parley::group
