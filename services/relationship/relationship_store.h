// The relationship service's SQL. Every function runs inside the caller's
// transaction: RelationshipLogic opens it, locks the rel_users rows of
// everyone whose lists it may change first (LockUsers, in user-ID order),
// and commits. Nothing here decides anything; the rules (relationship_rules.h)
// and the logic do.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "parley/v1/relationship.pb.h"

namespace parley::relationship {

// An app's relationship settings (rel_settings); defaults when unset.
struct Settings {
  uint32_t friend_limit = 3000;
  uint32_t pending_limit = 1000;
  uint32_t blocklist_limit = 1000;
  bool check_friendship = false;
  bool admin_send_any = true;
  std::set<std::string> profile_custom;
  std::set<std::string> sns_custom;
};

// One friend-list entry: `owner` has `friend_id`.
struct FriendRow {
  std::string friend_id;
  std::string remark;
  std::vector<std::string> groups;
  std::string add_source;
  std::string add_wording;
  int64_t add_time = 0;
  int64_t remark_time = 0;
  std::string custom_json = "{}";  // Tag_SNS_Custom_* values, a JSON object
};

// A pending friend request from `from_id` to `to_id`.
struct PendingRequest {
  std::string from_id, to_id;
  std::string add_source, add_wording, remark, group_name, add_type;
  int64_t created_at = 0;
};

// Which per-user list a sequence counts changes of.
enum class ListSeq { kFriends, kBlocks, kFriendGroups };

// Which pending requests of a user: received, sent, or both.
enum class Direction { kIncoming, kOutgoing, kBoth };

struct PendencyPage {
  std::vector<PendingRequest> items;  // newest first
  uint32_t total = 0;                  // in this direction
  int64_t read_time = 0;               // pendency_read_time
  uint32_t unread = 0;                 // incoming requests newer than read_time
};

namespace store {

// ---- settings and users ----
Settings LoadSettings(pqxx::transaction_base& tx, uint64_t app);
// Writes the fields `update` has (tags replaced when given, cleared on
// clear_custom_tags).
void SaveSettings(pqxx::work& tx, const v1::RelationshipSettings& update);
// Creates missing rel_users rows and locks them, in user-ID order.
void LockUsers(pqxx::work& tx, uint64_t app, std::vector<std::string> users);
void BumpSeq(pqxx::work& tx, uint64_t app, const std::string& user, ListSeq seq);
uint64_t CurrentSeq(pqxx::transaction_base& tx, uint64_t app, const std::string& user, ListSeq seq);

// ---- who has whom (one query per call, whatever the batch) ----
// Which of `others` are in `owner`'s friend list.
std::set<std::string> FriendsOf(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                                const std::vector<std::string>& others);
// Which of `owners` have `user` in their friend list.
std::set<std::string> HavingFriend(pqxx::transaction_base& tx, uint64_t app,
                                   const std::string& user, const std::vector<std::string>& owners);
// Which of `others` `owner` has blocked.
std::set<std::string> BlockedBy(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                                const std::vector<std::string>& others);
// Which of `owners` have blocked `user`.
std::set<std::string> Blocking(pqxx::transaction_base& tx, uint64_t app, const std::string& user,
                               const std::vector<std::string>& owners);
// Friend-list sizes of `owners` (absent: 0).
std::map<std::string, uint32_t> FriendCounts(pqxx::transaction_base& tx, uint64_t app,
                                             const std::vector<std::string>& owners);
// Incoming pending requests of each of `users` (absent: 0).
std::map<std::string, uint32_t> PendingCounts(pqxx::transaction_base& tx, uint64_t app,
                                              const std::vector<std::string>& users);
// Everyone who has `user` as a friend.
std::vector<std::string> OwnersHavingFriend(pqxx::transaction_base& tx, uint64_t app,
                                            const std::string& user);

// ---- friends ----
// Adds the entry (nothing if it exists), its groups to the owner's friend
// lists, and bumps the owner's friend sequence.
void InsertFriend(pqxx::work& tx, uint64_t app, const std::string& owner, const FriendRow& row);
// Removes the entry and bumps the sequence; false if there was none.
bool DeleteFriend(pqxx::work& tx, uint64_t app, const std::string& owner,
                  const std::string& friend_id);
// Empties `owner`'s friend list and bumps the sequence.
void DeleteAllFriends(pqxx::work& tx, uint64_t app, const std::string& owner);
std::optional<FriendRow> Friend(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                                const std::string& friend_id);
// The entries for `others` that exist, keyed by friend.
std::map<std::string, FriendRow> Friends(pqxx::transaction_base& tx, uint64_t app,
                                         const std::string& owner,
                                         const std::vector<std::string>& others);
// Up to `limit` entries in friend-ID order from `offset`.
std::vector<FriendRow> FriendPage(pqxx::transaction_base& tx, uint64_t app,
                                  const std::string& owner, uint32_t offset, uint32_t limit);
// Who is in `owner`'s friend list, in ID order, and how many.
std::vector<std::string> FriendIds(pqxx::transaction_base& tx, uint64_t app,
                                   const std::string& owner);
uint32_t FriendCount(pqxx::transaction_base& tx, uint64_t app, const std::string& owner);
// Writes remark (with remark_time), groups and custom values of an existing
// entry and bumps the owner's friend sequence.
void UpdateFriend(pqxx::work& tx, uint64_t app, const std::string& owner, const FriendRow& row);

// ---- friend lists (the Tag_SNS_IM_Group names) ----
// Adds `names` to `owner`'s friend lists and bumps the list sequence.
void EnsureFriendGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                        const std::vector<std::string>& names);
// How many friend lists `owner` would have with `adding` added.
uint32_t FriendGroupCountAfter(pqxx::transaction_base& tx, uint64_t app, const std::string& owner,
                               const std::vector<std::string>& adding);
// Puts `friend_id` in the lists `names` too.
void AddToFriendGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                       const std::string& friend_id, const std::vector<std::string>& names);
// Deletes the lists among `names` and takes them off every entry; returns
// the ones that existed.
std::vector<std::string> DeleteFriendGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                                            const std::vector<std::string>& names);
// `owner`'s list names in order, and (list, friend) pairs in order.
std::vector<std::string> FriendGroupNames(pqxx::transaction_base& tx, uint64_t app,
                                          const std::string& owner);
