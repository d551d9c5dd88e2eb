// The group service's SQL. Every function runs inside the caller's
// transaction; GroupLogic opens it, locks the group's row first (Group(...,
// lock = true)) when it changes the group or its members, and commits.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "group_rules.h"

namespace parley::group {

struct GroupRow {
  uint64_t sdkappid = 0;
  std::string group_id;
  GroupType type = GroupType::kPublic;
  std::string name, introduction, notification, face_url;
  std::string owner;  // empty: no owner
  uint32_t max_members = 0;
  std::string apply_join_option, invite_join_option;
  bool mute_all = false;
  bool activated = true;
  uint32_t member_count = 0;
  int64_t create_time = 0;
  int64_t info_seq = 1;
  int64_t last_info_time = 0;
  int64_t last_msg_time = 0;
  int64_t next_msg_seq = 1;
  int64_t serial = 0;
  bool support_topic = false;  // a Community with topics
  bool enable_permission = false;  // a Community's permission groups are on
  uint32_t default_permission = 0;
};

struct MemberRow {
  std::string user_id;
  Role role = Role::kMember;
  int64_t join_time = 0;
  MsgFlag msg_flag = MsgFlag::kAcceptAndNotify;
  std::string name_card;
  int64_t last_send_time = 0;
  int64_t mute_until = 0;  // from group_mutes; 0 = not muted
};

namespace store {

// The first column of every row, as text.
std::vector<std::string> Column(const pqxx::result& rows);

// The group, or nullopt. `lock`: FOR UPDATE, so changes to the group and its
// members serialise on this row.
std::optional<GroupRow> Group(pqxx::work& tx, uint64_t app, const std::string& id, bool lock);
// Members after `after` in UserID order, at most `limit`: (user, MsgFlag).
std::vector<std::pair<std::string, int16_t>> MembersAfter(pqxx::work& tx, uint64_t app,
                                                          const std::string& group_id,
                                                          const std::string& after,
                                                          uint32_t limit);
// Inserts the group (member_count 0); false if the ID is taken.
bool InsertGroup(pqxx::work& tx, const GroupRow& group);
// How many groups `owner` owns in the app.
uint32_t OwnedGroups(pqxx::work& tx, uint64_t app, const std::string& owner);
void DeleteGroup(pqxx::work& tx, uint64_t app, const std::string& id);
// Writes the profile fields, options and owner of `group`, bumping info_seq.
void UpdateGroup(pqxx::work& tx, const GroupRow& group, int64_t now);

// Adds members that are not members yet; returns the ones added. Keeps
// member_count in step.
std::vector<std::string> InsertMembers(pqxx::work& tx, uint64_t app, const std::string& id,
                                       const std::vector<MemberRow>& members);
// Removes those that are members; returns the ones removed.
std::vector<std::string> DeleteMembers(pqxx::work& tx, uint64_t app, const std::string& id,
                                       const std::vector<std::string>& users);
// The members among `users` (all members if `users` is empty and `all`),
// with their mutes, in join order.
std::vector<MemberRow> Members(pqxx::work& tx, uint64_t app, const std::string& id,
                               const std::vector<std::string>& users, int64_t now);
// One page of members in join order, optionally only some roles.
std::vector<MemberRow> MemberPage(pqxx::work& tx, uint64_t app, const std::string& id,
                                  const std::vector<Role>& roles, uint32_t offset, uint32_t limit,
                                  int64_t now);
void SetRole(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
             Role role);
void SetMemberFields(pqxx::work& tx, uint64_t app, const std::string& id, const MemberRow& m);
// mute_until 0 lifts the mute.
void SetMute(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
             int64_t mute_until);

// The custom-field keys an app declared (none until it declares some).
struct AppFields {
  std::vector<std::string> group_keys, member_keys;
  uint32_t room_msg_rate_limit = 0;  // 0: the default
  uint32_t room_recent_count = 0;
};
AppFields GetAppFields(pqxx::work& tx, uint64_t app);
void PutAppFields(pqxx::work& tx, uint64_t app, const AppFields& fields);
// A group's AppDefinedData and members' AppMemberDefinedData.
CustomData GroupData(pqxx::work& tx, uint64_t app, const std::string& id);
void PutGroupData(pqxx::work& tx, uint64_t app, const std::string& id, const CustomData& data);
std::map<std::string, CustomData> MemberData(pqxx::work& tx, uint64_t app, const std::string& id,
                                             const std::vector<std::string>& users);
void PutMemberData(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user,
                   const CustomData& data);

struct JoinRequestRow {
  std::string user_id;
  std::string message;
  int64_t apply_time = 0;
};
// Records (or renews) `user`'s request to join.
void PutJoinRequest(pqxx::work& tx, uint64_t app, const std::string& id, const JoinRequestRow& r);
std::vector<JoinRequestRow> JoinRequests(pqxx::work& tx, uint64_t app, const std::string& id);
// Deletes the request; false when there was none.
bool TakeJoinRequest(pqxx::work& tx, uint64_t app, const std::string& id, const std::string& user);

// A tip took `seq`: next_msg_seq moves past it (never back).
void NoteTipSeq(pqxx::work& tx, uint64_t app, const std::string& id, int64_t seq);

// A stored message, as the message service reports it.
struct MessageNote {
  std::string group_id, from;
  int64_t msg_seq = 0;
  int64_t msg_time = 0;
};
// After stored messages: each group's last message time and next seq (never
// backwards) and activation, and each sender's last send time. The groups'
// rows are locked first, in group order, so concurrent calls cannot
// deadlock; three statements whatever the number of notes.
void NoteMessages(pqxx::work& tx, uint64_t app, const std::vector<MessageNote>& notes);

// Active mutes (until after `now`) of current members.
// Running mutes, in join order; `members_only` leaves out those of users
// who are not members (an AVChatRoom's members have no rows: false).
std::vector<std::pair<std::string, int64_t>> Mutes(pqxx::work& tx, uint64_t app,
                                                   const std::string& id, int64_t now,
                                                   bool members_only = true);

Attrs GetAttrs(pqxx::work& tx, uint64_t app, const std::string& id);
void PutAttrs(pqxx::work& tx, uint64_t app, const std::string& id, const Attrs& attrs);
// The named counters (all when `keys` is empty).
Counters GetCounters(pqxx::work& tx, uint64_t app, const std::string& id,
                     const std::vector<std::string>& keys);
// Writes every counter of `counters` (a group's whole set after a change).
void PutCounters(pqxx::work& tx, uint64_t app, const std::string& id, const Counters& counters);
void DeleteCounters(pqxx::work& tx, uint64_t app, const std::string& id,
                    const std::vector<std::string>& keys);

// The app's groups in creation order after `after_serial`, optionally of one
// type; `total` gets how many there are in all (of that type).
std::vector<GroupRow> AppGroups(pqxx::work& tx, uint64_t app, std::optional<GroupType> type,
                                int64_t after_serial, uint32_t limit, uint32_t* total);

struct Joined {
  GroupRow group;
  MemberRow self;
};
// `user`'s groups in join order; Work groups without a message yet only if
// `with_inactive`.
std::vector<Joined> JoinedGroups(pqxx::work& tx, uint64_t app, const std::string& user,
                                 std::optional<GroupType> type, bool with_inactive,
                                 uint32_t offset, uint32_t limit, int64_t now, uint32_t* total);

}  // namespace store
}  // namespace parley::group
