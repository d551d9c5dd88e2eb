#include "relationship_service.h"

#include <google/protobuf/struct.pb.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/protojson/protojson.h"
#include "rules.h"

namespace parley::relationship {

using accounts::ValidUserId;
using google::protobuf::Struct;
using google::protobuf::Value;

namespace {

constexpr uint32_t kFriendPage = 100;
constexpr uint32_t kListPage = 100;
constexpr char kSendOut[] = "Pendency_Type_SendOut";
constexpr char kComeIn[] = "Pendency_Type_ComeIn";

struct Settings {
  uint32_t friend_limit = 3000;
  uint32_t pending_limit = 1000;
  uint32_t blocklist_limit = 1000;
  bool check_friendship = false;
  bool admin_send_any = true;
  std::set<std::string> profile_custom;
  std::set<std::string> sns_custom;
};

std::set<std::string> ParseArray(const pqxx::field& field) {
  std::set<std::string> out;
  auto parser = field.as_array();
  for (auto item = parser.get_next(); item.first != pqxx::array_parser::juncture::done;
       item = parser.get_next()) {
    if (item.first == pqxx::array_parser::juncture::string_value) out.insert(item.second);
  }
  return out;
}

Settings LoadSettings(pqxx::work& tx, uint64_t sdkappid) {
  Settings s;
  auto rows = tx.exec_params(
      "SELECT friend_limit, pending_limit, blocklist_limit, check_friendship, admin_send_any,"
      " profile_custom_tags, sns_custom_tags FROM rel_settings WHERE sdkappid = $1",
      sdkappid);
  if (rows.empty()) return s;
  s.friend_limit = rows[0][0].as<uint32_t>();
  s.pending_limit = rows[0][1].as<uint32_t>();
  s.blocklist_limit = rows[0][2].as<uint32_t>();
  s.check_friendship = rows[0][3].as<bool>();
  s.admin_send_any = rows[0][4].as<bool>();
  s.profile_custom = ParseArray(rows[0][5]);
  s.sns_custom = ParseArray(rows[0][6]);
  return s;
}

// Creates missing rel_users rows and locks them, in user-ID order.
void LockUsers(pqxx::work& tx, uint64_t sdkappid, std::vector<std::string> users) {
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  std::string array = pg::TextArray(users);
  tx.exec_params(
      "INSERT INTO rel_users (sdkappid, user_id) SELECT $1, u FROM unnest($2::text[]) u"
      " ORDER BY u ON CONFLICT DO NOTHING",
      sdkappid, array);
  tx.exec_params(
      "SELECT 1 FROM rel_users WHERE sdkappid = $1 AND user_id = ANY($2::text[])"
      " ORDER BY user_id FOR UPDATE",
      sdkappid, array);
}

std::set<std::string> Column(const pqxx::result& rows) {
  std::set<std::string> out;
  for (const auto& row : rows) out.insert(row[0].as<std::string>());
  return out;
}

// One direction of a pair table (rel_friends: owner_id -> friend_id,
// rel_blocks: owner_id -> blocked_id): which of `candidates` stand on the
// `want` side of a row whose `have` side is `user`.
std::set<std::string> Linked(pqxx::work& tx, const char* table, const char* have,
                             const char* want, uint64_t app, const std::string& user,
                             const std::vector<std::string>& candidates) {
  return Column(tx.exec_params(absl::StrCat("SELECT ", want, " FROM ", table,
                                            " WHERE sdkappid = $1 AND ", have, " = $2 AND ", want,
                                            " = ANY($3::text[])"),
                               app, user, pg::TextArray(candidates)));
}

// Which of `others` are in `owner`'s friend list.
std::set<std::string> FriendsOf(pqxx::work& tx, uint64_t app, const std::string& owner,
                                const std::vector<std::string>& others) {
  return Linked(tx, "rel_friends", "owner_id", "friend_id", app, owner, others);
}

// Which of `owners` have `user` in their friend list.
std::set<std::string> HavingFriend(pqxx::work& tx, uint64_t app, const std::string& user,
                                   const std::vector<std::string>& owners) {
  return Linked(tx, "rel_friends", "friend_id", "owner_id", app, user, owners);
}

// Which of `others` `owner` has blocked.
std::set<std::string> BlockedBy(pqxx::work& tx, uint64_t app, const std::string& owner,
                                const std::vector<std::string>& others) {
  return Linked(tx, "rel_blocks", "owner_id", "blocked_id", app, owner, others);
}

// Which of `owners` have blocked `user`.
std::set<std::string> Blocking(pqxx::work& tx, uint64_t app, const std::string& user,
                               const std::vector<std::string>& owners) {
  return Linked(tx, "rel_blocks", "blocked_id", "owner_id", app, user, owners);
}

std::map<std::string, uint32_t> FriendCounts(pqxx::work& tx, uint64_t app,
                                             const std::vector<std::string>& owners) {
  std::map<std::string, uint32_t> counts;
  for (const auto& row : tx.exec_params(
           "SELECT owner_id, count(*) FROM rel_friends WHERE sdkappid = $1"
           " AND owner_id = ANY($2::text[]) GROUP BY owner_id",
           app, pg::TextArray(owners))) {
    counts[row[0].as<std::string>()] = row[1].as<uint32_t>();
  }
  return counts;
}

// One profile tag of each of `users`, as text (missing: absent from the map).
std::map<std::string, std::string> ProfileTexts(pqxx::work& tx, uint64_t app,
                                                const std::vector<std::string>& users,
                                                const std::string& tag) {
  std::map<std::string, std::string> out;
  for (const auto& row : tx.exec_params(
           "SELECT user_id, profile->>$3 FROM rel_users WHERE sdkappid = $1"
           " AND user_id = ANY($2::text[]) AND profile ? $3",
           app, pg::TextArray(users), tag)) {
    out[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  return out;
}

// Incoming pending requests of each of `users`.
std::map<std::string, uint32_t> PendingCounts(pqxx::work& tx, uint64_t app,
                                              const std::vector<std::string>& users) {
  std::map<std::string, uint32_t> out;
  for (const auto& row : tx.exec_params(
           "SELECT to_id, count(*) FROM rel_requests WHERE sdkappid = $1"
           " AND to_id = ANY($2::text[]) GROUP BY to_id",
           app, pg::TextArray(users))) {
    out[row[0].as<std::string>()] = row[1].as<uint32_t>();
  }
  return out;
}

struct FriendAttrs {
  std::string remark;
  std::vector<std::string> groups;
  std::string add_source;
  std::string add_wording;
  int64_t add_time = 0;
  int64_t remark_time = 0;
  std::string custom_json = "{}";
};

void BumpSeq(pqxx::work& tx, uint64_t app, const std::string& user, const char* column) {
  tx.exec_params(absl::StrCat("UPDATE rel_users SET ", column, " = ", column,
                              " + 1 WHERE sdkappid = $1 AND user_id = $2"),
                 app, user);
}

uint64_t Seq(pqxx::work& tx, uint64_t app, const std::string& user, const char* column) {
  auto rows = tx.exec_params(
      absl::StrCat("SELECT ", column, " FROM rel_users WHERE sdkappid = $1 AND user_id = $2"), app,
      user);
  return rows.empty() ? 0 : rows[0][0].as<uint64_t>();
}

// Adds the groups a friend is put in to the owner's friend lists.
void EnsureGroups(pqxx::work& tx, uint64_t app, const std::string& owner,
                  const std::vector<std::string>& groups) {
  if (groups.empty()) return;
  tx.exec_params(
      "INSERT INTO rel_friend_groups (sdkappid, owner_id, name) SELECT $1, $2, unnest($3::text[])"
      " ON CONFLICT DO NOTHING",
      app, owner, pg::TextArray(groups));
  BumpSeq(tx, app, owner, "group_seq");
}

uint32_t GroupCountAfter(pqxx::work& tx, uint64_t app, const std::string& owner,
                         const std::vector<std::string>& adding) {
  auto rows = tx.exec_params(
      "SELECT count(*) FROM (SELECT name FROM rel_friend_groups WHERE sdkappid = $1"
      " AND owner_id = $2 UNION SELECT unnest($3::text[])) g",
      app, owner, pg::TextArray(adding));
  return rows[0][0].as<uint32_t>();
}

void InsertFriend(pqxx::work& tx, uint64_t app, const std::string& owner,
                  const std::string& friend_id, const FriendAttrs& attrs) {
  tx.exec_params(
      "INSERT INTO rel_friends (sdkappid, owner_id, friend_id, remark, remark_time, groups,"
      " add_source, add_wording, add_time, custom)"
      " VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9, $10::jsonb) ON CONFLICT DO NOTHING",
      app, owner, friend_id, attrs.remark, attrs.remark_time, pg::TextArray(attrs.groups),
      attrs.add_source, attrs.add_wording, attrs.add_time, attrs.custom_json);
  EnsureGroups(tx, app, owner, attrs.groups);
  BumpSeq(tx, app, owner, "friend_seq");
}

bool DeleteFriend(pqxx::work& tx, uint64_t app, const std::string& owner,
                  const std::string& friend_id) {
  auto rows = tx.exec_params(
      "DELETE FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2 AND friend_id = $3"
      " RETURNING 1",
      app, owner, friend_id);
  if (rows.empty()) return false;
  BumpSeq(tx, app, owner, "friend_seq");
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

void AddResult(v1::FriendResults* results, const std::string& to, int32_t code,
               const std::string& info) {
  auto* item = results->add_result_item();
  item->set_to_account(to);
  item->set_result_code(code);
  item->set_result_info(info);
  if (code != 0 && code != kAddedAsPending) {
    results->add_fail_account(to);
    if (results->error_display().empty()) results->set_error_display(info);
  }
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

Value StringValue(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

Value NumberValue(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}

void AddTag(google::protobuf::RepeatedPtrField<v1::TagValue>* items, const std::string& tag,
            Value value) {
  auto* item = items->Add();
  item->set_tag(tag);
  *item->mutable_value() = std::move(value);
}

Struct ParseStruct(const std::string& json) {
  Struct s;
  (void)protojson::Parse(json, &s);
  return s;
}

std::string StructJson(const Struct& s) { return protojson::Print(s); }

// A JSON value as a protobuf Value (nlohmann parses far faster than
// protobuf's JSON mapping, which matters for portrait_get of 100 users).
Value ToValue(const nlohmann::json& json) {
  Value v;
  if (json.is_string()) {
    v.set_string_value(json.get<std::string>());
  } else if (json.is_number()) {
    v.set_number_value(json.get<double>());
  } else if (json.is_boolean()) {
    v.set_bool_value(json.get<bool>());
  } else if (json.is_array()) {
    auto* list = v.mutable_list_value();
    for (const auto& item : json) *list->add_values() = ToValue(item);
  } else if (json.is_object()) {
    auto* fields = v.mutable_struct_value()->mutable_fields();
    for (const auto& [key, item] : json.items()) (*fields)[key] = ToValue(item);
  } else {
    v.set_null_value(google::protobuf::NULL_VALUE);
  }
  return v;
}

// The wanted profile tags of `users`: user -> tag -> value. Only those tags
// leave PostgreSQL.
std::map<std::string, std::map<std::string, Value>> ProfileTags(
    pqxx::transaction_base& tx, uint64_t app, const std::vector<std::string>& users,
    const std::vector<std::string>& tags) {
  std::map<std::string, std::map<std::string, Value>> out;
  for (const auto& row : tx.exec_params(
           "SELECT u.user_id, t.key, t.value::text FROM rel_users u, jsonb_each(u.profile) t"
           " WHERE u.sdkappid = $1 AND u.user_id = ANY($2::text[]) AND t.key = ANY($3::text[])",
           app, pg::TextArray(users), pg::TextArray(tags))) {
    auto value = nlohmann::json::parse(row[2].c_str(), nullptr, false);
    if (!value.is_discarded()) out[row[0].as<std::string>()][row[1].as<std::string>()] = ToValue(value);
  }
  return out;
}

// The friend row columns selected by kFriendColumns, as Tag_SNS_* items.
constexpr char kFriendColumns[] =
    "friend_id, remark, groups, add_source, add_wording, add_time, remark_time, custom::text";

void FriendTags(const pqxx::row& row, const std::set<std::string>* wanted,
                google::protobuf::RepeatedPtrField<v1::TagValue>* out) {
  auto want = [&](const std::string& tag) { return wanted == nullptr || wanted->count(tag); };
  if (want("Tag_SNS_IM_Group")) {
    Value groups;
    groups.mutable_list_value();
    for (const auto& g : ParseArray(row[2])) *groups.mutable_list_value()->add_values() = StringValue(g);
    AddTag(out, "Tag_SNS_IM_Group", groups);
  }
  if (want("Tag_SNS_IM_Remark")) AddTag(out, "Tag_SNS_IM_Remark", StringValue(row[1].as<std::string>()));
  if (want("Tag_SNS_IM_AddSource")) {
    AddTag(out, "Tag_SNS_IM_AddSource", StringValue(row[3].as<std::string>()));
  }
  if (want("Tag_SNS_IM_AddWording")) {
    AddTag(out, "Tag_SNS_IM_AddWording", StringValue(row[4].as<std::string>()));
  }
  if (want("Tag_SNS_IM_AddTime")) {
    AddTag(out, "Tag_SNS_IM_AddTime", NumberValue(static_cast<double>(row[5].as<int64_t>())));
  }
  if (want("Tag_SNS_IM_RemarkTime")) {
    AddTag(out, "Tag_SNS_IM_RemarkTime", NumberValue(static_cast<double>(row[6].as<int64_t>())));
  }
  Struct custom = ParseStruct(row[7].as<std::string>());
  std::map<std::string, Value> sorted(custom.fields().begin(), custom.fields().end());
  for (const auto& [tag, value] : sorted) {
    if (want(tag)) AddTag(out, tag, value);
  }
}

// Every mutation also deletes pending requests between the pair, so a
// request never outlives a friendship or survives a block.
void DeleteRequestsBetween(pqxx::work& tx, uint64_t app, const std::string& a,
                           const std::string& b) {
  tx.exec_params(
      "DELETE FROM rel_requests WHERE sdkappid = $1 AND ((from_id = $2 AND to_id = $3)"
      " OR (from_id = $3 AND to_id = $2))",
      app, a, b);
}

}  // namespace

struct RelationshipLogic::Changes {
  std::set<std::string> relations;  // users whose friend list or blocklist changed
  struct Tell {
    std::string user, change;
    std::vector<std::string> accounts;
  };
  std::vector<Tell> tells;
  void Add(const std::string& user, const std::string& change, std::vector<std::string> accounts) {
    if (!accounts.empty()) tells.push_back({user, change, std::move(accounts)});
  }
  // After-callbacks to raise once committed: command and payload.
  std::vector<std::pair<std::string, nlohmann::ordered_json>> callbacks;
  // Adds `payload` with its PairList when the list has entries.
  void Callback(const std::string& command, nlohmann::ordered_json payload,
                nlohmann::ordered_json pairs) {
    if (pairs.empty()) return;
    payload["PairList"] = std::move(pairs);
    callbacks.emplace_back(command, std::move(payload));
  }
};

void LiveNotifier::Publish(std::vector<std::vector<std::string>> commands) {
  auto replies = redis_->Pipeline(commands);
  if (!replies.ok()) {
    // Message services drop their caches when they resubscribe; an entry
    // missed here can be stale for at most its one-minute lifetime.
    log::Error("relationship_publish_failed", {{"error", std::string(replies.status().message())}});
  }
}

void LiveNotifier::RelationsChanged(uint64_t sdkappid, const std::set<std::string>& users) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& user : users) {
    commands.push_back({"PUBLISH", kChangesChannel, absl::StrCat("u ", sdkappid, " ", user)});
  }
  if (!commands.empty()) Publish(std::move(commands));
}

void LiveNotifier::SettingsChanged(uint64_t sdkappid) {
  Publish({{"PUBLISH", kChangesChannel, absl::StrCat("a ", sdkappid)}});
}

void LiveNotifier::Tell(uint64_t sdkappid, const std::string& user, const std::string& change,
                        const std::vector<std::string>& accounts) {
  v1::TimelineEvent event;
  event.set_kind(v1::TimelineEvent::KIND_RELATIONSHIP);
  event.set_event_time(static_cast<uint32_t>(now_()));
  event.mutable_relationship_change()->set_change(change);
  for (const auto& a : accounts) event.mutable_relationship_change()->add_accounts(a);
  deliverer_->Enqueue(sdkappid, user, event);
}

RelationshipLogic::RelationshipLogic(pg::Pool* pool, ExistingAccounts existing,
                                     Notifier* notifier, Clock now)
    : pool_(pool), existing_(std::move(existing)), notifier_(notifier), now_(std::move(now)) {}

absl::StatusOr<std::string> RelationshipLogic::Actor(const rpc::Caller& caller,
                                                     const std::string& from, int32_t bad,
                                                     int32_t not_imported) {
  if (!caller.is_admin) return caller.identifier;  // users act as themselves
  if (!ValidUserId(from)) return errors::Error(bad, "From_Account is missing or invalid");
  auto existing = existing_(caller.sdkappid, {from});
  if (!existing.ok()) return existing.status();
  if (!existing->count(from)) return errors::Error(not_imported, "From_Account is not imported");
  return from;
}

absl::Status RelationshipLogic::Transact(
    const rpc::Caller& caller, const std::function<absl::Status(pqxx::work&, Changes&)>& fn) {
  uint64_t sdkappid = caller.sdkappid;
  Changes changes;
  absl::Status st = pool_->Run([&](pqxx::connection& c) {
    changes = Changes();
    pqxx::work tx(c);
    absl::Status inner = fn(tx, changes);
    if (!inner.ok()) return inner;  // rolled back: bad input changes nothing
    tx.commit();
    return absl::OkStatus();
  });
  if (!st.ok()) {
    if (errors::TencentCode(st, 0) != 0) return st;
    log::Error("relationship_store_failed", {{"error", std::string(st.message())}});
    return errors::Error(kSnsInternal, "relationship storage failed; retry");
  }
  if (!changes.relations.empty()) notifier_->RelationsChanged(sdkappid, changes.relations);
  for (const auto& tell : changes.tells) {
    notifier_->Tell(sdkappid, tell.user, tell.change, tell.accounts);
  }
  if (callbacks_) {
    for (auto& [command, payload] : changes.callbacks) {
      callbacks_->After(sdkappid, command, payload.dump(),
                        callbacks::OptPlatform(caller.is_admin, caller.platform), caller.client_ip);
    }
  }
  return absl::OkStatus();
}

absl::Status RelationshipLogic::BeforeBatch(const rpc::Caller& caller, const std::string& command,
                                            nlohmann::ordered_json payload,
                                            std::vector<std::string>* targets,
                                            v1::FriendResults* results) {
  if (callbacks_ == nullptr || targets->empty() ||
      !callbacks_->Enabled(caller.sdkappid, command)) {
    return absl::OkStatus();
  }
  auto verdict = callbacks_->Before(caller.sdkappid, command, payload.dump(),
                                    callbacks::OptPlatform(caller.is_admin, caller.platform),
                                    caller.client_ip);
  // Codes from the backend are used when in its range [38000, 39000].
  auto code_of = [](int64_t code) {
    return static_cast<int32_t>(code >= 38000 && code <= 39000 ? code : 38000);
  };
  std::map<std::string, std::pair<int32_t, std::string>> refused;
  if (verdict.verdict() != v1::BeforeResponse::ALLOW) {
    int32_t code = verdict.error_code() == 80003 ? 80003 : code_of(verdict.error_code());
    for (const auto& t : *targets) refused[t] = {code, "refused by the app's callback"};
  } else if (!verdict.response_json().empty()) {
    auto answer = nlohmann::json::parse(verdict.response_json(), nullptr, false);
    auto items = answer.is_object() ? answer.find("ResultItem") : answer.end();
    if (answer.is_object() && items != answer.end() && items->is_array()) {
      for (const auto& item : *items) {
        if (!item.is_object() || !item.contains("To_Account") || !item["To_Account"].is_string()) {
          continue;
        }
        int64_t code = item.value("ResultCode", int64_t{0});
        if (code == 0) continue;
        refused[item["To_Account"].get<std::string>()] = {
            code_of(code), item.value("ResultInfo", std::string("refused by the app's callback"))};
      }
    }
  }
  if (refused.empty()) return absl::OkStatus();
  std::vector<std::string> kept;
  for (const auto& t : *targets) {
    auto it = refused.find(t);
    if (it == refused.end()) {
      kept.push_back(t);
    } else {
      AddResult(results, t, it->second.first, it->second.second);
    }
  }
  *targets = std::move(kept);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> RelationshipLogic::Targets(
    uint64_t sdkappid, const std::string& actor, const std::vector<std::string>& requested,
    size_t max, bool must_exist, v1::FriendResults* results) {
  if (requested.empty()) return errors::Error(kSnsBadParam, "To_Account is empty");
  if (requested.size() > max) {
    return errors::Error(kSnsBadParam, absl::StrCat("at most ", max, " accounts per request"));
  }
  std::vector<std::string> valid;
  std::set<std::string> seen;
  for (const auto& to : requested) {
    if (!ValidUserId(to)) {
      AddResult(results, to, kSnsBadAccount, "To_Account is invalid");
    } else if (to == actor) {
      AddResult(results, to, kSnsBadParam, "an account cannot act on itself");
    } else if (seen.insert(to).second) {
      valid.push_back(to);
    }
  }
  if (!must_exist || valid.empty()) return valid;
  auto existing = existing_(sdkappid, valid);
  if (!existing.ok()) return existing.status();
  std::vector<std::string> out;
  for (const auto& to : valid) {
    if (existing->count(to)) {
      out.push_back(to);
    } else {
      AddResult(results, to, kSnsNotImported, "To_Account is not imported");
    }
  }
  return out;
}

absl::Status RelationshipLogic::CheckRelations(
    const rpc::Caller& caller, const std::string& from,
    const google::protobuf::RepeatedPtrField<std::string>& to_accounts, const std::string& type,
    const RelationCheck& check, google::protobuf::RepeatedPtrField<v1::RelationItem>* items,
    google::protobuf::RepeatedPtrField<std::string>* fail_accounts) {
  auto actor = Actor(caller, from, kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  if (!type.empty() && type != check.both_type && type != check.single_type) {
    return errors::Error(kSnsBadParam,
                         absl::StrCat("CheckType is ", check.both_type, " or ", check.single_type));
  }
  if (to_accounts.empty() || static_cast<size_t>(to_accounts.size()) > kMaxBatchAccounts) {
    return errors::Error(kSnsBadParam, "To_Account must have 1 to 1000 accounts");
  }
  bool both = type != check.single_type;
  std::vector<std::string> others(to_accounts.begin(), to_accounts.end());
  uint64_t app = caller.sdkappid;
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto forward = check.forward(tx, app, *actor, others);
    std::set<std::string> backward;
    if (both) backward = check.backward(tx, app, *actor, others);
    for (const auto& to : others) {
      auto* item = items->Add();
      item->set_to_account(to);
      if (!ValidUserId(to)) {
        item->set_result_code(kSnsBadAccount);
        item->set_result_info("To_Account is invalid");
        *fail_accounts->Add() = to;
        continue;
      }
      item->set_relation(check.relation(forward.count(to) > 0, backward.count(to) > 0, both));
    }
    return absl::OkStatus();
  });
}

// ---- friends ----------------------------------------------------------------

absl::StatusOr<v1::FriendResults> RelationshipLogic::FriendAdd(const rpc::Caller& caller,
                                                               const v1::FriendAddRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  if (request.add_friend_item().empty() ||
      static_cast<size_t>(request.add_friend_item_size()) > kMaxAddItems) {
    return errors::Error(kSnsBadParam, "AddFriendItem must have 1 to 100 items");
  }
  const std::string& type = request.add_type();
  if (!type.empty() && type != "Add_Type_Both" && type != "Add_Type_Single") {
    return errors::Error(kSnsBadParam, "AddType is Add_Type_Both or Add_Type_Single");
  }
  bool both = type != "Add_Type_Single";
  bool force = caller.is_admin && request.force_add_flags() == 1;
  std::vector<std::string> requested;
  for (const auto& item : request.add_friend_item()) {
    if (!item.add_source().empty() && !ValidAddSource(item.add_source())) {
      return errors::Error(kSnsBadParam, "AddSource is AddSource_Type_ and 1 to 8 letters");
    }
    if (item.remark().size() > kMaxRemarkBytes) {
      return errors::Error(kSnsBadParam, "Remark is longer than 96 bytes");
    }
    if (item.add_wording().size() > kMaxAddWordingBytes) {
      return errors::Error(kSnsBadParam, "AddWording is longer than 256 bytes");
    }
    if (!ValidGroupNames(GroupNames(item.group_name()))) {
      return errors::Error(kSnsBadParam, "GroupName is longer than 30 bytes");
    }
    requested.push_back(item.to_account());
  }
  v1::FriendResults results;
  auto targets = Targets(caller.sdkappid, *actor, requested, kMaxAddItems, true, &results);
  if (!targets.ok()) return targets.status();
  std::map<std::string, const v1::AddFriendItem*> items;
  for (const auto& item : request.add_friend_item()) items.emplace(item.to_account(), &item);
  {
    nlohmann::ordered_json payload = {{"Requester_Account", caller.identifier},
                                      {"From_Account", *actor},
                                      {"AddType", both ? "Add_Type_Both" : "Add_Type_Single"},
                                      {"ForceAddFlags", force ? 1 : 0}};
    payload["FriendItem"] = nlohmann::ordered_json::array();
    for (const auto& to : *targets) {
      const v1::AddFriendItem& item = *items[to];
      std::vector<std::string> groups = GroupNames(item.group_name());
      payload["FriendItem"].push_back({{"To_Account", to},
                                       {"Remark", item.remark()},
                                       {"GroupName", groups.empty() ? "" : groups[0]},
                                       {"AddSource", item.add_source()},
                                       {"AddWording", item.add_wording()}});
    }
    if (auto st = BeforeBatch(caller, "Sns.CallbackPrevFriendAdd", std::move(payload), &*targets,
                              &results);
        !st.ok()) {
      return st;
    }
  }
  if (targets->empty()) return results;

  uint64_t app = caller.sdkappid;
  int64_t now = now_();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = results;
    std::vector<std::string> users = *targets;
    users.push_back(*actor);
    LockUsers(tx, app, users);
    Settings settings = LoadSettings(tx, app);
    auto has = FriendsOf(tx, app, *actor, *targets);
    auto have_me = HavingFriend(tx, app, *actor, *targets);
    auto i_blocked = BlockedBy(tx, app, *actor, *targets);
    auto blocked_me = Blocking(tx, app, *actor, *targets);
    auto counts = FriendCounts(tx, app, users);
    bool forbidden = !caller.is_admin &&
                     ProfileTexts(tx, app, {*actor}, "Tag_Profile_IM_AdminForbidType")[*actor] ==
                         "AdminForbid_Type_SendOut";
    // One query each for all targets, not one per target.
    auto allow_types = ProfileTexts(tx, app, *targets, "Tag_Profile_IM_AllowType");
    auto pending_counts = PendingCounts(tx, app, *targets);
    std::vector<std::string> added;
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : *targets) {
      const v1::AddFriendItem& item = *items[to];
      AddFacts facts;
      facts.requester_forbidden = forbidden;
      facts.requester_blocked_target = i_blocked.count(to) > 0;
      facts.target_blocked_requester = blocked_me.count(to) > 0;
      facts.requester_has_target = has.count(to) > 0;
      facts.target_has_requester = have_me.count(to) > 0;
      facts.requester_friend_count = counts[*actor];
      facts.target_friend_count = counts[to];
      facts.friend_limit = settings.friend_limit;
      facts.pending_limit = settings.pending_limit;
      facts.target_allows = ParseAllowType(allow_types[to]);
      facts.both = both;
      facts.force = force;
      facts.target_pending_count = pending_counts[to];
      AddDecision decision = DecideFriendAdd(facts);
      std::vector<std::string> groups = GroupNames(item.group_name());
      if (decision.add_forward && !groups.empty() &&
          GroupCountAfter(tx, app, *actor, groups) > kMaxFriendGroups) {
        decision = AddDecision{kFriendGroupLimit};
      }
      if (decision.create_request) {
        tx.exec_params(
            "INSERT INTO rel_requests (sdkappid, from_id, to_id, add_source, add_wording, remark,"
            " group_name, add_type, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (sdkappid, to_id, from_id) DO UPDATE SET add_source = EXCLUDED.add_source,"
            " add_wording = EXCLUDED.add_wording, remark = EXCLUDED.remark,"
            " group_name = EXCLUDED.group_name, add_type = EXCLUDED.add_type,"
            " created_at = EXCLUDED.created_at",
            app, *actor, to, item.add_source(), item.add_wording(), item.remark(),
            groups.empty() ? "" : groups[0], both ? "Add_Type_Both" : "Add_Type_Single", now);
        changes.Add(to, "request_received", {*actor});
      }
      if (decision.add_forward) {
        FriendAttrs attrs{item.remark(), groups, item.add_source(), item.add_wording(), now,
                          item.remark().empty() ? 0 : now};
        InsertFriend(tx, app, *actor, to, attrs);
        ++counts[*actor];
        added.push_back(to);
        pairs.push_back({{"From_Account", *actor}, {"To_Account", to}, {"Initiator_Account", *actor}});
      }
      if (decision.add_reverse) {
        FriendAttrs attrs;
        attrs.add_source = item.add_source();
        attrs.add_time = now;
        InsertFriend(tx, app, to, *actor, attrs);
        ++counts[to];
        changes.relations.insert(to);
        changes.Add(to, "friend_added", {*actor});
        pairs.push_back({{"From_Account", to}, {"To_Account", *actor}, {"Initiator_Account", *actor}});
      }
      if (decision.add_forward || decision.add_reverse) DeleteRequestsBetween(tx, app, *actor, to);
      AddResult(&outcome, to, decision.code, AddInfo(decision.code));
    }
    if (!added.empty()) changes.relations.insert(*actor);
    changes.Add(*actor, "friend_added", added);
    changes.Callback("Sns.CallbackFriendAdd",
                     {{"ClientCmd", "friend_add"},
                      {"Admin_Account", caller.is_admin ? caller.identifier : ""},
                      {"ForceFlag", force ? 1 : 0}},
                     pairs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::FriendResults> RelationshipLogic::FriendImport(
    const rpc::Caller& caller, const v1::FriendImportRequest& request) {
  if (!caller.is_admin) return errors::Error(kSnsRequiresAdmin, "friend_import is for admins");
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  if (request.add_friend_item().empty() ||
      static_cast<size_t>(request.add_friend_item_size()) > kMaxAddItems) {
    return errors::Error(kSnsBadParam, "AddFriendItem must have 1 to 100 items");
  }
  uint64_t app = caller.sdkappid;
  std::vector<std::string> requested;
  for (const auto& item : request.add_friend_item()) requested.push_back(item.to_account());
  v1::FriendResults results;
  auto targets = Targets(app, *actor, requested, kMaxAddItems, true, &results);
  if (!targets.ok()) return targets.status();
  if (targets->empty()) return results;
  std::map<std::string, const v1::AddFriendItem*> items;
  for (const auto& item : request.add_friend_item()) items.emplace(item.to_account(), &item);
  int64_t now = now_();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = results;
    LockUsers(tx, app, {*actor});
    Settings settings = LoadSettings(tx, app);
    auto has = FriendsOf(tx, app, *actor, *targets);
    auto i_blocked = BlockedBy(tx, app, *actor, *targets);
    uint32_t count = FriendCounts(tx, app, {*actor})[*actor];
    std::vector<std::string> added;
    for (const auto& to : *targets) {
      const v1::AddFriendItem& item = *items[to];
      std::vector<std::string> groups = GroupNames(item.group_name());
      int32_t code = 0;
      std::string info;
      Struct custom;
      for (const auto& tv : item.custom_item()) {
        absl::Status valid = ValidateSnsItem(tv.tag(), tv.value(), settings.sns_custom);
        if (!valid.ok()) {
          code = errors::TencentCode(valid, kSnsBadParam);
          info = std::string(valid.message());
          break;
        }
        (*custom.mutable_fields())[tv.tag()] = tv.value();
      }
      if (code == 0 && ((!item.add_source().empty() && !ValidAddSource(item.add_source())) ||
                        item.remark().size() > kMaxRemarkBytes ||
                        item.add_wording().size() > kMaxAddWordingBytes ||
                        !ValidGroupNames(groups))) {
        code = kSnsBadParam;
        info = "an item field is invalid (AddSource, Remark, AddWording or GroupName)";
      }
      if (code == 0 && i_blocked.count(to)) code = kTargetInYourBlocklist;
      if (code == 0 && has.count(to)) {
        AddResult(&outcome, to, 0, "");  // already a friend: imports are idempotent
        continue;
      }
      if (code == 0 && count >= settings.friend_limit) code = kOwnFriendListFull;
      if (code == 0 && !groups.empty() && GroupCountAfter(tx, app, *actor, groups) > kMaxFriendGroups) {
        code = kFriendGroupLimit;
      }
      if (code != 0) {
        AddResult(&outcome, to, code, info.empty() ? AddInfo(code) : info);
        continue;
      }
      FriendAttrs attrs{item.remark(),      groups,
                        item.add_source(),  item.add_wording(),
                        item.add_time() ? item.add_time() : now,
                        item.remark_time(), StructJson(custom)};
      InsertFriend(tx, app, *actor, to, attrs);
      ++count;
      added.push_back(to);
      AddResult(&outcome, to, 0, "");
    }
    if (!added.empty()) changes.relations.insert(*actor);
    changes.Add(*actor, "friend_added", added);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::FriendResults> RelationshipLogic::FriendUpdate(
    const rpc::Caller& caller, const v1::FriendUpdateRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  if (request.update_item().empty() ||
      static_cast<size_t>(request.update_item_size()) > kMaxAddItems) {
    return errors::Error(kSnsBadParam, "UpdateItem must have 1 to 100 items");
  }
  uint64_t app = caller.sdkappid;
  int64_t now = now_();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome.Clear();
    LockUsers(tx, app, {*actor});
    Settings settings = LoadSettings(tx, app);
    std::vector<std::string> updated;
    for (const auto& item : request.update_item()) {
      const std::string& to = item.to_account();
      auto row = tx.exec_params(
          "SELECT custom::text FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
          " AND friend_id = $3",
          app, *actor, to);
      if (row.empty()) {
        AddResult(&outcome, to, kNotFriends, "To_Account is not a friend");
        continue;
      }
      absl::Status valid = item.sns_item().empty()
                               ? errors::Error(kSnsBadParam, "SnsItem is empty")
                               : absl::OkStatus();
      for (const auto& tv : item.sns_item()) {
        if (valid.ok()) valid = ValidateSnsItem(tv.tag(), tv.value(), settings.sns_custom);
      }
      if (!valid.ok()) {
        AddResult(&outcome, to, errors::TencentCode(valid, kSnsBadParam),
                  std::string(valid.message()));
        continue;
      }
      Struct custom = ParseStruct(row[0][0].as<std::string>());
      bool failed = false;
      for (const auto& tv : item.sns_item()) {
        if (tv.tag() == "Tag_SNS_IM_Remark") {
          tx.exec_params(
              "UPDATE rel_friends SET remark = $4, remark_time = $5 WHERE sdkappid = $1"
              " AND owner_id = $2 AND friend_id = $3",
              app, *actor, to, tv.value().string_value(), now);
        } else if (tv.tag() == "Tag_SNS_IM_Group") {
          std::vector<std::string> groups = GroupNames(tv.value());
          if (GroupCountAfter(tx, app, *actor, groups) > kMaxFriendGroups) {
            AddResult(&outcome, to, kFriendGroupLimit, AddInfo(kFriendGroupLimit));
            failed = true;
            break;
          }
          tx.exec_params(
              "UPDATE rel_friends SET groups = $4::text[] WHERE sdkappid = $1 AND owner_id = $2"
              " AND friend_id = $3",
              app, *actor, to, pg::TextArray(groups));
          EnsureGroups(tx, app, *actor, groups);
        } else {
          (*custom.mutable_fields())[tv.tag()] = tv.value();
        }
      }
      if (failed) continue;
      tx.exec_params(
          "UPDATE rel_friends SET custom = $4::jsonb WHERE sdkappid = $1 AND owner_id = $2"
          " AND friend_id = $3",
          app, *actor, to, StructJson(custom));
      BumpSeq(tx, app, *actor, "friend_seq");
      updated.push_back(to);
      AddResult(&outcome, to, 0, "");
    }
    changes.Add(*actor, "friend_updated", updated);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::FriendResults> RelationshipLogic::FriendDelete(
    const rpc::Caller& caller, const v1::FriendDeleteRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  const std::string& type = request.delete_type();
  if (!type.empty() && type != "Delete_Type_Both" && type != "Delete_Type_Single") {
    return errors::Error(kSnsBadParam, "DeleteType is Delete_Type_Both or Delete_Type_Single");
  }
  bool both = type != "Delete_Type_Single";
  uint64_t app = caller.sdkappid;
  v1::FriendResults results;
  std::vector<std::string> requested(request.to_account().begin(), request.to_account().end());
  auto targets = Targets(app, *actor, requested, kMaxBatchAccounts, false, &results);
  if (!targets.ok()) return targets.status();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = results;
    std::vector<std::string> users = *targets;
    users.push_back(*actor);
    LockUsers(tx, app, users);
    std::vector<std::string> deleted;
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : *targets) {
      bool mine = DeleteFriend(tx, app, *actor, to);
      bool theirs = both && DeleteFriend(tx, app, to, *actor);
      if (mine) pairs.push_back({{"From_Account", *actor}, {"To_Account", to}});
      if (theirs) pairs.push_back({{"From_Account", to}, {"To_Account", *actor}});
      if (theirs) {
        changes.relations.insert(to);
        changes.Add(to, "friend_deleted", {*actor});
      }
      if (!mine && !theirs) {
        AddResult(&outcome, to, kNotFriends, "To_Account is not a friend");
        continue;
      }
      if (mine) deleted.push_back(to);
      AddResult(&outcome, to, 0, "");
    }
    if (!deleted.empty()) changes.relations.insert(*actor);
    changes.Add(*actor, "friend_deleted", deleted);
    changes.Callback("Sns.CallbackFriendDelete", nlohmann::ordered_json::object(), pairs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::Empty> RelationshipLogic::FriendDeleteAll(
    const rpc::Caller& caller, const v1::FriendDeleteAllRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  const std::string& type = request.delete_type();
  if (!type.empty() && type != "Delete_Type_Both" && type != "Delete_Type_Single") {
    return errors::Error(kSnsBadParam, "DeleteType is Delete_Type_Both or Delete_Type_Single");
  }
  bool both = type == "Delete_Type_Both";  // Tencent's default here is single
  uint64_t app = caller.sdkappid;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    LockUsers(tx, app, {*actor});
    auto friends = Column(tx.exec_params(
        "SELECT friend_id FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2", app, *actor));
    std::vector<std::string> list(friends.begin(), friends.end());
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : list) pairs.push_back({{"From_Account", *actor}, {"To_Account", to}});
    if (both && !list.empty()) {
      std::vector<std::string> users = list;
      users.push_back(*actor);
      LockUsers(tx, app, users);
      for (const auto& to : list) {
        if (DeleteFriend(tx, app, to, *actor)) {
          changes.relations.insert(to);
          changes.Add(to, "friend_deleted", {*actor});
          pairs.push_back({{"From_Account", to}, {"To_Account", *actor}});
        }
      }
    }
    tx.exec_params("DELETE FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2", app, *actor);
    BumpSeq(tx, app, *actor, "friend_seq");
    changes.relations.insert(*actor);
    changes.Add(*actor, "friend_deleted", list);
    changes.Callback("Sns.CallbackFriendDelete", nlohmann::ordered_json::object(), pairs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return v1::Empty();
}

absl::StatusOr<v1::FriendCheckResponse> RelationshipLogic::FriendCheck(
    const rpc::Caller& caller, const v1::FriendCheckRequest& request) {
  static const RelationCheck kFriends = {"CheckResult_Type_Both", "CheckResult_Type_Single",
                                         FriendsOf, HavingFriend, FriendRelation};
  v1::FriendCheckResponse response;
  auto st = CheckRelations(caller, request.from_account(), request.to_account(),
                           request.check_type(), kFriends, response.mutable_info_item(),
                           response.mutable_fail_account());
  if (!st.ok()) return st;
  return response;
}

absl::StatusOr<v1::FriendGetResponse> RelationshipLogic::FriendGet(
    const rpc::Caller& caller, const v1::FriendGetRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  uint64_t app = caller.sdkappid;
  return pool_->Query<v1::FriendGetResponse>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::FriendGetResponse> {
        pqxx::work tx(c);
        v1::FriendGetResponse response;
        uint64_t seq = Seq(tx, app, *actor, "friend_seq");
        response.set_standard_sequence(seq);
        response.set_custom_sequence(seq);
        auto total = tx.exec_params(
            "SELECT count(*) FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2", app, *actor);
        response.set_friend_num(total[0][0].as<uint32_t>());
        // The caller's copy is current: nothing to send.
        if (request.standard_sequence() != 0 && request.standard_sequence() == seq &&
            request.start_index() == 0) {
          response.set_complete_flag(1);
          return response;
        }
        auto rows = tx.exec_params(
            absl::StrCat("SELECT ", kFriendColumns,
                         " FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
                         " ORDER BY friend_id OFFSET $3 LIMIT $4"),
            app, *actor, request.start_index(), kFriendPage + 1);
        size_t n = std::min<size_t>(rows.size(), kFriendPage);
        for (size_t i = 0; i < n; ++i) {
          auto* item = response.add_user_data_item();
          item->set_to_account(rows[i][0].as<std::string>());
          FriendTags(rows[i], nullptr, item->mutable_value_item());
        }
        bool complete = rows.size() <= kFriendPage;
        response.set_complete_flag(complete ? 1 : 0);
        response.set_next_start_index(complete ? 0 : request.start_index() + kFriendPage);
        return response;
      });
}

absl::StatusOr<v1::FriendGetListResponse> RelationshipLogic::FriendGetList(
    const rpc::Caller& caller, const v1::FriendGetListRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  if (request.to_account().empty() ||
      static_cast<size_t>(request.to_account_size()) > kMaxProfileAccounts) {
    return errors::Error(kSnsBadParam, "To_Account must have 1 to 100 accounts");
  }
  if (request.tag_list().empty()) return errors::Error(kSnsBadParam, "TagList is empty");
  std::set<std::string> wanted(request.tag_list().begin(), request.tag_list().end());
  std::vector<std::string> others(request.to_account().begin(), request.to_account().end());
  uint64_t app = caller.sdkappid;
  return pool_->Query<v1::FriendGetListResponse>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::FriendGetListResponse> {
        pqxx::work tx(c);
        std::map<std::string, pqxx::row> friends;
        auto rows = tx.exec_params(
            absl::StrCat("SELECT ", kFriendColumns,
                         " FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
                         " AND friend_id = ANY($3::text[])"),
            app, *actor, pg::TextArray(others));
        for (const auto& row : rows) friends.emplace(row[0].as<std::string>(), row);
        auto profiles = ProfileTags(tx, app, others, {wanted.begin(), wanted.end()});
        v1::FriendGetListResponse response;
        for (const auto& to : others) {
          auto* item = response.add_info_item();
          item->set_to_account(to);
          auto f = friends.find(to);
          if (f == friends.end()) {
            item->set_result_code(kNotFriends);
            item->set_result_info("To_Account is not a friend");
            response.add_fail_account(to);
            continue;
          }
          FriendTags(f->second, &wanted, item->mutable_sns_profile_item());
          const auto& fields = profiles[to];
          for (const auto& tag : request.tag_list()) {
            auto it = fields.find(tag);
            if (it != fields.end()) AddTag(item->mutable_sns_profile_item(), tag, it->second);
          }
        }
        return response;
      });
}

// ---- pending requests -------------------------------------------------------

absl::StatusOr<v1::PendencyGetResponse> RelationshipLogic::PendencyGet(
    const rpc::Caller& caller, const v1::PendencyGetRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  std::string type = request.pendency_type().empty() ? kComeIn : request.pendency_type();
  if (type != kComeIn && type != kSendOut && type != "Pendency_Type_Both") {
    return errors::Error(kSnsBadParam,
                         "PendencyType is Pendency_Type_ComeIn, _SendOut or _Both");
  }
  uint32_t limit = request.max_limited() == 0 || request.max_limited() > kListPage
                       ? kListPage
                       : request.max_limited();
  uint64_t app = caller.sdkappid;
  return pool_->Query<v1::PendencyGetResponse>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::PendencyGetResponse> {
        pqxx::work tx(c);
        std::string where = type == kComeIn    ? "to_id = $2"
                            : type == kSendOut ? "from_id = $2"
                                               : "(to_id = $2 OR from_id = $2)";
        auto rows = tx.exec_params(
            absl::StrCat("SELECT from_id, to_id, add_source, add_wording, created_at, add_type,"
                         " count(*) OVER () FROM rel_requests WHERE sdkappid = $1 AND ",
                         where, " ORDER BY created_at DESC, from_id, to_id OFFSET $3 LIMIT $4"),
            app, *actor, request.start_index(), limit);
        v1::PendencyGetResponse response;
        for (const auto& row : rows) {
          auto* item = response.add_pendency_item();
          bool incoming = row[1].as<std::string>() == *actor;
          item->set_to_account(incoming ? row[0].as<std::string>() : row[1].as<std::string>());
          item->set_pendency_type(incoming ? kComeIn : kSendOut);
          item->set_add_source(row[2].as<std::string>());
          item->set_add_wording(row[3].as<std::string>());
          item->set_add_time(row[4].as<int64_t>());
          item->set_add_type(row[5].as<std::string>());
          response.set_total_count(row[6].as<uint32_t>());
        }
        if (rows.empty()) {
          auto total = tx.exec_params(
              absl::StrCat("SELECT count(*) FROM rel_requests WHERE sdkappid = $1 AND ", where),
              app, *actor);
          response.set_total_count(total[0][0].as<uint32_t>());
        }
        uint32_t next = request.start_index() + static_cast<uint32_t>(rows.size());
        response.set_next_start_index(next < response.total_count() ? next : 0);
        int64_t read_time = 0;
        auto user = tx.exec_params(
            "SELECT pendency_read_time FROM rel_users WHERE sdkappid = $1 AND user_id = $2", app,
            *actor);
        if (!user.empty()) read_time = user[0][0].as<int64_t>();
        response.set_pendency_read_time(read_time);
        auto unread = tx.exec_params(
            "SELECT count(*) FROM rel_requests WHERE sdkappid = $1 AND to_id = $2"
            " AND created_at > $3",
            app, *actor, read_time);
        response.set_unread_pendency_count(unread[0][0].as<uint32_t>());
        return response;
      });
}

absl::StatusOr<v1::FriendResults> RelationshipLogic::PendencyResponse(
    const rpc::Caller& caller, const v1::PendencyResponseRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  if (request.response_friend_item().empty() ||
      static_cast<size_t>(request.response_friend_item_size()) > kMaxAddItems) {
    return errors::Error(kSnsBadParam, "ResponseFriendItem must have 1 to 100 items");
  }
  std::vector<std::string> users = {*actor};
  for (const auto& item : request.response_friend_item()) {
    const std::string& action = item.response_action();
    if (action != "Response_Action_Agree" && action != "Response_Action_AgreeAndAdd" &&
        action != "Response_Action_Reject") {
      return errors::Error(kSnsBadParam,
                           "ResponseAction is Response_Action_Agree, _AgreeAndAdd or _Reject");
    }
    if (!ValidUserId(item.to_account())) {
      return errors::Error(kSnsBadAccount, "To_Account is missing or invalid");
    }
    if (item.remark().size() > kMaxRemarkBytes || item.tag_name().size() > kMaxFriendGroupNameBytes) {
      return errors::Error(kSnsBadParam, "Remark or TagName is too long");
    }
    users.push_back(item.to_account());
  }
  // The app's backend may refuse some answers (Sns.CallbackPrevFriendResponse).
  v1::FriendResults refused;
  std::vector<std::string> answering(users.begin() + 1, users.end());
  {
    nlohmann::ordered_json payload = {{"Requester_Account", caller.identifier},
                                      {"From_Account", *actor}};
    payload["ResponseFriendItem"] = nlohmann::ordered_json::array();
    for (const auto& item : request.response_friend_item()) {
      payload["ResponseFriendItem"].push_back({{"To_Account", item.to_account()},
                                               {"Remark", item.remark()},
                                               {"TagName", item.tag_name()},
                                               {"ResponseAction", item.response_action()}});
    }
    if (auto st = BeforeBatch(caller, "Sns.CallbackPrevFriendResponse", std::move(payload),
                              &answering, &refused);
        !st.ok()) {
      return st;
    }
  }
  std::set<std::string> allowed(answering.begin(), answering.end());
  uint64_t app = caller.sdkappid;
  int64_t now = now_();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = refused;
    LockUsers(tx, app, users);
    Settings settings = LoadSettings(tx, app);
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    // The facts of every answered request, in one query each.
    auto i_blocked = BlockedBy(tx, app, *actor, answering);
    auto blocked_me = Blocking(tx, app, *actor, answering);
    auto i_have = FriendsOf(tx, app, *actor, answering);
    auto have_me = HavingFriend(tx, app, *actor, answering);
    auto counts = FriendCounts(tx, app, users);
    for (const auto& item : request.response_friend_item()) {
      const std::string& requester = item.to_account();
      if (!allowed.count(requester)) continue;  // refused by the callback
      auto req = tx.exec_params(
          "DELETE FROM rel_requests WHERE sdkappid = $1 AND to_id = $2 AND from_id = $3"
          " RETURNING add_source, add_wording, remark, group_name, add_type",
          app, *actor, requester);
      if (req.empty()) {
        AddResult(&outcome, requester, kRequestNotFound, "there is no such pending request");
        continue;
      }
      changes.Add(*actor, "request_deleted", {requester});
      ResponseFacts facts;
      facts.agree = item.response_action() != "Response_Action_Reject";
      facts.agree_and_add = item.response_action() == "Response_Action_AgreeAndAdd";
      facts.request_was_both = req[0][4].as<std::string>() == "Add_Type_Both";
      facts.requester_blocked_responder = blocked_me.count(requester) > 0;
      facts.responder_blocked_requester = i_blocked.count(requester) > 0;
      facts.requester_has_responder = have_me.count(requester) > 0;
      facts.responder_has_requester = i_have.count(requester) > 0;
      facts.requester_friend_count = counts[requester];
      facts.responder_friend_count = counts[*actor];
      facts.friend_limit = settings.friend_limit;
      ResponseDecision decision = DecideResponse(facts);
      if (decision.code != 0) {
        AddResult(&outcome, requester, decision.code, AddInfo(decision.code));
        continue;
      }
      if (decision.add_to_requester) {
        std::string group = req[0][3].as<std::string>();
        FriendAttrs attrs{req[0][2].as<std::string>(),
                          group.empty() ? std::vector<std::string>{} : std::vector<std::string>{group},
                          req[0][0].as<std::string>(), req[0][1].as<std::string>(), now, 0};
        InsertFriend(tx, app, requester, *actor, attrs);
        ++counts[requester];
        changes.relations.insert(requester);
        changes.Add(requester, "friend_added", {*actor});
        pairs.push_back(
            {{"From_Account", requester}, {"To_Account", *actor}, {"Initiator_Account", requester}});
      }
      if (decision.add_to_responder) {
        FriendAttrs attrs;
        attrs.remark = item.remark();
        if (!item.tag_name().empty()) attrs.groups = {item.tag_name()};
        attrs.add_source = req[0][0].as<std::string>();
        attrs.add_time = now;
        InsertFriend(tx, app, *actor, requester, attrs);
        ++counts[*actor];
        changes.relations.insert(*actor);
        changes.Add(*actor, "friend_added", {requester});
        pairs.push_back(
            {{"From_Account", *actor}, {"To_Account", requester}, {"Initiator_Account", requester}});
      }
      AddResult(&outcome, requester, 0, "");
    }
    changes.Callback("Sns.CallbackFriendAdd",
                     {{"ClientCmd", "friend_response"},
                      {"Admin_Account", caller.is_admin ? caller.identifier : ""},
                      {"ForceFlag", 0}},
                     pairs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::FriendResults> RelationshipLogic::PendencyDelete(
    const rpc::Caller& caller, const v1::PendencyDeleteRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  std::string type = request.pendency_type().empty() ? kComeIn : request.pendency_type();
  if (type != kComeIn && type != kSendOut) {
    return errors::Error(kSnsBadParam, "PendencyType is Pendency_Type_ComeIn or _SendOut");
  }
  uint64_t app = caller.sdkappid;
  v1::FriendResults results;
  std::vector<std::string> requested(request.to_account().begin(), request.to_account().end());
  auto targets = Targets(app, *actor, requested, kMaxBatchAccounts, false, &results);
  if (!targets.ok()) return targets.status();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = results;
    std::vector<std::string> deleted;
    for (const auto& other : *targets) {
      auto rows = type == kComeIn
                      ? tx.exec_params("DELETE FROM rel_requests WHERE sdkappid = $1 AND"
                                       " to_id = $2 AND from_id = $3 RETURNING 1",
                                       app, *actor, other)
                      : tx.exec_params("DELETE FROM rel_requests WHERE sdkappid = $1 AND"
                                       " from_id = $2 AND to_id = $3 RETURNING 1",
                                       app, *actor, other);
      if (rows.empty()) {
        AddResult(&outcome, other, kPendingItemNotFound, "there is no such pending request");
      } else {
        deleted.push_back(other);
        AddResult(&outcome, other, 0, "");
      }
    }
    changes.Add(*actor, "request_deleted", deleted);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::Empty> RelationshipLogic::PendencyReport(
    const rpc::Caller& caller, const v1::PendencyReportRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  int64_t read_time =
      request.latest_pendency_time_stamp() > 0 ? request.latest_pendency_time_stamp() : now_();
  uint64_t app = caller.sdkappid;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes&) {
    LockUsers(tx, app, {*actor});
    tx.exec_params(
        "UPDATE rel_users SET pendency_read_time = greatest(pendency_read_time, $3)"
        " WHERE sdkappid = $1 AND user_id = $2",
        app, *actor, read_time);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return v1::Empty();
}

// ---- blocklist --------------------------------------------------------------

absl::StatusOr<v1::FriendResults> RelationshipLogic::BlackListAdd(
    const rpc::Caller& caller, const v1::BlackListChangeRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  uint64_t app = caller.sdkappid;
  v1::FriendResults results;
  std::vector<std::string> requested(request.to_account().begin(), request.to_account().end());
  auto targets = Targets(app, *actor, requested, kMaxBatchAccounts, true, &results);
  if (!targets.ok()) return targets.status();
  int64_t now = now_();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = results;
    std::vector<std::string> users = *targets;
    users.push_back(*actor);
    LockUsers(tx, app, users);
    Settings settings = LoadSettings(tx, app);
    auto already = BlockedBy(tx, app, *actor, *targets);
    auto count = tx.exec_params(
        "SELECT count(*) FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $2", app, *actor);
    uint32_t blocked = count[0][0].as<uint32_t>();
    std::vector<std::string> added, unfriended;
    for (const auto& to : *targets) {
      if (already.count(to)) {
        AddResult(&outcome, to, 0, "");
        continue;
      }
      if (blocked >= settings.blocklist_limit) {
        AddResult(&outcome, to, kBlocklistFull, "the blocklist is full");
        continue;
      }
      tx.exec_params(
          "INSERT INTO rel_blocks (sdkappid, owner_id, blocked_id, added_at) VALUES ($1, $2, $3, $4)",
          app, *actor, to, now);
      ++blocked;
      added.push_back(to);
      // Blocking ends any friendship, both ways, and any pending request.
      if (DeleteFriend(tx, app, *actor, to)) unfriended.push_back(to);
      if (DeleteFriend(tx, app, to, *actor)) changes.Add(to, "friend_deleted", {*actor});
      DeleteRequestsBetween(tx, app, *actor, to);
      changes.relations.insert(to);
      AddResult(&outcome, to, 0, "");
    }
    if (!added.empty()) {
      BumpSeq(tx, app, *actor, "block_seq");
      changes.relations.insert(*actor);
    }
    changes.Add(*actor, "blocklist_added", added);
    changes.Add(*actor, "friend_deleted", unfriended);
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : added) pairs.push_back({{"From_Account", *actor}, {"To_Account", to}});
    changes.Callback("Sns.CallbackBlackListAdd", nlohmann::ordered_json::object(), pairs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::FriendResults> RelationshipLogic::BlackListDelete(
    const rpc::Caller& caller, const v1::BlackListChangeRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  uint64_t app = caller.sdkappid;
  v1::FriendResults results;
  std::vector<std::string> requested(request.to_account().begin(), request.to_account().end());
  auto targets = Targets(app, *actor, requested, kMaxBatchAccounts, false, &results);
  if (!targets.ok()) return targets.status();
  v1::FriendResults outcome;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    outcome = results;
    LockUsers(tx, app, {*actor});
    auto removed = Column(tx.exec_params(
        "DELETE FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $2"
        " AND blocked_id = ANY($3::text[]) RETURNING blocked_id",
        app, *actor, pg::TextArray(*targets)));
    for (const auto& to : *targets) {
      if (removed.count(to)) {
        AddResult(&outcome, to, 0, "");
      } else {
        AddResult(&outcome, to, kSnsBadParam, "To_Account is not in the blocklist");
      }
    }
    if (!removed.empty()) {
      BumpSeq(tx, app, *actor, "block_seq");
      changes.relations.insert(*actor);
    }
    changes.Add(*actor, "blocklist_deleted", {removed.begin(), removed.end()});
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : removed) pairs.push_back({{"From_Account", *actor}, {"To_Account", to}});
    changes.Callback("Sns.CallbackBlackListDelete", nlohmann::ordered_json::object(), pairs);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return outcome;
}

absl::StatusOr<v1::BlackListGetResponse> RelationshipLogic::BlackListGet(
    const rpc::Caller& caller, const v1::BlackListGetRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  uint32_t limit = request.max_limited() == 0 || request.max_limited() > kListPage
                       ? kListPage
                       : request.max_limited();
  uint64_t app = caller.sdkappid;
  return pool_->Query<v1::BlackListGetResponse>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::BlackListGetResponse> {
        pqxx::work tx(c);
        v1::BlackListGetResponse response;
        uint64_t seq = Seq(tx, app, *actor, "block_seq");
        response.set_curruent_sequence(seq);
        response.set_current_sequence(seq);
        auto rows = tx.exec_params(
            "SELECT blocked_id, added_at FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $2"
            " ORDER BY added_at, blocked_id OFFSET $3 LIMIT $4",
            app, *actor, request.start_index(), limit + 1);
        size_t n = std::min<size_t>(rows.size(), limit);
        for (size_t i = 0; i < n; ++i) {
          auto* item = response.add_black_list_item();
          item->set_to_account(rows[i][0].as<std::string>());
          item->set_add_black_time_stamp(rows[i][1].as<int64_t>());
        }
        response.set_start_index(rows.size() > limit ? request.start_index() + limit : 0);
        return response;
      });
}

absl::StatusOr<v1::BlackListCheckResponse> RelationshipLogic::BlackListCheck(
    const rpc::Caller& caller, const v1::BlackListCheckRequest& request) {
  static const RelationCheck kBlocks = {"BlackCheckResult_Type_Both",
                                        "BlackCheckResult_Type_Single", BlockedBy, Blocking,
                                        BlockRelation};
  v1::BlackListCheckResponse response;
  auto st = CheckRelations(caller, request.from_account(), request.to_account(),
                           request.check_type(), kBlocks,
                           response.mutable_black_list_check_item(),
                           response.mutable_fail_account());
  if (!st.ok()) return st;
  return response;
}

// ---- friend lists (groups) --------------------------------------------------

absl::StatusOr<v1::GroupAddResponse> RelationshipLogic::GroupAdd(
    const rpc::Caller& caller, const v1::GroupAddRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  std::vector<std::string> names(request.group_name().begin(), request.group_name().end());
  if (names.empty()) return errors::Error(kSnsBadParam, "GroupName is empty");
  for (const auto& n : names) {
    if (n.empty() || n.size() > kMaxFriendGroupNameBytes) {
      return errors::Error(kSnsBadParam, "friend list names are 1 to 30 bytes");
    }
  }
  std::vector<std::string> members(request.to_account().begin(), request.to_account().end());
  if (members.size() > kMaxBatchAccounts) {
    return errors::Error(kSnsBadParam, "at most 1000 accounts per request");
  }
  uint64_t app = caller.sdkappid;
  v1::GroupAddResponse response;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    response.Clear();
    LockUsers(tx, app, {*actor});
    if (GroupCountAfter(tx, app, *actor, names) > kMaxFriendGroups) {
      return errors::Error(kFriendGroupLimit, "at most 32 friend lists");
    }
    EnsureGroups(tx, app, *actor, names);
    auto friends = FriendsOf(tx, app, *actor, members);
    for (const auto& to : members) {
      auto* item = response.add_result_item();
      item->set_to_account(to);
      if (!friends.count(to)) {
        item->set_result_code(kNotFriends);
        item->set_result_info("To_Account is not a friend");
        response.add_fail_account(to);
        continue;
      }
      tx.exec_params(
          "UPDATE rel_friends SET groups = ARRAY(SELECT DISTINCT unnest(groups || $4::text[])"
          " ORDER BY 1) WHERE sdkappid = $1 AND owner_id = $2 AND friend_id = $3",
          app, *actor, to, pg::TextArray(names));
    }
    response.set_current_sequence(Seq(tx, app, *actor, "group_seq"));
    changes.Add(*actor, "groups_changed", names);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return response;
}

absl::StatusOr<v1::GroupDeleteResponse> RelationshipLogic::GroupDelete(
    const rpc::Caller& caller, const v1::GroupDeleteRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  std::vector<std::string> names(request.group_name().begin(), request.group_name().end());
  if (names.empty()) return errors::Error(kSnsBadParam, "GroupName is empty");
  uint64_t app = caller.sdkappid;
  v1::GroupDeleteResponse response;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    LockUsers(tx, app, {*actor});
    auto removed = tx.exec_params(
        "DELETE FROM rel_friend_groups WHERE sdkappid = $1 AND owner_id = $2"
        " AND name = ANY($3::text[]) RETURNING name",
        app, *actor, pg::TextArray(names));
    if (removed.empty()) return errors::Error(kSnsBadParam, "no such friend list");
    tx.exec_params(
        "UPDATE rel_friends SET groups = ARRAY(SELECT g FROM unnest(groups) g"
        " WHERE g <> ALL($3::text[])) WHERE sdkappid = $1 AND owner_id = $2"
        " AND groups && $3::text[]",
        app, *actor, pg::TextArray(names));
    BumpSeq(tx, app, *actor, "group_seq");
    response.set_current_sequence(Seq(tx, app, *actor, "group_seq"));
    changes.Add(*actor, "groups_changed", names);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return response;
}

absl::StatusOr<v1::GroupGetResponse> RelationshipLogic::GroupGet(
    const rpc::Caller& caller, const v1::GroupGetRequest& request) {
  auto actor = Actor(caller, request.from_account(), kSnsBadAccount, kSnsNotImported);
  if (!actor.ok()) return actor.status();
  bool need_friend = request.need_friend() == "Need_Friend_Type_Yes";
  std::set<std::string> only(request.group_name().begin(), request.group_name().end());
  uint64_t app = caller.sdkappid;
  return pool_->Query<v1::GroupGetResponse>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::GroupGetResponse> {
        pqxx::work tx(c);
        v1::GroupGetResponse response;
        uint64_t seq = Seq(tx, app, *actor, "group_seq");
        response.set_current_sequence(seq);
        if (request.last_sequence() != 0 && request.last_sequence() == seq && only.empty()) {
          return response;  // up to date
        }
        std::map<std::string, v1::FriendGroup> groups;
        for (const auto& row : tx.exec_params(
                 "SELECT name FROM rel_friend_groups WHERE sdkappid = $1 AND owner_id = $2"
                 " ORDER BY name",
                 app, *actor)) {
          std::string name = row[0].as<std::string>();
          if (only.empty() || only.count(name)) groups[name].set_group_name(name);
        }
        for (const auto& row : tx.exec_params(
                 "SELECT g, friend_id FROM rel_friends, unnest(groups) g WHERE sdkappid = $1"
                 " AND owner_id = $2 ORDER BY g, friend_id",
                 app, *actor)) {
          auto it = groups.find(row[0].as<std::string>());
          if (it == groups.end()) continue;
          it->second.set_friend_number(it->second.friend_number() + 1);
          if (need_friend) it->second.add_to_account(row[1].as<std::string>());
        }
        for (auto& [name, group] : groups) *response.add_result_item() = std::move(group);
        return response;
      });
}

// ---- profiles ---------------------------------------------------------------

absl::StatusOr<v1::PortraitGetResponse> RelationshipLogic::PortraitGet(
    const rpc::Caller& caller, const v1::PortraitGetRequest& request) {
  if (request.to_account().empty() ||
      static_cast<size_t>(request.to_account_size()) > kMaxProfileAccounts) {
    return errors::Error(kProfileBadParam, "To_Account must have 1 to 100 accounts");
  }
  if (request.tag_list().empty()) return errors::Error(kProfileBadParam, "TagList is empty");
  uint64_t app = caller.sdkappid;
  std::vector<std::string> users;
  for (const auto& u : request.to_account()) {
    if (ValidUserId(u)) users.push_back(u);
  }
  auto existing = existing_(app, users);
  if (!existing.ok()) return existing.status();
  using Profiles = std::map<std::string, std::map<std::string, Value>>;
  std::vector<std::string> tags(request.tag_list().begin(), request.tag_list().end());
  auto profiles = pool_->Query<Profiles>([&](pqxx::connection& c) -> absl::StatusOr<Profiles> {
    pqxx::nontransaction tx(c);
    return ProfileTags(tx, app, users, tags);
  });
  if (!profiles.ok()) return errors::Error(kProfileInternal, "profile storage failed; retry");
  v1::PortraitGetResponse response;
  for (const auto& user : request.to_account()) {
    auto* item = response.add_user_profile_item();
    item->set_to_account(user);
    if (!existing->count(user)) {
      item->set_result_code(kProfileNotImported);
      item->set_result_info("the account is not imported");
      response.add_fail_account(user);
      if (response.error_display().empty()) response.set_error_display(item->result_info());
      continue;
    }
    const auto& fields = (*profiles)[user];
    for (const auto& tag : request.tag_list()) {
      auto it = fields.find(tag);
      if (it != fields.end()) AddTag(item->mutable_profile_item(), tag, it->second);
    }
  }
  return response;
}

absl::StatusOr<v1::Empty> RelationshipLogic::PortraitSet(const rpc::Caller& caller,
                                                         const v1::PortraitSetRequest& request) {
  auto actor = Actor(caller, request.from_account(), kProfileBadParam, kProfileNotImported);
  if (!actor.ok()) return actor.status();
  if (request.profile_item().empty()) return errors::Error(kProfileBadParam, "ProfileItem is empty");
  uint64_t app = caller.sdkappid;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    Settings settings = LoadSettings(tx, app);
    Struct update;
    for (const auto& item : request.profile_item()) {
      if (auto valid = ValidateProfileItem(item.tag(), item.value(), caller.is_admin,
                                           settings.profile_custom);
          !valid.ok()) {
        return valid;
      }
      (*update.mutable_fields())[item.tag()] = item.value();
    }
    LockUsers(tx, app, {*actor});
    tx.exec_params(
        "UPDATE rel_users SET profile = profile || $3::jsonb WHERE sdkappid = $1 AND user_id = $2",
        app, *actor, StructJson(update));
    // The user's devices and everyone who has them as a friend hear of it.
    changes.Add(*actor, "profile_changed", {*actor});
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const auto& item : request.profile_item()) {
      items.push_back({{"Tag", item.tag()},
                       {"Value", nlohmann::ordered_json::parse(protojson::Print(item.value()))}});
    }
    changes.callbacks.emplace_back(
        "Profile.CallbackPortraitSet",
        nlohmann::ordered_json{{"Operator_Account", caller.identifier},
                               {"From_Account", *actor},
                               {"ProfileItem", std::move(items)}});
    for (const auto& row : tx.exec_params(
             "SELECT owner_id FROM rel_friends WHERE sdkappid = $1 AND friend_id = $2", app,
             *actor)) {
      changes.Add(row[0].as<std::string>(), "profile_changed", {*actor});
    }
    return absl::OkStatus();
  });
  if (!st.ok()) {
    if (errors::TencentCode(st, 0) == kSnsInternal) {
      return errors::Error(kProfileInternal, "profile storage failed; retry");
    }
    return st;
  }
  return v1::Empty();
}

// ---- internal -----------------------------------------------------------------

absl::StatusOr<v1::Empty> RelationshipLogic::ForgetUsers(const rpc::Caller& caller,
                                                         const v1::ForgetUsersRequest& request) {
  if (!caller.is_service) return errors::Error(kSnsRequiresAdmin, "ForgetUsers is internal");
  std::vector<std::string> users(request.user_ids().begin(), request.user_ids().end());
  if (users.empty()) return v1::Empty();
  uint64_t app = caller.sdkappid;
  absl::Status st = Transact(caller, [&](pqxx::work& tx, Changes& changes) {
    std::string gone = pg::TextArray(users);
    // Everyone whose lists change is locked with the users themselves.
    auto owners = Column(tx.exec_params(
        "SELECT owner_id FROM rel_friends WHERE sdkappid = $1 AND friend_id = ANY($2::text[])"
        " UNION SELECT owner_id FROM rel_blocks WHERE sdkappid = $1 AND blocked_id = ANY($2::text[])",
        app, gone));
    std::vector<std::string> locked(owners.begin(), owners.end());
    locked.insert(locked.end(), users.begin(), users.end());
    LockUsers(tx, app, locked);
    std::map<std::string, std::vector<std::string>> lost;  // owner -> deleted friends
    for (const auto& row : tx.exec_params(
             "DELETE FROM rel_friends WHERE sdkappid = $1 AND (owner_id = ANY($2::text[])"
             " OR friend_id = ANY($2::text[])) RETURNING owner_id, friend_id",
             app, gone)) {
      lost[row[0].as<std::string>()].push_back(row[1].as<std::string>());
    }
    tx.exec_params(
        "DELETE FROM rel_blocks WHERE sdkappid = $1 AND (owner_id = ANY($2::text[])"
        " OR blocked_id = ANY($2::text[]))",
        app, gone);
    tx.exec_params(
        "DELETE FROM rel_requests WHERE sdkappid = $1 AND (from_id = ANY($2::text[])"
        " OR to_id = ANY($2::text[]))",
        app, gone);
    tx.exec_params("DELETE FROM rel_friend_groups WHERE sdkappid = $1 AND owner_id = ANY($2::text[])",
                   app, gone);
    tx.exec_params("DELETE FROM rel_users WHERE sdkappid = $1 AND user_id = ANY($2::text[])", app,
                   gone);
    std::set<std::string> deleted(users.begin(), users.end());
    for (const auto& owner : owners) {
      if (deleted.count(owner)) continue;
      tx.exec_params(
          "UPDATE rel_users SET friend_seq = friend_seq + 1, block_seq = block_seq + 1"
          " WHERE sdkappid = $1 AND user_id = $2",
          app, owner);
      changes.relations.insert(owner);
      changes.Add(owner, "friend_deleted", lost[owner]);
    }
    changes.relations.insert(users.begin(), users.end());
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  if (on_forget_) on_forget_(app, users);
  return v1::Empty();
}

absl::StatusOr<v1::CheckSendPermissionResponse> RelationshipLogic::CheckSendPermission(
    const rpc::Caller& caller, const v1::CheckSendPermissionRequest& request) {
  if (!caller.is_service) return errors::Error(kSnsRequiresAdmin, "CheckSendPermission is internal");
  uint64_t app = caller.sdkappid;
  return pool_->Query<v1::CheckSendPermissionResponse>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::CheckSendPermissionResponse> {
        pqxx::nontransaction tx(c);
        auto rows = tx.exec_params(
            "SELECT"
            " EXISTS (SELECT 1 FROM rel_blocks WHERE sdkappid = $1 AND owner_id = $3"
            "   AND blocked_id = $2),"
            " EXISTS (SELECT 1 FROM rel_friends WHERE sdkappid = $1 AND owner_id = $2"
            "   AND friend_id = $3),"
            " EXISTS (SELECT 1 FROM rel_friends WHERE sdkappid = $1 AND owner_id = $3"
            "   AND friend_id = $2),"
            " coalesce((SELECT check_friendship FROM rel_settings WHERE sdkappid = $1), false),"
            " coalesce((SELECT admin_send_any FROM rel_settings WHERE sdkappid = $1), true)",
            app, request.from_account(), request.to_account());
        v1::CheckSendPermissionResponse response;
        response.set_recipient_blocked_sender(rows[0][0].as<bool>());
        response.set_sender_has_recipient(rows[0][1].as<bool>());
        response.set_recipient_has_sender(rows[0][2].as<bool>());
        response.set_check_friendship(rows[0][3].as<bool>());
        response.set_admin_send_any(rows[0][4].as<bool>());
        return response;
      });
}

absl::StatusOr<v1::RelationshipSettings> RelationshipLogic::GetSettings(uint64_t sdkappid) {
  if (sdkappid == 0) return errors::Error(kSnsBadParam, "sdkappid is required");
  return pool_->Query<v1::RelationshipSettings>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::RelationshipSettings> {
        pqxx::work tx(c);
        Settings s = LoadSettings(tx, sdkappid);
        v1::RelationshipSettings out;
        out.set_sdkappid(sdkappid);
        out.set_friend_limit(s.friend_limit);
        out.set_pending_limit(s.pending_limit);
        out.set_blocklist_limit(s.blocklist_limit);
        out.set_check_friendship(s.check_friendship);
        out.set_admin_send_any(s.admin_send_any);
        for (const auto& t : s.profile_custom) out.add_profile_custom_tags(t);
        for (const auto& t : s.sns_custom) out.add_sns_custom_tags(t);
        return out;
      });
}

absl::StatusOr<v1::RelationshipSettings> RelationshipLogic::UpdateSettings(
    const v1::RelationshipSettings& update) {
  uint64_t app = update.sdkappid();
  if (app == 0) return errors::Error(kSnsBadParam, "sdkappid is required");
  for (const auto& tags : {update.profile_custom_tags(), update.sns_custom_tags()}) {
    for (const auto& tag : tags) {
      if (!ValidCustomKey(tag)) {
        return errors::Error(kSnsBadParam,
                             absl::StrCat("custom tag key '", tag, "' must be 1 to 8 letters, digits or _"));
      }
    }
  }
  auto optional_int = [](bool has, uint32_t value) {
    return has ? std::to_string(value) : std::string();
  };
  auto optional_bool = [](bool has, bool value) {
    return has ? std::string(value ? "true" : "false") : std::string();
  };
  absl::Status st = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params("INSERT INTO rel_settings (sdkappid) VALUES ($1) ON CONFLICT DO NOTHING", app);
    tx.exec_params(
        "UPDATE rel_settings SET"
        " friend_limit = coalesce(NULLIF($2, '')::int, friend_limit),"
        " pending_limit = coalesce(NULLIF($3, '')::int, pending_limit),"
        " blocklist_limit = coalesce(NULLIF($4, '')::int, blocklist_limit),"
        " check_friendship = coalesce(NULLIF($5, '')::boolean, check_friendship),"
        " admin_send_any = coalesce(NULLIF($6, '')::boolean, admin_send_any),"
        " profile_custom_tags = CASE WHEN $9 THEN '{}' WHEN cardinality($7::text[]) > 0"
        "   THEN $7::text[] ELSE profile_custom_tags END,"
        " sns_custom_tags = CASE WHEN $9 THEN '{}' WHEN cardinality($8::text[]) > 0"
        "   THEN $8::text[] ELSE sns_custom_tags END"
        " WHERE sdkappid = $1",
        app, optional_int(update.has_friend_limit(), update.friend_limit()),
        optional_int(update.has_pending_limit(), update.pending_limit()),
        optional_int(update.has_blocklist_limit(), update.blocklist_limit()),
        optional_bool(update.has_check_friendship(), update.check_friendship()),
        optional_bool(update.has_admin_send_any(), update.admin_send_any()),
        pg::TextArray({update.profile_custom_tags().begin(), update.profile_custom_tags().end()}),
        pg::TextArray({update.sns_custom_tags().begin(), update.sns_custom_tags().end()}),
        update.clear_custom_tags());
    tx.commit();
    return absl::OkStatus();
  });
  if (!st.ok()) return errors::Error(kSnsInternal, "settings could not be stored; retry");
  notifier_->SettingsChanged(app);
  log::Info("relationship_settings_updated", {{"sdkappid", app}});
  return GetSettings(app);
}

}  // namespace parley::relationship