std::vector<std::pair<std::string, std::string>> FriendGroupMembers(pqxx::transaction_base& tx,
                                                                    uint64_t app,
                                                                    const std::string& owner);

// ---- pending requests ----
// Stores the request, replacing an earlier one between the same pair.
void UpsertRequest(pqxx::work& tx, uint64_t app, const PendingRequest& request);
// Deletes the request from `from` to `to` and returns it, or nullopt.
std::optional<PendingRequest> TakeRequest(pqxx::work& tx, uint64_t app, const std::string& from,
                                          const std::string& to);
// Deletes requests both ways between the pair.
void DeleteRequestsBetween(pqxx::work& tx, uint64_t app, const std::string& a,
                           const std::string& b);
PendencyPage Pendencies(pqxx::transaction_base& tx, uint64_t app, const std::string& user,
                        Direction direction, uint32_t offset, uint32_t limit);
// Moves pendency_read_time forward (never back).
void MarkPendenciesRead(pqxx::work& tx, uint64_t app, const std::string& user, int64_t read_time);

// ---- blocklist ----
uint32_t BlockCount(pqxx::transaction_base& tx, uint64_t app, const std::string& owner);
void InsertBlock(pqxx::work& tx, uint64_t app, const std::string& owner,
                 const std::string& blocked, int64_t now);
// Unblocks those of `blocked` that were blocked; returns them.
std::set<std::string> DeleteBlocks(pqxx::work& tx, uint64_t app, const std::string& owner,
                                   const std::vector<std::string>& blocked);
// Up to `limit` (blocked, added_at) in blocking order from `offset`.
std::vector<std::pair<std::string, int64_t>> BlockPage(pqxx::transaction_base& tx, uint64_t app,
                                                       const std::string& owner, uint32_t offset,
                                                       uint32_t limit);

// ---- profiles ----
// One profile tag of each of `users`, as text (missing: absent from the map).
std::map<std::string, std::string> ProfileTexts(pqxx::transaction_base& tx, uint64_t app,
                                                const std::vector<std::string>& users,
                                                const std::string& tag);
// The wanted tags of `users`: user -> tag -> JSON value. Only those tags
// leave PostgreSQL.
std::map<std::string, std::map<std::string, nlohmann::json>> ProfileTags(
    pqxx::transaction_base& tx, uint64_t app, const std::vector<std::string>& users,
    const std::vector<std::string>& tags);
// Merges `values_json` (a JSON object of tags) into the user's profile.
void MergeProfile(pqxx::work& tx, uint64_t app, const std::string& user,
                  const std::string& values_json);

// ---- internal ----
// Deletes `users` and every row naming them, after locking them and everyone
// whose lists change. Returns the remaining owners who lost entries, with
// the entries they lost; their friend and block sequences are bumped.
std::map<std::string, std::vector<std::string>> ForgetUsers(pqxx::work& tx, uint64_t app,
                                                            const std::vector<std::string>& users);
// The facts a one-to-one send from `from` to `to` is judged on.
v1::CheckSendPermissionResponse SendFacts(pqxx::transaction_base& tx, uint64_t app,
                                          const std::string& from, const std::string& to);

}  // namespace store
}  // namespace parley::relationship
