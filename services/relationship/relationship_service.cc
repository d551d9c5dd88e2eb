#include "relationship_service.h"

#include <google/protobuf/struct.pb.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/protojson/protojson.h"
#include "relationship_rules.h"
#include "relationship_store.h"

namespace parley::relationship {

using accounts::ValidUserId;
using google::protobuf::Struct;
using google::protobuf::Value;

namespace {

constexpr uint32_t kFriendPage = 100;
constexpr uint32_t kListPage = 100;
constexpr char kSendOut[] = "Pendency_Type_SendOut";
constexpr char kComeIn[] = "Pendency_Type_ComeIn";

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

// A friend entry as Tag_SNS_* items (`wanted` null: all of them).
void FriendTags(const FriendRow& row, const std::set<std::string>* wanted,
                google::protobuf::RepeatedPtrField<v1::TagValue>* out) {
  auto want = [&](const std::string& tag) { return wanted == nullptr || wanted->count(tag); };
  if (want("Tag_SNS_IM_Group")) {
    Value groups;
    groups.mutable_list_value();
    std::set<std::string> sorted(row.groups.begin(), row.groups.end());
    for (const auto& g : sorted) *groups.mutable_list_value()->add_values() = StringValue(g);
    AddTag(out, "Tag_SNS_IM_Group", groups);
  }
  if (want("Tag_SNS_IM_Remark")) AddTag(out, "Tag_SNS_IM_Remark", StringValue(row.remark));
  if (want("Tag_SNS_IM_AddSource")) AddTag(out, "Tag_SNS_IM_AddSource", StringValue(row.add_source));
  if (want("Tag_SNS_IM_AddWording")) {
    AddTag(out, "Tag_SNS_IM_AddWording", StringValue(row.add_wording));
  }
  if (want("Tag_SNS_IM_AddTime")) {
    AddTag(out, "Tag_SNS_IM_AddTime", NumberValue(static_cast<double>(row.add_time)));
  }
  if (want("Tag_SNS_IM_RemarkTime")) {
    AddTag(out, "Tag_SNS_IM_RemarkTime", NumberValue(static_cast<double>(row.remark_time)));
  }
  Struct custom = ParseStruct(row.custom_json);
  std::map<std::string, Value> sorted(custom.fields().begin(), custom.fields().end());
  for (const auto& [tag, value] : sorted) {
    if (want(tag)) AddTag(out, tag, value);
  }
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
  std::map<std::string, Refusal> refused;
  if (verdict.verdict() != v1::BeforeResponse::ALLOW) {
    int32_t code = verdict.error_code() == 80003 ? 80003 : CallbackCode(verdict.error_code());
    for (const auto& t : *targets) refused[t] = {code, "refused by the app's callback"};
  } else if (!verdict.response_json().empty()) {
    refused = CallbackRefusals(verdict.response_json());
  }
  if (refused.empty()) return absl::OkStatus();
  std::vector<std::string> kept;
  for (const auto& t : *targets) {
    auto it = refused.find(t);
    if (it == refused.end()) {
      kept.push_back(t);
    } else {
      AddResult(results, t, it->second.code, it->second.info);
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
    store::LockUsers(tx, app, users);
    Settings settings = store::LoadSettings(tx, app);
    auto has = store::FriendsOf(tx, app, *actor, *targets);
    auto have_me = store::HavingFriend(tx, app, *actor, *targets);
    auto i_blocked = store::BlockedBy(tx, app, *actor, *targets);
    auto blocked_me = store::Blocking(tx, app, *actor, *targets);
    auto counts = store::FriendCounts(tx, app, users);
    bool forbidden = !caller.is_admin &&
                     store::ProfileTexts(tx, app, {*actor}, "Tag_Profile_IM_AdminForbidType")[*actor] ==
                         "AdminForbid_Type_SendOut";
    // One query each for all targets, not one per target.
    auto allow_types = store::ProfileTexts(tx, app, *targets, "Tag_Profile_IM_AllowType");
    auto pending_counts = store::PendingCounts(tx, app, *targets);
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
          store::FriendGroupCountAfter(tx, app, *actor, groups) > kMaxFriendGroups) {
        decision = AddDecision{kFriendGroupLimit};
      }
      if (decision.create_request) {
        store::UpsertRequest(tx, app,
                             {*actor, to, item.add_source(), item.add_wording(), item.remark(),
                              groups.empty() ? "" : groups[0],
                              both ? "Add_Type_Both" : "Add_Type_Single", now});
        changes.Add(to, "request_received", {*actor});
      }
      if (decision.add_forward) {
        FriendRow entry{to,     item.remark(), groups, item.add_source(), item.add_wording(),
                        now,    item.remark().empty() ? 0 : now};
        store::InsertFriend(tx, app, *actor, entry);
        ++counts[*actor];
        added.push_back(to);
        pairs.push_back({{"From_Account", *actor}, {"To_Account", to}, {"Initiator_Account", *actor}});
      }
      if (decision.add_reverse) {
        FriendRow entry;
        entry.friend_id = *actor;
        entry.add_source = item.add_source();
        entry.add_time = now;
        store::InsertFriend(tx, app, to, entry);
        ++counts[to];
        changes.relations.insert(to);
        changes.Add(to, "friend_added", {*actor});
        pairs.push_back({{"From_Account", to}, {"To_Account", *actor}, {"Initiator_Account", *actor}});
      }
      if (decision.add_forward || decision.add_reverse) store::DeleteRequestsBetween(tx, app, *actor, to);
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
    store::LockUsers(tx, app, {*actor});
    Settings settings = store::LoadSettings(tx, app);
    auto has = store::FriendsOf(tx, app, *actor, *targets);
    auto i_blocked = store::BlockedBy(tx, app, *actor, *targets);
    uint32_t count = store::FriendCount(tx, app, *actor);
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
      if (code == 0 && !groups.empty() && store::FriendGroupCountAfter(tx, app, *actor, groups) > kMaxFriendGroups) {
        code = kFriendGroupLimit;
      }
      if (code != 0) {
        AddResult(&outcome, to, code, info.empty() ? AddInfo(code) : info);
        continue;
      }
      FriendRow entry{to,
                      item.remark(),
                      groups,
                      item.add_source(),
                      item.add_wording(),
                      item.add_time() ? item.add_time() : now,
                      item.remark_time(),
                      StructJson(custom)};
      store::InsertFriend(tx, app, *actor, entry);
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
    store::LockUsers(tx, app, {*actor});
    Settings settings = store::LoadSettings(tx, app);
    std::vector<std::string> updated;
    for (const auto& item : request.update_item()) {
      const std::string& to = item.to_account();
      std::optional<FriendRow> entry = store::Friend(tx, app, *actor, to);
      if (!entry) {
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
      // The item's changes are applied to the entry, then written at once:
      // an item that fails changes nothing.
      Struct custom = ParseStruct(entry->custom_json);
      bool groups_changed = false;
      for (const auto& tv : item.sns_item()) {
        if (tv.tag() == "Tag_SNS_IM_Remark") {
          entry->remark = tv.value().string_value();
          entry->remark_time = now;
        } else if (tv.tag() == "Tag_SNS_IM_Group") {
          entry->groups = GroupNames(tv.value());
          groups_changed = true;
        } else {
          (*custom.mutable_fields())[tv.tag()] = tv.value();
        }
      }
      if (groups_changed &&
          store::FriendGroupCountAfter(tx, app, *actor, entry->groups) > kMaxFriendGroups) {
        AddResult(&outcome, to, kFriendGroupLimit, AddInfo(kFriendGroupLimit));
        continue;
      }
      entry->custom_json = StructJson(custom);
      store::UpdateFriend(tx, app, *actor, *entry);
      if (groups_changed) store::EnsureFriendGroups(tx, app, *actor, entry->groups);
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
    store::LockUsers(tx, app, users);
    std::vector<std::string> deleted;
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : *targets) {
      bool mine = store::DeleteFriend(tx, app, *actor, to);
      bool theirs = both && store::DeleteFriend(tx, app, to, *actor);
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
    store::LockUsers(tx, app, {*actor});
    std::vector<std::string> list = store::FriendIds(tx, app, *actor);
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const auto& to : list) pairs.push_back({{"From_Account", *actor}, {"To_Account", to}});
    if (both && !list.empty()) {
      std::vector<std::string> users = list;
      users.push_back(*actor);
      store::LockUsers(tx, app, users);
      for (const auto& to : list) {
        if (store::DeleteFriend(tx, app, to, *actor)) {
          changes.relations.insert(to);
          changes.Add(to, "friend_deleted", {*actor});
          pairs.push_back({{"From_Account", to}, {"To_Account", *actor}});
        }
      }
    }
    store::DeleteAllFriends(tx, app, *actor);
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
                                         store::FriendsOf, store::HavingFriend, FriendRelation};
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
        uint64_t seq = store::CurrentSeq(tx, app, *actor, ListSeq::kFriends);
        response.set_standard_sequence(seq);
        response.set_custom_sequence(seq);
        response.set_friend_num(store::FriendCount(tx, app, *actor));
        // The caller's copy is current: nothing to send.
        if (request.standard_sequence() != 0 && request.standard_sequence() == seq &&
            request.start_index() == 0) {
          response.set_complete_flag(1);
          return response;
        }
        auto rows = store::FriendPage(tx, app, *actor, request.start_index(), kFriendPage + 1);
        size_t n = std::min<size_t>(rows.size(), kFriendPage);
        for (size_t i = 0; i < n; ++i) {
          auto* item = response.add_user_data_item();
          item->set_to_account(rows[i].friend_id);
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
        auto friends = store::Friends(tx, app, *actor, others);
        auto profiles = store::ProfileTags(tx, app, others, {wanted.begin(), wanted.end()});
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
            if (it != fields.end()) AddTag(item->mutable_sns_profile_item(), tag, ToValue(it->second));
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
        Direction direction = type == kComeIn    ? Direction::kIncoming
                              : type == kSendOut ? Direction::kOutgoing
                                                 : Direction::kBoth;
        PendencyPage page =
            store::Pendencies(tx, app, *actor, direction, request.start_index(), limit);
        v1::PendencyGetResponse response;
        for (const auto& request_row : page.items) {
          auto* item = response.add_pendency_item();
          bool incoming = request_row.to_id == *actor;
          item->set_to_account(incoming ? request_row.from_id : request_row.to_id);
          item->set_pendency_type(incoming ? kComeIn : kSendOut);
          item->set_add_source(request_row.add_source);
          item->set_add_wording(request_row.add_wording);
          item->set_add_time(request_row.created_at);
          item->set_add_type(request_row.add_type);
        }
        response.set_total_count(page.total);
        uint32_t next = request.start_index() + static_cast<uint32_t>(page.items.size());
        response.set_next_start_index(next < response.total_count() ? next : 0);
        response.set_pendency_read_time(page.read_time);
        response.set_unread_pendency_count(page.unread);
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
    store::LockUsers(tx, app, users);
    Settings settings = store::LoadSettings(tx, app);
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    // The facts of every answered request, in one query each.
    auto i_blocked = store::BlockedBy(tx, app, *actor, answering);
    auto blocked_me = store::Blocking(tx, app, *actor, answering);
    auto i_have = store::FriendsOf(tx, app, *actor, answering);
    auto have_me = store::HavingFriend(tx, app, *actor, answering);
    auto counts = store::FriendCounts(tx, app, users);
    for (const auto& item : request.response_friend_item()) {
      const std::string& requester = item.to_account();
      if (!allowed.count(requester)) continue;  // refused by the callback
      std::optional<PendingRequest> req = store::TakeRequest(tx, app, requester, *actor);
      if (!req) {
        AddResult(&outcome, requester, kRequestNotFound, "there is no such pending request");
        continue;
      }
      changes.Add(*actor, "request_deleted", {requester});
      ResponseFacts facts;
      facts.agree = item.response_action() != "Response_Action_Reject";
      facts.agree_and_add = item.response_action() == "Response_Action_AgreeAndAdd";
      facts.request_was_both = req->add_type == "Add_Type_Both";
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
        FriendRow entry;  // as the requester asked for it
        entry.friend_id = *actor;
        entry.remark = req->remark;
        if (!req->group_name.empty()) entry.groups = {req->group_name};
        entry.add_source = req->add_source;
        entry.add_wording = req->add_wording;
        entry.add_time = now;
        store::InsertFriend(tx, app, requester, entry);
        ++counts[requester];
        changes.relations.insert(requester);
        changes.Add(requester, "friend_added", {*actor});
        pairs.push_back(
            {{"From_Account", requester}, {"To_Account", *actor}, {"Initiator_Account", requester}});
      }
      if (decision.add_to_responder) {
        FriendRow entry;
        entry.friend_id = requester;
        entry.remark = item.remark();
        if (!item.tag_name().empty()) entry.groups = {item.tag_name()};
        entry.add_source = req->add_source;
        entry.add_time = now;
        store::InsertFriend(tx, app, *actor, entry);
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
      bool found = type == kComeIn ? store::TakeRequest(tx, app, other, *actor).has_value()
                                   : store::TakeRequest(tx, app, *actor, other).has_value();
      if (!found) {
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
    store::LockUsers(tx, app, {*actor});
    store::MarkPendenciesRead(tx, app, *actor, read_time);
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
    store::LockUsers(tx, app, users);
    Settings settings = store::LoadSettings(tx, app);
    auto already = store::BlockedBy(tx, app, *actor, *targets);
    uint32_t blocked = store::BlockCount(tx, app, *actor);
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
      store::InsertBlock(tx, app, *actor, to, now);
      ++blocked;
      added.push_back(to);
      // Blocking ends any friendship, both ways, and any pending request.
      if (store::DeleteFriend(tx, app, *actor, to)) unfriended.push_back(to);
      if (store::DeleteFriend(tx, app, to, *actor)) changes.Add(to, "friend_deleted", {*actor});
      store::DeleteRequestsBetween(tx, app, *actor, to);
      changes.relations.insert(to);
      AddResult(&outcome, to, 0, "");
    }
    if (!added.empty()) {
      store::BumpSeq(tx, app, *actor, ListSeq::kBlocks);
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
    store::LockUsers(tx, app, {*actor});
    auto removed = store::DeleteBlocks(tx, app, *actor, *targets);
    for (const auto& to : *targets) {
      if (removed.count(to)) {
        AddResult(&outcome, to, 0, "");
      } else {
        AddResult(&outcome, to, kSnsBadParam, "To_Account is not in the blocklist");
      }
    }
    if (!removed.empty()) {
      store::BumpSeq(tx, app, *actor, ListSeq::kBlocks);
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
        uint64_t seq = store::CurrentSeq(tx, app, *actor, ListSeq::kBlocks);
        response.set_curruent_sequence(seq);
        response.set_current_sequence(seq);
        auto rows = store::BlockPage(tx, app, *actor, request.start_index(), limit + 1);
        size_t n = std::min<size_t>(rows.size(), limit);
        for (size_t i = 0; i < n; ++i) {
          auto* item = response.add_black_list_item();
          item->set_to_account(rows[i].first);
          item->set_add_black_time_stamp(rows[i].second);
        }
        response.set_start_index(rows.size() > limit ? request.start_index() + limit : 0);
        return response;
      });
}

absl::StatusOr<v1::BlackListCheckResponse> RelationshipLogic::BlackListCheck(
    const rpc::Caller& caller, const v1::BlackListCheckRequest& request) {
  static const RelationCheck kBlocks = {"BlackCheckResult_Type_Both",
                                        "BlackCheckResult_Type_Single", store::BlockedBy,
                                        store::Blocking, BlockRelation};
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
    store::LockUsers(tx, app, {*actor});
    if (store::FriendGroupCountAfter(tx, app, *actor, names) > kMaxFriendGroups) {
      return errors::Error(kFriendGroupLimit, "at most 32 friend lists");
    }
    store::EnsureFriendGroups(tx, app, *actor, names);
    auto friends = store::FriendsOf(tx, app, *actor, members);
    for (const auto& to : members) {
      auto* item = response.add_result_item();
      item->set_to_account(to);
      if (!friends.count(to)) {
        item->set_result_code(kNotFriends);
        item->set_result_info("To_Account is not a friend");
        response.add_fail_account(to);
        continue;
      }
      store::AddToFriendGroups(tx, app, *actor, to, names);
    }
    response.set_current_sequence(store::CurrentSeq(tx, app, *actor, ListSeq::kFriendGroups));
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
    store::LockUsers(tx, app, {*actor});
    if (store::DeleteFriendGroups(tx, app, *actor, names).empty()) {
      return errors::Error(kSnsBadParam, "no such friend list");
    }
    response.set_current_sequence(store::CurrentSeq(tx, app, *actor, ListSeq::kFriendGroups));
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
        uint64_t seq = store::CurrentSeq(tx, app, *actor, ListSeq::kFriendGroups);
        response.set_current_sequence(seq);
        if (request.last_sequence() != 0 && request.last_sequence() == seq && only.empty()) {
          return response;  // up to date
        }
        std::map<std::string, v1::FriendGroup> groups;
        for (const auto& name : store::FriendGroupNames(tx, app, *actor)) {
          if (only.empty() || only.count(name)) groups[name].set_group_name(name);
        }
        for (const auto& [name, friend_id] : store::FriendGroupMembers(tx, app, *actor)) {
          auto it = groups.find(name);
          if (it == groups.end()) continue;
          it->second.set_friend_number(it->second.friend_number() + 1);
          if (need_friend) it->second.add_to_account(friend_id);
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
  using Profiles = std::map<std::string, std::map<std::string, nlohmann::json>>;
  std::vector<std::string> tags(request.tag_list().begin(), request.tag_list().end());
  auto profiles = pool_->Query<Profiles>([&](pqxx::connection& c) -> absl::StatusOr<Profiles> {
    pqxx::nontransaction tx(c);
    return store::ProfileTags(tx, app, users, tags);
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
      if (it != fields.end()) AddTag(item->mutable_profile_item(), tag, ToValue(it->second));
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
    Settings settings = store::LoadSettings(tx, app);
    Struct update;
    for (const auto& item : request.profile_item()) {
      if (auto valid = ValidateProfileItem(item.tag(), item.value(), caller.is_admin,
                                           settings.profile_custom);
          !valid.ok()) {
        return valid;
      }
      (*update.mutable_fields())[item.tag()] = item.value();
    }
    store::LockUsers(tx, app, {*actor});
    store::MergeProfile(tx, app, *actor, StructJson(update));
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
    for (const auto& owner : store::OwnersHavingFriend(tx, app, *actor)) {
      changes.Add(owner, "profile_changed", {*actor});
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
    for (const auto& [owner, lost] : store::ForgetUsers(tx, app, users)) {
      changes.relations.insert(owner);
      changes.Add(owner, "friend_deleted", lost);
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
        return store::SendFacts(tx, app, request.from_account(), request.to_account());
      });
}

absl::StatusOr<v1::RelationshipSettings> RelationshipLogic::GetSettings(uint64_t sdkappid) {
  if (sdkappid == 0) return errors::Error(kSnsBadParam, "sdkappid is required");
  return pool_->Query<v1::RelationshipSettings>(
      [&](pqxx::connection& c) -> absl::StatusOr<v1::RelationshipSettings> {
        pqxx::work tx(c);
        Settings s = store::LoadSettings(tx, sdkappid);
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
  absl::Status st = pool_->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    store::SaveSettings(tx, update);
    tx.commit();
    return absl::OkStatus();
  });
  if (!st.ok()) return errors::Error(kSnsInternal, "settings could not be stored; retry");
  notifier_->SettingsChanged(app);
  log::Info("relationship_settings_updated", {{"sdkappid", app}});
  return GetSettings(app);
}

}  // namespace parley::relationship
