#include "group_service.h"
#include "room_store.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "parley/accounts/accounts.h"
#include "parley/delivery/topics.h"
#include "permission_store.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"

namespace parley::group {
namespace {

constexpr int kIdAttempts = 5;
constexpr char kBeforeCreateGroup[] = "Group.CallbackBeforeCreateGroup";
constexpr char kBeforeInviteJoinGroup[] = "Group.CallbackBeforeInviteJoinGroup";
constexpr char kBeforeApplyJoinGroup[] = "Group.CallbackBeforeApplyJoinGroup";

// The base-info fields get_group_info and get_joined_group_list answer with
// when no GroupBaseInfoFilter narrows them.
bool Wanted(const google::protobuf::RepeatedPtrField<std::string>& filter, const char* field) {
  return filter.empty() || std::find(filter.begin(), filter.end(), field) != filter.end();
}

// Fills the group fields of a GroupInfo or JoinedGroup (same field names).
template <class Out>
void FillBase(const GroupRow& g, const google::protobuf::RepeatedPtrField<std::string>& filter,
              Out* out) {
  out->set_group_id(g.group_id);
  if (Wanted(filter, "Type")) out->set_type(GroupTypeName(g.type));
  if (Wanted(filter, "Name")) out->set_name(g.name);
  if (Wanted(filter, "Introduction")) out->set_introduction(g.introduction);
  if (Wanted(filter, "Notification")) out->set_notification(g.notification);
  if (Wanted(filter, "FaceUrl")) out->set_face_url(g.face_url);
  if (Wanted(filter, "Owner_Account")) out->set_owner_account(g.owner);
  if (Wanted(filter, "CreateTime")) out->set_create_time(g.create_time);
  if (Wanted(filter, "InfoSeq")) out->set_info_seq(g.info_seq);
  if (Wanted(filter, "LastInfoTime")) out->set_last_info_time(g.last_info_time);
  if (Wanted(filter, "LastMsgTime")) out->set_last_msg_time(g.last_msg_time);
  if (Wanted(filter, "NextMsgSeq")) out->set_next_msg_seq(g.next_msg_seq);
  if (Wanted(filter, "MemberNum")) out->set_member_num(g.member_count);
  if (Wanted(filter, "MaxMemberNum")) out->set_max_member_num(g.max_members);
  if (Wanted(filter, "ApplyJoinOption")) out->set_apply_join_option(g.apply_join_option);
  if (Wanted(filter, "InviteJoinOption")) out->set_invite_join_option(g.invite_join_option);
  if (Wanted(filter, "MuteAllMember") || Wanted(filter, "ShutUpAllMember")) {
    out->set_mute_all_member(g.mute_all ? "On" : "Off");
  }
}

void FillMember(const MemberRow& m, const google::protobuf::RepeatedPtrField<std::string>& filter,
                v1::GroupMember* out) {
  out->set_member_account(m.user_id);
  if (Wanted(filter, "Role")) out->set_role(RoleName(m.role));
  if (Wanted(filter, "JoinTime")) out->set_join_time(m.join_time);
  if (Wanted(filter, "MsgSeq")) out->set_msg_seq(0);  // read positions come with group messages
  if (Wanted(filter, "MsgFlag")) out->set_msg_flag(MsgFlagName(m.msg_flag));
  if (Wanted(filter, "LastSendMsgTime")) out->set_last_send_msg_time(m.last_send_time);
  if (Wanted(filter, "MuteUntil") || Wanted(filter, "ShutUpUntil")) {
    out->set_mute_until(m.mute_until);
  }
  if (Wanted(filter, "NameCard")) out->set_name_card(m.name_card);
}

// Roles named in a MemberRoleFilter; 10004 for an unknown one.
absl::StatusOr<std::vector<Role>> RoleFilter(
    const google::protobuf::RepeatedPtrField<std::string>& names) {
  std::vector<Role> roles;
  for (const auto& name : names) {
    auto role = ParseRole(name);
    if (!role) return errors::Error(kInvalidParam, absl::StrCat("unknown role in MemberRoleFilter: ", name));
    roles.push_back(*role);
  }
  return roles;
}

std::vector<std::pair<std::string, std::string>> Items(
    const google::protobuf::RepeatedPtrField<v1::GroupKeyValue>& list) {
  std::vector<std::pair<std::string, std::string>> items;
  for (const auto& kv : list) items.emplace_back(kv.key(), kv.value());
  return items;
}

// Custom-field values into an answer, only the keys of `filter` when it
// names any.
void AddData(const CustomData& data, const google::protobuf::RepeatedPtrField<std::string>& filter,
             google::protobuf::RepeatedPtrField<v1::GroupKeyValue>* out) {
  for (const auto& [key, value] : data) {
    if (!filter.empty() && std::find(filter.begin(), filter.end(), key) == filter.end()) continue;
    auto* kv = out->Add();
    kv->set_key(key);
    kv->set_value(value);
  }
}

// Members' custom fields into a member list (`members` in its order).
void AddMemberData(pqxx::work& tx, uint64_t app, const std::string& group,
                   const google::protobuf::RepeatedPtrField<std::string>& filter,
                   google::protobuf::RepeatedPtrField<v1::GroupMember>* members) {
  std::vector<std::string> users;
  for (const auto& m : *members) users.push_back(m.member_account());
  if (users.empty()) return;
  auto data = store::MemberData(tx, app, group, users);
  for (auto& m : *members) {
    auto it = data.find(m.member_account());
    if (it != data.end()) AddData(it->second, filter, m.mutable_app_member_defined_data());
  }
}

// The fields every Group.* callback about one group starts with.
nlohmann::json GroupEvent(const GroupRow& g, const rpc::Caller& caller) {
  return {{"GroupId", g.group_id}, {"Type", GroupTypeName(g.type)},
          {"Operator_Account", caller.identifier}};
}

}  // namespace

GroupLogic::GroupLogic(pg::Pool* pool, ExistingAccounts existing, Clock now, Random random)
    : pool_(pool), existing_(std::move(existing)), now_(std::move(now)), random_(std::move(random)) {
  standings_ = std::make_unique<batching::Batcher<store::StandingKey, StandingResult>>(
      512, [this](const std::vector<store::StandingKey>& keys) {
        using Standings = std::vector<std::optional<store::RoomStanding>>;
        auto read = Transact<Standings>([&](pqxx::work& tx) -> absl::StatusOr<Standings> {
          return store::Standings(tx, keys, now_());
        });
        std::vector<StandingResult> out;
        for (size_t i = 0; i < keys.size(); ++i) {
          out.push_back(read.ok() ? StandingResult((*read)[i]) : StandingResult(read.status()));
        }
        return out;
      });
}

absl::StatusOr<std::set<std::string>> GroupLogic::Existing(uint64_t app,
                                                           const std::vector<std::string>& users) {
  if (users.empty()) return std::set<std::string>();
  auto existing = existing_(app, users);
  if (!existing.ok()) {
    log::Warn("group_accounts_unknown", {{"error", std::string(existing.status().message())}});
    return errors::Error(kInternal, "could not check the accounts; retry");
  }
  return existing;
}

absl::Status GroupLogic::Before(const rpc::Caller& caller, const char* command,
                                const nlohmann::json& payload, nlohmann::json* answer) {
  if (callbacks_ == nullptr || !callbacks_->Enabled(caller.sdkappid, command)) {
    return absl::OkStatus();
  }
  auto verdict = callbacks_->Before(caller.sdkappid, command, payload.dump(),
                                    callbacks::OptPlatform(caller.is_admin, caller.platform),
                                    caller.client_ip);
  if (verdict.verdict() != v1::BeforeResponse::ALLOW) {
    return errors::Error(kRefusedByCallback, verdict.error_info().empty()
                                                 ? "refused by the app's callback"
                                                 : verdict.error_info());
  }
  if (answer != nullptr && !verdict.response_json().empty()) {
    *answer = nlohmann::json::parse(verdict.response_json(), nullptr, false);
  }
  return absl::OkStatus();
}

void GroupLogic::Events::Tip(const GroupRow& group, const std::string& type,
                             const std::string& operator_account,
                             std::vector<std::string> members, std::string detail, bool silent) {
  v1::PostGroupTipRequest request;
  request.set_group_id(group.group_id);
  request.set_group_type(static_cast<int32_t>(group.type));
  auto* tip = request.mutable_tip();
  tip->set_type(type);
  tip->set_operator_account(operator_account);
  for (auto& m : members) tip->add_member_account(std::move(m));
  tip->set_detail(std::move(detail));
  tip->set_silent(silent);
  tips.push_back(std::move(request));
}

void GroupLogic::Events::Notice(const std::vector<std::string>& users,
                                const v1::GroupRequestNotice& notice, int64_t now) {
  v1::TimelineEvent event;
  event.set_kind(v1::TimelineEvent::KIND_GROUP_REQUEST);
  event.set_event_time(static_cast<uint32_t>(now));
  *event.mutable_group_request() = notice;
  for (const auto& user : users) notices.emplace_back(user, event);
}

void GroupLogic::Emit(const rpc::Caller& caller, const Events& events) {
  if (notify_) {
    for (const auto& [user, event] : events.notices) notify_(caller.sdkappid, user, event);
  }
  if (post_tip_) {
    for (const auto& tip : events.tips) {
      auto seq = post_tip_(caller.sdkappid, tip);
      if (!seq.ok()) {
        // The change stands; members learn it from the group's state on
        // their next login.
        log::Warn("group_tip_failed", {{"sdkappid", caller.sdkappid},
                                       {"group", tip.group_id()},
                                       {"error", std::string(seq.status().message())}});
        continue;
      }
      // Tips take seqs too: NextMsgSeq is the seq the next message gets.
      auto noted = Transact<v1::GroupEmpty>([&](pqxx::work& tx) -> absl::StatusOr<v1::GroupEmpty> {
        store::NoteTipSeq(tx, caller.sdkappid, tip.group_id(), static_cast<int64_t>(*seq));
        return v1::GroupEmpty();
      });
      if (!noted.ok()) {
        log::Warn("group_tip_seq_not_noted",
                  {{"sdkappid", caller.sdkappid}, {"group", tip.group_id()}});
      }
    }
  }
  if (callbacks_ == nullptr) return;
  for (const auto& [command, payload] : events) {
    if (!callbacks_->Enabled(caller.sdkappid, command)) continue;
    callbacks_->After(caller.sdkappid, command, payload.dump(),
                      callbacks::OptPlatform(caller.is_admin, caller.platform), caller.client_ip);
  }
}

std::vector<std::string> GroupLogic::Managers(pqxx::work& tx, uint64_t app,
                                             const std::string& id) {
  std::vector<std::string> out;
  for (const auto& m : store::MemberPage(tx, app, id, {Role::kOwner, Role::kAdmin}, 0,
                                         static_cast<uint32_t>(kMaxMemberPage), now_())) {
    out.push_back(m.user_id);
  }
  return out;
}

absl::StatusOr<GroupRow> GroupLogic::Load(pqxx::work& tx, const rpc::Caller& caller,
                                          const std::string& id, bool lock, Actor* actor) {
  if (!WellFormedGroupId(id)) return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  auto group = store::Group(tx, caller.sdkappid, id, lock);
  if (!group) return errors::Error(kNoSuchGroup, "the group does not exist");
  if (caller.is_admin) {
    *actor = {Role::kOwner, true};
    return *group;
  }
  auto self = store::Members(tx, caller.sdkappid, id, {caller.identifier}, now_());
  if (self.empty()) return errors::Error(kNoPermission, "you are not a member of this group");
  *actor = {self[0].role, false};
  if (group->enable_permission) {
    actor->by_permission = true;
    actor->bits = group->default_permission |
                  store::MemberBits(tx, caller.sdkappid, id, caller.identifier);
  }
  return *group;
}

absl::StatusOr<v1::CreateGroupResponse> GroupLogic::CreateGroup(
    const rpc::Caller& caller, const v1::CreateGroupRequest& request) {
  return Create(caller, request, false);
}

absl::StatusOr<v1::CreateGroupResponse> GroupLogic::ImportGroup(
    const rpc::Caller& caller, const v1::CreateGroupRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  if (request.member_list_size() > 0) {
    return errors::Error(kInvalidParam, "import_group takes no MemberList: use import_group_member");
  }
  return Create(caller, request, true);
}

absl::StatusOr<v1::CreateGroupResponse> GroupLogic::Create(const rpc::Caller& caller,
                                                           const v1::CreateGroupRequest& request,
                                                           bool import) {
  auto type = ParseGroupType(request.type());
  if (!type) {
    return errors::Error(kInvalidParam,
                         "Type must be Private, Public, ChatRoom, AVChatRoom or Community");
  }
  bool room = *type == GroupType::kAVChatRoom;
  if (room && request.member_list_size() > 0) {
    return errors::Error(kInvalidParam,
                         "an AVChatRoom takes no MemberList: members enter it over the client "
                         "protocol (room_join)");
  }
  if (request.support_topic() && *type != GroupType::kCommunity) {
    return errors::Error(kInvalidParam, "SupportTopic is for Community groups");
  }
  if ((request.enable_permission() != 0 || request.default_permission() != 0) &&
      *type != GroupType::kCommunity) {
    return errors::Error(kInvalidParam, "permission groups are for Community groups");
  }
  if (request.enable_permission() > 1) {
    return errors::Error(kInvalidParam, "EnablePermission must be 0 or 1");
  }
  if (auto st = CheckPermissionBits(request.default_permission(), false, "DefaultPermission");
      !st.ok()) {
    return st;
  }
  TypeRules rules = RulesFor(*type);
  Profile profile{request.name(), request.introduction(), request.notification(),
                  request.face_url()};
  if (auto st = CheckProfile(profile); !st.ok()) return st;
  if (!room && request.max_member_count() > rules.max_members) {
    return errors::Error(kInvalidParam, absl::StrCat("MaxMemberCount may be at most ",
                                                     rules.max_members, " for this type"));
  }
  if (!request.apply_join_option().empty() &&
      !ValidApplyJoinOption(request.apply_join_option())) {
    return errors::Error(kInvalidParam,
                         "ApplyJoinOption must be FreeAccess, NeedPermission or DisableApply");
  }
  if (!request.invite_join_option().empty() &&
      !ValidInviteJoinOption(request.invite_join_option())) {
    return errors::Error(kInvalidParam,
                         "InviteJoinOption must be FreeAccess, NeedPermission or DisableInvite");
  }
  if (!request.group_id().empty()) {
    if (auto st = CheckCustomGroupId(request.group_id(), *type); !st.ok()) return st;
  }
  // An end user creates groups they own; an app admin names the owner (or none).
  std::string owner = caller.is_admin ? request.owner_account() : caller.identifier;
  if (!owner.empty() && !accounts::ValidUserId(owner)) {
    return errors::Error(kInvalidParam, "Owner_Account is invalid");
  }
  if (static_cast<size_t>(request.member_list_size()) > kMaxInitialMembers) {
    return errors::Error(kTooManyAccounts, absl::StrCat("MemberList holds more than ",
                                                        kMaxInitialMembers, " members"));
  }
  int64_t now = now_();
  std::vector<MemberRow> members;
  std::vector<std::string> accounts;
  if (!owner.empty()) {
    members.push_back({owner, Role::kOwner, now});
    accounts.push_back(owner);
  }
  for (const auto& m : request.member_list()) {
    if (!accounts::ValidUserId(m.member_account())) {
      return errors::Error(kInvalidParam, "MemberList holds an invalid Member_Account");
    }
    Role role = Role::kMember;
    if (!m.role().empty()) {
      auto parsed = ParseRole(m.role());
      if (!parsed || *parsed == Role::kOwner) {
        return errors::Error(kInvalidParam, "a member's Role must be Admin or Member");
      }
      if (*parsed == Role::kAdmin && !rules.has_admins) {
        return errors::Error(kInvalidParam, "this group type has no admins");
      }
      role = *parsed;
    }
    if (std::find(accounts.begin(), accounts.end(), m.member_account()) != accounts.end()) continue;
    accounts.push_back(m.member_account());
    members.push_back({m.member_account(), role, now});
  }
  // An AVChatRoom has no member cap (0).
  uint32_t max_members = room                         ? 0
                         : request.max_member_count() ? request.max_member_count()
                                                      : rules.max_members;
  if (!room && members.size() > max_members) {
    return errors::Error(kGroupFull, "more initial members than MaxMemberCount");
  }
  auto existing = Existing(caller.sdkappid, accounts);
  if (!existing.ok()) return existing.status();
  std::vector<std::string> missing;
  for (const auto& a : accounts) {
    if (!existing->count(a)) missing.push_back(a);
  }
  if (!missing.empty()) {
    return errors::Error(kAccountMissing,
                         absl::StrCat("accounts not imported: ", absl::StrJoin(missing, ",")));
  }

  GroupRow g;
  g.sdkappid = caller.sdkappid;
  g.type = *type;
  g.name = request.name();
  g.introduction = request.introduction();
  g.notification = request.notification();
  g.face_url = request.face_url();
  g.owner = owner;
  g.max_members = max_members;
  g.support_topic = request.support_topic();
  g.enable_permission = request.enable_permission() == 1;
  g.default_permission = request.default_permission();
  // Work groups take no applications whatever the request says.
  g.apply_join_option = *type == GroupType::kWork ? "DisableApply"
                        : request.apply_join_option().empty() ? rules.apply_default
                                                              : request.apply_join_option();
  g.invite_join_option = request.invite_join_option().empty() ? rules.invite_default
                                                              : request.invite_join_option();
  // An imported group has had its history elsewhere: it is active, and
  // keeps its creation time (not in the future).
  g.activated = import || !rules.needs_activation;
  g.create_time = import && request.create_time() != 0 ? request.create_time() : now;
  if (g.create_time > now) return errors::Error(kInvalidParam, "CreateTime is in the future");
  nlohmann::json event = {{"Operator_Account", caller.identifier},
                          {"Owner_Account", owner},
                          {"Type", GroupTypeName(*type)},
                          {"Name", g.name},
                          {"MemberList", AccountList({accounts.begin() + (owner.empty() ? 0 : 1),
                                                      accounts.end()})}};
  if (!import && callbacks_ != nullptr &&
      callbacks_->Enabled(caller.sdkappid, kBeforeCreateGroup)) {
    auto owned = Transact<uint32_t>([&](pqxx::work& tx) -> absl::StatusOr<uint32_t> {
      return store::OwnedGroups(tx, caller.sdkappid, owner);
    });
    if (!owned.ok()) return owned.status();
    event["CreateGroupNum"] = *owned;
    if (auto st = Before(caller, kBeforeCreateGroup, event, nullptr); !st.ok()) return st;
  }
  return Change<v1::CreateGroupResponse>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::CreateGroupResponse> {
        bool inserted = false;
        if (!request.group_id().empty()) {
          g.group_id = request.group_id();
          inserted = store::InsertGroup(tx, g);
          if (!inserted) {
            auto taken = store::Group(tx, caller.sdkappid, g.group_id, false);
            if (taken && !owner.empty() && taken->owner == owner) {
              return errors::Error(kGroupIdYours, "the GroupId is taken, by a group you own");
            }
            return errors::Error(kGroupIdTaken, "the GroupId is taken");
          }
        } else {
          for (int i = 0; i < kIdAttempts && !inserted; ++i) {
            g.group_id = MakeGroupId(*type, random_());
            inserted = store::InsertGroup(tx, g);
          }
          if (!inserted) return errors::Error(kInternal, "could not make a free GroupId; retry");
        }
        store::InsertMembers(tx, caller.sdkappid, g.group_id, members);
        // Custom fields, checked against the keys the app declared: a bad
        // one rolls the whole creation back.
        bool member_data = std::any_of(
            request.member_list().begin(), request.member_list().end(),
            [](const auto& m) { return m.app_member_defined_data_size() > 0; });
        if (request.app_defined_data_size() > 0 || member_data) {
          auto fields = store::GetAppFields(tx, caller.sdkappid);
          CustomData data;
          if (auto st = ApplyCustomData(fields.group_keys, Items(request.app_defined_data()),
                                        kMaxGroupDataValueBytes, "AppDefinedData", &data);
              !st.ok()) {
            return st;
          }
          if (!data.empty()) store::PutGroupData(tx, caller.sdkappid, g.group_id, data);
          for (const auto& m : request.member_list()) {
            if (m.app_member_defined_data_size() == 0) continue;
            CustomData mine;
            if (auto st = ApplyCustomData(fields.member_keys, Items(m.app_member_defined_data()),
                                          kMaxMemberDataValueBytes, "AppMemberDefinedData", &mine);
                !st.ok()) {
              return st;
            }
            store::PutMemberData(tx, caller.sdkappid, g.group_id, m.member_account(), mine);
          }
        }
        std::vector<std::string> founders;
        for (const auto& m : members) founders.push_back(m.user_id);
        events.Tip(g, "GroupCreated", caller.identifier, std::move(founders), "", import);
        nlohmann::json created = event;
        created["GroupId"] = g.group_id;
        created["UserDefinedDataList"] = nlohmann::json::array();
        if (!import) events.emplace_back("Group.CallbackAfterCreateGroup", std::move(created));
        v1::CreateGroupResponse response;
        response.set_group_id(g.group_id);
        response.set_type(GroupTypeName(*type));
        return response;
      });
}

absl::StatusOr<v1::GetGroupInfoResponse> GroupLogic::GetGroupInfo(
    const rpc::Caller& caller, const v1::GetGroupInfoRequest& request) {
  if (request.group_id_list().empty()) return errors::Error(kInvalidParam, "GroupIdList is empty");
  if (static_cast<size_t>(request.group_id_list_size()) > kMaxInfoGroups) {
    return errors::Error(kInvalidParam,
                         absl::StrCat("GroupIdList holds more than ", kMaxInfoGroups, " groups"));
  }
  const auto& filter = request.response_filter();
  // Without any filter the answer holds everything, members included.
  bool with_members = !request.has_response_filter() || !filter.member_info_filter().empty();
  return Transact<v1::GetGroupInfoResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetGroupInfoResponse> {
        v1::GetGroupInfoResponse response;
        for (const auto& id : request.group_id_list()) {
          auto* info = response.add_group_info();
          info->set_group_id(id);
          Actor actor;
          auto group = Load(tx, caller, id, false, &actor);
          if (!group.ok()) {
            info->set_error_code(errors::TencentCode(group.status(), kInternal));
            info->set_error_info(errors::InfoOf(group.status()));
            continue;
          }
          FillBase(*group, filter.group_base_info_filter(), info);
          if (group->type == GroupType::kAVChatRoom && rooms_ != nullptr &&
              Wanted(filter.group_base_info_filter(), "MemberNum")) {
            // A room's members are those online in it.
            auto online = rooms_->Count(caller.sdkappid, id, liveroom::NowMs());
            info->set_member_num(online.ok() ? static_cast<uint32_t>(*online) : 0);
          }
          if (Wanted(filter.group_base_info_filter(), "Appid")) info->set_appid(caller.sdkappid);
          if (group->type == GroupType::kCommunity) {
            const auto& f = filter.group_base_info_filter();
            if (Wanted(f, "SupportTopic")) info->set_support_topic(group->support_topic ? 1 : 0);
            if (Wanted(f, "EnablePermission")) {
              info->set_enable_permission(group->enable_permission ? 1 : 0);
            }
            if (Wanted(f, "DefaultPermission")) info->set_default_permission(group->default_permission);
          }
          // Custom fields: all without a filter, else the keys asked for.
          if (!request.has_response_filter() || filter.app_defined_data_filter_group_size() > 0) {
            AddData(store::GroupData(tx, caller.sdkappid, id), filter.app_defined_data_filter_group(),
                    info->mutable_app_defined_data());
          }
          if (!with_members) continue;
          for (const auto& m : store::MemberPage(tx, caller.sdkappid, id, {}, 0,
                                                 static_cast<uint32_t>(kMaxMemberPage), now_())) {
            FillMember(m, filter.member_info_filter(), info->add_member_list());
          }
          if (!request.has_response_filter() ||
              filter.app_defined_data_filter_group_member_size() > 0) {
            AddMemberData(tx, caller.sdkappid, id, filter.app_defined_data_filter_group_member(),
                          info->mutable_member_list());
          }
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyGroupBaseInfo(
    const rpc::Caller& caller, const v1::ModifyGroupBaseInfoRequest& request) {
  Profile profile;
  if (request.has_name()) profile.name = request.name();
  if (request.has_introduction()) profile.introduction = request.introduction();
  if (request.has_notification()) profile.notification = request.notification();
  if (request.has_face_url()) profile.face_url = request.face_url();
  if (auto st = CheckProfile(profile); !st.ok()) return st;
  if (request.has_apply_join_option() && !ValidApplyJoinOption(request.apply_join_option())) {
    return errors::Error(kInvalidParam,
                         "ApplyJoinOption must be FreeAccess, NeedPermission or DisableApply");
  }
  if (request.has_invite_join_option() && !ValidInviteJoinOption(request.invite_join_option())) {
    return errors::Error(kInvalidParam,
                         "InviteJoinOption must be FreeAccess, NeedPermission or DisableInvite");
  }
  std::optional<std::string> mute_all;
  if (request.has_mute_all_member()) mute_all = request.mute_all_member();
  else if (request.has_shut_up_all_member()) mute_all = request.shut_up_all_member();
  if (mute_all && *mute_all != "On" && *mute_all != "Off") {
    return errors::Error(kInvalidParam, "MuteAllMember must be On or Off");
  }
  if (request.has_enable_permission() && request.enable_permission() > 1) {
    return errors::Error(kInvalidParam, "EnablePermission must be 0 or 1");
  }
  if (request.has_default_permission()) {
    if (auto st = CheckPermissionBits(request.default_permission(), false, "DefaultPermission");
        !st.ok()) {
      return st;
    }
  }
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    GroupRow g = *group;
    if (request.has_enable_permission() || request.has_default_permission()) {
      if (g.type != GroupType::kCommunity) {
        return errors::Error(kNoPermission, "permission groups are for Communities");
      }
      if (!MayManagePermissions(actor, perm::kManagePermissionGroupInfo)) {
        return errors::Error(kNoPermission, "you may not change the community's permissions");
      }
      if (request.has_enable_permission()) g.enable_permission = request.enable_permission() == 1;
      if (request.has_default_permission()) g.default_permission = request.default_permission();
      events.Tip(g, "PermissionChanged", caller.identifier, {});
    }
    bool profile_change = profile.name || profile.introduction || profile.notification ||
                          profile.face_url;
    bool settings_change = request.has_max_member_num() || request.has_apply_join_option() ||
                           request.has_invite_join_option() || mute_all;
    if (profile_change && !MayEditProfile(g.type, actor)) {
      return errors::Error(kNoPermission, "you may not edit this group's profile");
    }
    if (settings_change && !(actor.app_admin || actor.role == Role::kOwner ||
                             (actor.role == Role::kAdmin && RulesFor(g.type).has_admins))) {
      return errors::Error(kNoPermission, "only the owner and admins change the group's settings");
    }
    if (mute_all && !RulesFor(g.type).supports_mute) {
      return errors::Error(kNoPermission, "this group type cannot be muted");
    }
    if (request.has_max_member_num()) {
      uint32_t max = request.max_member_num();
      if (max == 0 || max > RulesFor(g.type).max_members) {
        return errors::Error(kInvalidParam, absl::StrCat("MaxMemberNum must be 1 to ",
                                                         RulesFor(g.type).max_members));
      }
      if (max < g.member_count) {
        return errors::Error(kInvalidParam, "MaxMemberNum is below the group's member count");
      }
      g.max_members = max;
    }
    if (profile.name) g.name = *profile.name;
    if (profile.introduction) g.introduction = *profile.introduction;
    if (profile.notification) g.notification = *profile.notification;
    if (profile.face_url) g.face_url = *profile.face_url;
    if (request.app_defined_data_size() > 0) {
      if (!MayEditProfile(g.type, actor)) {
        return errors::Error(kNoPermission, "you may not edit this group's AppDefinedData");
      }
      CustomData data = store::GroupData(tx, caller.sdkappid, g.group_id);
      if (auto st = ApplyCustomData(store::GetAppFields(tx, caller.sdkappid).group_keys,
                                    Items(request.app_defined_data()), kMaxGroupDataValueBytes,
                                    "AppDefinedData", &data);
          !st.ok()) {
        return st;
      }
      store::PutGroupData(tx, caller.sdkappid, g.group_id, data);
    }
    if (request.has_apply_join_option() && g.type != GroupType::kWork) {
      g.apply_join_option = request.apply_join_option();
    }
    if (request.has_invite_join_option()) g.invite_join_option = request.invite_join_option();
    if (mute_all) g.mute_all = *mute_all == "On";
    store::UpdateGroup(tx, g, now_());
    {
      std::vector<std::string> fields;
      if (profile.name) fields.push_back("Name");
      if (profile.introduction) fields.push_back("Introduction");
      if (profile.notification) fields.push_back("Notification");
      if (profile.face_url) fields.push_back("FaceUrl");
      if (mute_all) fields.push_back("MuteAllMember");
      if (!fields.empty()) {
        events.Tip(g, "ProfileChanged", caller.identifier, {}, absl::StrJoin(fields, ","));
      }
    }
    if (profile_change) {
      nlohmann::json changed = GroupEvent(g, caller);
      if (profile.name) changed["Name"] = g.name;
      if (profile.introduction) changed["Introduction"] = g.introduction;
      if (profile.notification) changed["Notification"] = g.notification;
      if (profile.face_url) changed["FaceUrl"] = g.face_url;
      events.emplace_back("Group.CallbackAfterGroupInfoChanged", std::move(changed));
    }
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::DestroyGroup(const rpc::Caller& caller,
                                                        const v1::GroupIdRequest& request) {
  bool room = false;
  auto done = Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    if (!MayDisband(group->type, actor)) {
      return errors::Error(kNoPermission, "you may not disband this group");
    }
    std::vector<std::string> members;
    for (const auto& m : store::MemberPage(tx, caller.sdkappid, group->group_id, {}, 0,
                                           group->member_count, now_())) {
      members.push_back(m.user_id);
    }
    store::DeleteGroup(tx, caller.sdkappid, group->group_id);
    room = group->type == GroupType::kAVChatRoom;
    events.Tip(*group, "GroupDismissed", caller.identifier, {});
    events.emplace_back("Group.CallbackAfterGroupDestroyed",
                        nlohmann::json{{"GroupId", group->group_id},
                                       {"Type", GroupTypeName(group->type)},
                                       {"Owner_Account", group->owner},
                                       {"Name", group->name},
                                       {"MemberList", AccountList(members)}});
    return v1::GroupEmpty();
  });
  if (done.ok() && room && rooms_ != nullptr &&
      !rooms_->Forget(caller.sdkappid, request.group_id()).ok()) {
    log::Warn("room_forget_failed", {{"group", request.group_id()}});
  }
  return done;
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ChangeGroupOwner(
    const rpc::Caller& caller, const v1::ChangeGroupOwnerRequest& request) {
  const std::string& next = request.new_owner_account();
  if (!accounts::ValidUserId(next)) {
    return errors::Error(kInvalidParam, "NewOwner_Account is missing or invalid");
  }
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    if (!actor.app_admin && actor.role != Role::kOwner) {
      return errors::Error(kNoPermission, "only the owner hands the group over");
    }
    if (group->owner == next) return v1::GroupEmpty();
    auto member = store::Members(tx, caller.sdkappid, group->group_id, {next}, now_());
    if (member.empty()) return errors::Error(kInvalidParam, "the new owner must be a member");
    GroupRow g = *group;
    if (!g.owner.empty()) store::SetRole(tx, caller.sdkappid, g.group_id, g.owner, Role::kMember);
    store::SetRole(tx, caller.sdkappid, g.group_id, next, Role::kOwner);
    nlohmann::json changed = GroupEvent(g, caller);
    changed["OldOwner_Account"] = g.owner;
    changed["NewOwner_Account"] = next;
    g.owner = next;
    store::UpdateGroup(tx, g, now_());
    events.Tip(g, "OwnerChanged", caller.identifier, {next}, next);
    events.emplace_back("Group.CallbackAfterChangeGroupOwner", std::move(changed));
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GetAppidGroupListResponse> GroupLogic::GetAppidGroupList(
    const rpc::Caller& caller, const v1::GetAppidGroupListRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  const std::string& type_name = request.group_type().empty() ? request.type() : request.group_type();
  std::optional<GroupType> type;
  if (!type_name.empty()) {
    type = ParseGroupType(type_name);
    if (!type) return errors::Error(kInvalidParam, "unknown GroupType");
  }
  uint32_t limit = request.limit() == 0 ? kMaxAppListPage : request.limit();
  if (limit > kMaxAppListPage) {
    return errors::Error(kInvalidParam, absl::StrCat("Limit may be at most ", kMaxAppListPage));
  }
  return Transact<v1::GetAppidGroupListResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetAppidGroupListResponse> {
        uint32_t total = 0;
        auto groups = store::AppGroups(tx, caller.sdkappid, type,
                                       static_cast<int64_t>(request.next()), limit, &total);
        v1::GetAppidGroupListResponse response;
        response.set_total_count(total);
        for (const auto& g : groups) response.add_group_id_list()->set_group_id(g.group_id);
        // 0 once the list is done.
        response.set_next(groups.size() == limit ? static_cast<uint64_t>(groups.back().serial) : 0);
        return response;
      });
}

absl::StatusOr<v1::GetJoinedGroupListResponse> GroupLogic::GetJoinedGroupList(
    const rpc::Caller& caller, const v1::GetJoinedGroupListRequest& request) {
  std::string user = caller.is_admin ? request.member_account() : caller.identifier;
  if (!accounts::ValidUserId(user)) {
    return errors::Error(kInvalidParam, "Member_Account is missing or invalid");
  }
  std::optional<GroupType> type;
  if (!request.group_type().empty()) {
    type = ParseGroupType(request.group_type());
    if (!type) return errors::Error(kInvalidParam, "unknown GroupType");
  }
  uint32_t limit = request.limit() == 0 ? 10000 : std::min<uint32_t>(request.limit(), 10000);
  const auto& filter = request.response_filter();
  return Transact<v1::GetJoinedGroupListResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetJoinedGroupListResponse> {
        uint32_t total = 0;
        auto joined = store::JoinedGroups(tx, caller.sdkappid, user, type,
                                          request.with_no_active_groups() != 0, request.offset(),
                                          limit, now_(), &total);
        v1::GetJoinedGroupListResponse response;
        response.set_total_count(total);
        for (const auto& j : joined) {
          auto* out = response.add_group_id_list();
          out->set_group_id(j.group.group_id);
          // Only what the filters ask for: the bare ID list otherwise.
          if (!filter.group_base_info_filter().empty()) {
            FillBase(j.group, filter.group_base_info_filter(), out);
          }
          if (!filter.self_info_filter().empty()) {
            auto* self = out->mutable_self_info();
            const auto& f = filter.self_info_filter();
            if (Wanted(f, "Role")) self->set_role(RoleName(j.self.role));
            if (Wanted(f, "JoinTime")) self->set_join_time(j.self.join_time);
            if (Wanted(f, "MsgFlag")) self->set_msg_flag(MsgFlagName(j.self.msg_flag));
            if (Wanted(f, "NameCard")) self->set_name_card(j.self.name_card);
            if (Wanted(f, "MuteUntil")) self->set_mute_until(j.self.mute_until);
          }
        }
        return response;
      });
}

absl::StatusOr<v1::GetRoleInGroupResponse> GroupLogic::GetRoleInGroup(
    const rpc::Caller& caller, const v1::GetRoleInGroupRequest& request) {
  auto users = Accounts(request.user_account(), kMaxRoleQuery, "User_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "User_Account is empty");
  return Transact<v1::GetRoleInGroupResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetRoleInGroupResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), false, &actor);
        if (!group.ok()) return group.status();
        std::map<std::string, Role> roles;
        for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now_())) {
          roles[m.user_id] = m.role;
        }
        v1::GetRoleInGroupResponse response;
        for (const auto& u : *users) {
          auto* item = response.add_user_id_list();
          item->set_member_account(u);
          auto it = roles.find(u);
          item->set_role(it == roles.end() ? "NotMember" : RoleName(it->second));
        }
        return response;
      });
}

absl::StatusOr<v1::AddGroupMemberResponse> GroupLogic::AddGroupMember(
    const rpc::Caller& caller, const v1::AddGroupMemberRequest& request) {
  google::protobuf::RepeatedPtrField<std::string> ids;
  for (const auto& m : request.member_list()) *ids.Add() = m.member_account();
  auto users = Accounts(ids, kMaxAddMembers, "MemberList");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "MemberList is empty");
  auto existing = Existing(caller.sdkappid, *users);
  if (!existing.ok()) return existing.status();
  int64_t now = now_();
  // The app's backend may refuse some of the invited (RefusedMembers_Account).
  std::set<std::string> refused;
  if (callbacks_ != nullptr && callbacks_->Enabled(caller.sdkappid, kBeforeInviteJoinGroup)) {
    auto facts = Transact<std::pair<GroupRow, std::vector<std::string>>>(
        [&](pqxx::work& tx) -> absl::StatusOr<std::pair<GroupRow, std::vector<std::string>>> {
          Actor actor;
          auto group = Load(tx, caller, request.group_id(), false, &actor);
          if (!group.ok()) return group.status();
          std::set<std::string> members;
          for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now)) {
            members.insert(m.user_id);
          }
          std::vector<std::string> invited;
          for (const auto& u : *users) {
            if (existing->count(u) && !members.count(u)) invited.push_back(u);
          }
          return std::make_pair(*group, invited);
        });
    if (!facts.ok()) return facts.status();
    if (!facts->second.empty()) {
      nlohmann::json ask = GroupEvent(facts->first, caller);
      ask["DestinationMembers"] = AccountList(facts->second);
      nlohmann::json answer;
      if (auto st = Before(caller, kBeforeInviteJoinGroup, ask, &answer); !st.ok()) return st;
      if (answer.is_object()) {
        auto list = answer.find("RefusedMembers_Account");
        if (list != answer.end() && list->is_array()) {
          for (const auto& u : *list) {
            if (u.is_string()) refused.insert(u.get<std::string>());
          }
        }
      }
    }
  }
  return Change<v1::AddGroupMemberResponse>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::AddGroupMemberResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (!MayInvite(group->type, actor, group->invite_join_option)) {
          return errors::Error(kNoPermission, "you may not add members to this group");
        }
        std::set<std::string> members;
        for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now)) {
          members.insert(m.user_id);
        }
        std::vector<MemberRow> joining;
        for (const auto& u : *users) {
          if (existing->count(u) && !members.count(u) && !refused.count(u)) {
            joining.push_back({u, Role::kMember, now});
          }
        }
        if (group->member_count + joining.size() > group->max_members) {
          return errors::Error(kGroupFull, "the group is full");
        }
        auto added = store::InsertMembers(tx, caller.sdkappid, group->group_id, joining);
        if (!added.empty()) {
          events.Tip(*group, "MemberJoined", caller.identifier, added, "", request.silence() != 0);
          nlohmann::json joined = GroupEvent(*group, caller);
          joined["JoinType"] = "Invited";
          joined["NewMemberList"] = AccountList(added);
          events.emplace_back("Group.CallbackAfterNewMemberJoin", std::move(joined));
          if (group->member_count + added.size() == group->max_members) {
            events.emplace_back("Group.CallbackAfterGroupFull",
                                nlohmann::json{{"GroupId", group->group_id}});
          }
        }
        v1::AddGroupMemberResponse response;
        for (const auto& u : *users) {
          auto* item = response.add_member_list();
          item->set_member_account(u);
          item->set_result(!existing->count(u) || refused.count(u) ? 0 : members.count(u) ? 2 : 1);
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::DeleteGroupMember(
    const rpc::Caller& caller, const v1::DeleteGroupMemberRequest& request) {
  auto users = Accounts(request.member_to_del_account(), kMaxDeleteMembers, "MemberToDel_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "MemberToDel_Account is empty");
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    if (group->type == GroupType::kAVChatRoom) {
      return errors::Error(kInvalidParam,
                           "AVChatRoom members are not removed: ban them (ban_group_member)");
    }
    std::vector<std::string> leaving;
    for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now_())) {
      if (!MayKick(group->type, actor, m.role)) {
        return errors::Error(m.role == Role::kOwner ? kInvalidParam : kNoPermission,
                             m.role == Role::kOwner
                                 ? "the owner cannot be removed; hand the group over first"
                                 : "you may not remove this member");
      }
      leaving.push_back(m.user_id);
    }
    auto removed = store::DeleteMembers(tx, caller.sdkappid, group->group_id, leaving);
    if (!removed.empty()) {
      events.Tip(*group, "MemberKicked", caller.identifier, removed, request.reason(),
                 request.silence() != 0);
      nlohmann::json exit = GroupEvent(*group, caller);
      exit["ExitType"] = "Kicked";
      exit["ExitMemberList"] = AccountList(removed);
      events.emplace_back("Group.CallbackAfterMemberExit", std::move(exit));
    }
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::QuitGroup(const rpc::Caller& caller,
                                                     const v1::GroupIdRequest& request) {
  if (caller.is_admin) {
    return errors::Error(kNoPermission,
                         "quit_group is for members; the app removes them with delete_group_member");
  }
  return Change<v1::GroupEmpty>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (actor.role == Role::kOwner) {
          if (!RulesFor(group->type).owner_may_quit) {
            return errors::Error(kOwnerCannotQuit,
                                 "the owner cannot quit; hand the group over first");
          }
          GroupRow g = *group;
          g.owner.clear();  // a Work group goes on without an owner
          store::UpdateGroup(tx, g, now_());
        }
        store::DeleteMembers(tx, caller.sdkappid, group->group_id, {caller.identifier});
        events.Tip(*group, "MemberQuit", caller.identifier, {caller.identifier});
        nlohmann::json exit = GroupEvent(*group, caller);
        exit["ExitType"] = "Quit";
        exit["ExitMemberList"] = AccountList({caller.identifier});
        events.emplace_back("Group.CallbackAfterMemberExit", std::move(exit));
        return v1::GroupEmpty();
      });
}

absl::StatusOr<v1::GetGroupMemberInfoResponse> GroupLogic::GetGroupMemberInfo(
    const rpc::Caller& caller, const v1::GetGroupMemberInfoRequest& request) {
  auto roles = RoleFilter(request.member_role_filter());
  if (!roles.ok()) return roles.status();
  if (request.limit() > kMaxMemberPage) {
    return errors::Error(kInvalidParam, absl::StrCat("Limit may be at most ", kMaxMemberPage));
  }
  uint32_t limit = request.limit() == 0 ? static_cast<uint32_t>(kMaxMemberPage) : request.limit();
  return Transact<v1::GetGroupMemberInfoResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetGroupMemberInfoResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), false, &actor);
        if (!group.ok()) return group.status();
        if (group->type == GroupType::kAVChatRoom) {
          return errors::Error(kNoPermission,
                               "an AVChatRoom keeps no member list: use "
                               "group_open_avchatroom_http_svc/get_members");
        }
        // Communities page with the Next cursor (an offset here), others with Offset.
        uint32_t offset = request.offset();
        if (group->type == GroupType::kCommunity && !request.next().empty()) {
          if (!absl::SimpleAtoi(request.next(), &offset)) {
            return errors::Error(kInvalidParam, "Next is not a cursor this group gave");
          }
        }
        auto page = store::MemberPage(tx, caller.sdkappid, group->group_id, *roles, offset,
                                      limit, now_());
        v1::GetGroupMemberInfoResponse response;
        response.set_member_num(group->member_count);
        for (const auto& m : page) {
          FillMember(m, request.member_info_filter(), response.add_member_list());
        }
        if (request.app_defined_data_filter_group_member_size() > 0) {
          AddMemberData(tx, caller.sdkappid, group->group_id,
                        request.app_defined_data_filter_group_member(),
                        response.mutable_member_list());
        }
        if (group->type == GroupType::kCommunity) {
          response.set_next(page.size() == limit ? absl::StrCat(offset + page.size()) : "");
        }
        return response;
      });
}

absl::StatusOr<v1::GetSpecifiedGroupMemberInfoResponse> GroupLogic::GetSpecifiedGroupMemberInfo(
    const rpc::Caller& caller, const v1::GetSpecifiedGroupMemberInfoRequest& request) {
  auto users = Accounts(request.member_list_account(), kMaxSpecifiedMembers, "Member_List_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "Member_List_Account is empty");
  auto roles = RoleFilter(request.member_role_filter());
  if (!roles.ok()) return roles.status();
  return Transact<v1::GetSpecifiedGroupMemberInfoResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetSpecifiedGroupMemberInfoResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), false, &actor);
        if (!group.ok()) return group.status();
        v1::GetSpecifiedGroupMemberInfoResponse response;
        response.set_group_id(group->group_id);
        for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now_())) {
          if (!roles->empty() && std::find(roles->begin(), roles->end(), m.role) == roles->end()) {
            continue;
          }
          FillMember(m, request.member_info_filter(), response.add_member_list());
        }
        if (request.app_defined_data_filter_group_member_size() > 0) {
          AddMemberData(tx, caller.sdkappid, group->group_id,
                        request.app_defined_data_filter_group_member(),
                        response.mutable_member_list());
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyGroupMemberInfo(
    const rpc::Caller& caller, const v1::ModifyGroupMemberInfoRequest& request) {
  if (!accounts::ValidUserId(request.member_account())) {
    return errors::Error(kInvalidParam, "Member_Account is missing or invalid");
  }
  std::optional<Role> role;
  if (request.has_role()) {
    role = ParseRole(request.role());
    if (!role || *role == Role::kOwner) {
      return errors::Error(kInvalidParam, "Role must be Admin or Member");
    }
  }
  std::optional<MsgFlag> flag;
  if (request.has_msg_flag()) {
    flag = ParseMsgFlag(request.msg_flag());
    if (!flag) {
      return errors::Error(kInvalidParam,
                           "MsgFlag must be AcceptAndNotify, AcceptNotNotify or Discard");
    }
  }
  if (request.has_name_card() && request.name_card().size() > kMaxNameCardBytes) {
    return errors::Error(kInvalidParam,
                         absl::StrCat("NameCard is longer than ", kMaxNameCardBytes, " bytes"));
  }
  std::optional<uint32_t> mute_time;
  if (request.has_mute_time()) mute_time = request.mute_time();
  else if (request.has_shut_up_time()) mute_time = request.shut_up_time();
  int64_t now = now_();
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    auto found = store::Members(tx, caller.sdkappid, group->group_id, {request.member_account()},
                                now);
    if (found.empty()) return errors::Error(kNoPermission, "the account is not a member");
    MemberRow m = found[0];
    bool self = !actor.app_admin && caller.identifier == m.user_id;
    if (role && *role != m.role) {
      if (!RulesFor(group->type).has_admins) {
        return errors::Error(kNoPermission, "this group type has no admins");
      }
      if (!MaySetRole(group->type, actor) || m.role == Role::kOwner) {
        return errors::Error(kNoPermission, "only the owner sets roles, and not their own");
      }
      m.role = *role;
    }
    if (flag) {
      if (!self && !actor.app_admin) {
        return errors::Error(kNoPermission, "members set their own MsgFlag");
      }
      m.msg_flag = *flag;
    }
    if (request.has_name_card()) {
      if (!self && !actor.app_admin && !(actor.role != Role::kMember &&
                                         MayKick(group->type, actor, m.role))) {
        return errors::Error(kNoPermission, "you may not change this member's NameCard");
      }
      m.name_card = request.name_card();
    }
    if (request.app_member_defined_data_size() > 0) {
      // As the NameCard: the member, or whoever may remove them.
      if (!self && !actor.app_admin && !(actor.role != Role::kMember &&
                                         MayKick(group->type, actor, m.role))) {
        return errors::Error(kNoPermission, "you may not change this member's AppMemberDefinedData");
      }
      auto all = store::MemberData(tx, caller.sdkappid, group->group_id, {m.user_id});
      CustomData data = all.count(m.user_id) ? all[m.user_id] : CustomData();
      if (auto st = ApplyCustomData(store::GetAppFields(tx, caller.sdkappid).member_keys,
                                    Items(request.app_member_defined_data()),
                                    kMaxMemberDataValueBytes, "AppMemberDefinedData", &data);
          !st.ok()) {
        return st;
      }
      store::PutMemberData(tx, caller.sdkappid, group->group_id, m.user_id, data);
    }
    if (mute_time) {
      if (!MayMute(group->type, actor, m.role)) {
        return errors::Error(kNoPermission, "you may not mute this member");
      }
      store::SetMute(tx, caller.sdkappid, group->group_id, m.user_id, MuteUntil(now, *mute_time));
      events.Tip(*group, "MemberMuted", caller.identifier, {m.user_id},
                 std::to_string(*mute_time));
    }
    store::SetMemberFields(tx, caller.sdkappid, group->group_id, m);
    if (m.role != found[0].role) {
      events.Tip(*group, "RoleChanged", caller.identifier, {m.user_id}, RoleName(m.role));
    }
    if (m.msg_flag != found[0].msg_flag) {
      events.Tip(*group, "MsgFlagChanged", caller.identifier, {m.user_id},
                 MsgFlagName(m.msg_flag), true);
    }
    if (m.role != found[0].role || m.name_card != found[0].name_card) {
      nlohmann::json changed = GroupEvent(*group, caller);
      changed["Member_Account"] = m.user_id;
      if (m.role != found[0].role) changed["Role"] = RoleName(m.role);
      if (m.name_card != found[0].name_card) changed["NameCard"] = m.name_card;
      events.emplace_back("Group.CallbackAfterMemberFieldChanged", std::move(changed));
    }
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ForbidSendMsg(const rpc::Caller& caller,
                                                         const v1::ForbidSendMsgRequest& request) {
  auto users = Accounts(request.members_account(), kMaxMuteAccounts, "Members_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "Members_Account is empty");
  std::optional<uint32_t> mute_time;
  if (request.has_mute_time()) mute_time = request.mute_time();
  else if (request.has_shut_up_time()) mute_time = request.shut_up_time();
  if (!mute_time) return errors::Error(kInvalidParam, "MuteTime is missing");
  int64_t now = now_();
  int64_t until = MuteUntil(now, *mute_time);
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    if (!RulesFor(group->type).supports_mute) {
      return errors::Error(kNoPermission, "this group type has no muting");
    }
    if (!request.topic_id().empty()) {
      auto topic = LoadTopic(tx, caller, group->group_id, request.topic_id(), false);
      if (!topic.ok()) return topic.status();
      AddTopicBits(tx, caller, *group, *topic, &actor);
    }
    auto members = store::Members(tx, caller.sdkappid, group->group_id, *users, now);
    if (group->type == GroupType::kAVChatRoom) {
      // A room's members have no rows: anyone may be muted, as a member.
      for (const auto& u : *users) {
        bool has_row = std::any_of(members.begin(), members.end(),
                                   [&](const MemberRow& m) { return m.user_id == u; });
        if (!has_row) members.push_back({u, Role::kMember, now});
      }
    }
    for (const auto& m : members) {
      if (!MayMute(group->type, actor, m.role)) {
        return errors::Error(kNoPermission,
                             absl::StrCat("you may not mute ", m.user_id));
      }
    }
    // Only members are muted; other accounts are skipped.
    std::vector<std::string> muted;
    for (const auto& m : members) {
      // With a TopicId, in that topic only.
      if (request.topic_id().empty()) {
        store::SetMute(tx, caller.sdkappid, group->group_id, m.user_id, until);
      } else {
        store::SetTopicMute(tx, caller.sdkappid, request.topic_id(), m.user_id, until);
      }
      muted.push_back(m.user_id);
    }
    if (!muted.empty()) {
      events.Tip(*group, "MemberMuted", caller.identifier, std::move(muted),
                 std::to_string(*mute_time));
      events.tips.back().mutable_tip()->set_topic_id(request.topic_id());
    }
    return v1::GroupEmpty();
  });
}

absl::StatusOr<std::vector<std::pair<std::string, int64_t>>> GroupLogic::ActiveMutes(
    const rpc::Caller& caller, const std::string& group_id, const std::string& topic_id) {
  using Mutes = std::vector<std::pair<std::string, int64_t>>;
  return Transact<Mutes>([&](pqxx::work& tx) -> absl::StatusOr<Mutes> {
    Actor actor;
    auto group = Load(tx, caller, group_id, false, &actor);
    if (!group.ok()) return group.status();
    if (!topic_id.empty()) {
      auto topic = LoadTopic(tx, caller, group->group_id, topic_id, false);
      if (!topic.ok()) return topic.status();
      return store::TopicMutes(tx, caller.sdkappid, group->group_id, topic_id, now_());
    }
    return store::Mutes(tx, caller.sdkappid, group->group_id, now_(),
                        group->type != GroupType::kAVChatRoom);
  });
}

absl::StatusOr<v1::GetGroupMutedAccountResponse> GroupLogic::GetGroupMutedAccount(
    const rpc::Caller& caller, const v1::GetGroupMutedAccountRequest& request) {
  auto mutes = ActiveMutes(caller, request.group_id(), request.topic_id());
  if (!mutes.ok()) return mutes.status();
  v1::GetGroupMutedAccountResponse response;
  response.set_group_id(request.group_id());
  for (const auto& [user, until] : *mutes) {
    auto* item = response.add_muted_account_list();
    item->set_member_account(user);
    item->set_muted_until(static_cast<uint32_t>(until));
  }
  return response;
}

absl::StatusOr<v1::GetGroupShuttedUinResponse> GroupLogic::GetGroupShuttedUin(
    const rpc::Caller& caller, const v1::GroupIdRequest& request) {
  auto mutes = ActiveMutes(caller, request.group_id(), "");
  if (!mutes.ok()) return mutes.status();
  v1::GetGroupShuttedUinResponse response;
  response.set_group_id(request.group_id());
  for (const auto& [user, until] : *mutes) {
    auto* item = response.add_shutted_uin_list();
    item->set_member_account(user);
    item->set_shutted_until(static_cast<uint32_t>(until));
  }
  return response;
}

absl::StatusOr<v1::GetGroupAttrResponse> GroupLogic::GetGroupAttr(
    const rpc::Caller& caller, const v1::GroupIdRequest& request) {
  return Transact<v1::GetGroupAttrResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetGroupAttrResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), false, &actor);
        if (!group.ok()) return group.status();
        v1::GetGroupAttrResponse response;
        for (const auto& [key, value] : store::GetAttrs(tx, caller.sdkappid, group->group_id)) {
          auto* item = response.add_group_attr_ary();
          item->set_key(key);
          item->set_value(value);
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ChangeAttrs(const rpc::Caller& caller,
                                                       const std::string& group_id, AttrOp op,
                                                       const v1::GroupAttrRequest* request) {
  std::vector<std::pair<std::string, std::string>> items;
  if (request != nullptr) {
    for (const auto& a : request->group_attr()) items.emplace_back(a.key(), a.value());
    if (items.empty() && op != AttrOp::kSet) {
      return errors::Error(kInvalidParam, "GroupAttr is empty");
    }
  }
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, group_id, true, &actor);
    if (!group.ok()) return group.status();
    // Any member writes attributes in Work groups; owners and admins elsewhere.
    if (!MayEditProfile(group->type, actor)) {
      return errors::Error(kNoPermission, "you may not change this group's attributes");
    }
    Attrs attrs = store::GetAttrs(tx, caller.sdkappid, group->group_id);
    if (auto st = ApplyAttrs(op, items, &attrs); !st.ok()) return st;
    store::PutAttrs(tx, caller.sdkappid, group->group_id, attrs);
    static constexpr const char* kOptionTypes[] = {"modify", "set", "delete", "clear"};
    nlohmann::json changed = GroupEvent(*group, caller);
    changed["OptionType"] = kOptionTypes[static_cast<int>(op)];
    changed["GroupAttr"] = nlohmann::json::array();
    for (const auto& [key, value] : items) changed["GroupAttr"].push_back({{"key", key}, {"value", value}});
    events.emplace_back("Group.CallbackAfterGroupAttrChanged", std::move(changed));
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyGroupAttr(const rpc::Caller& caller,
                                                           const v1::GroupAttrRequest& request) {
  return ChangeAttrs(caller, request.group_id(), AttrOp::kModify, &request);
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::SetGroupAttr(const rpc::Caller& caller,
                                                        const v1::GroupAttrRequest& request) {
  return ChangeAttrs(caller, request.group_id(), AttrOp::kSet, &request);
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::DeleteGroupAttr(const rpc::Caller& caller,
                                                           const v1::GroupAttrRequest& request) {
  return ChangeAttrs(caller, request.group_id(), AttrOp::kDelete, &request);
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ClearGroupAttr(const rpc::Caller& caller,
                                                          const v1::GroupIdRequest& request) {
  return ChangeAttrs(caller, request.group_id(), AttrOp::kClear, nullptr);
}

namespace {

v1::GroupCounterResponse CounterResponse(const Counters& counters,
                                         const std::vector<std::string>& keys) {
  v1::GroupCounterResponse response;
  for (const auto& key : keys) {
    auto it = counters.find(key);
    if (it == counters.end()) continue;
    auto* item = response.add_group_counter();
    item->set_key(key);
    item->set_value(static_cast<double>(it->second));
  }
  return response;
}

std::vector<std::string> CounterKeys(
    const google::protobuf::RepeatedPtrField<std::string>& requested) {
  std::vector<std::string> keys;
  for (const auto& k : requested) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  return keys;
}

}  // namespace

absl::StatusOr<v1::GroupCounterResponse> GroupLogic::GetGroupCounter(
    const rpc::Caller& caller, const v1::GroupCounterKeysRequest& request) {
  std::vector<std::string> keys = CounterKeys(request.group_counter_keys());
  if (keys.size() > kMaxCounters) {
    return errors::Error(kTooManyCounters, "more than 20 GroupCounterKeys");
  }
  return Transact<v1::GroupCounterResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GroupCounterResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), false, &actor);
        if (!group.ok()) return group.status();
        Counters counters = store::GetCounters(tx, caller.sdkappid, group->group_id, keys);
        std::vector<std::string> all = keys;
        if (all.empty()) {
          for (const auto& [k, v] : counters) all.push_back(k);  // no keys: every counter
        }
        return CounterResponse(counters, all);
      });
}

absl::StatusOr<v1::GroupCounterResponse> GroupLogic::UpdateGroupCounter(
    const rpc::Caller& caller, const v1::UpdateGroupCounterRequest& request) {
  std::vector<std::pair<std::string, double>> items;
  std::vector<std::string> keys;
  for (const auto& c : request.group_counter()) {
    items.emplace_back(c.key(), c.value());
    if (std::find(keys.begin(), keys.end(), c.key()) == keys.end()) keys.push_back(c.key());
  }
  if (items.empty()) return errors::Error(kInvalidParam, "GroupCounter is empty");
  return Transact<v1::GroupCounterResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GroupCounterResponse> {
        Actor actor;
        // The group's lock makes Increase and Decrease atomic across replicas.
        auto group = Load(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (!MayEditProfile(group->type, actor)) {
          return errors::Error(kNoPermission, "you may not change this group's counters");
        }
        Counters counters = store::GetCounters(tx, caller.sdkappid, group->group_id, {});
        if (auto st = ApplyCounters(request.mode(), items, &counters); !st.ok()) return st;
        Counters changed;
        for (const auto& k : keys) changed[k] = counters[k];
        store::PutCounters(tx, caller.sdkappid, group->group_id, changed);
        return CounterResponse(counters, keys);
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::DeleteGroupCounter(
    const rpc::Caller& caller, const v1::GroupCounterKeysRequest& request) {
  std::vector<std::string> keys = CounterKeys(request.group_counter_keys());
  if (keys.empty()) return errors::Error(kInvalidParam, "GroupCounterKeys is empty");
  if (keys.size() > kMaxCounters) {
    return errors::Error(kTooManyCounters, "more than 20 GroupCounterKeys");
  }
  return Transact<v1::GroupEmpty>([&](pqxx::work& tx) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = Load(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    if (!MayEditProfile(group->type, actor)) {
      return errors::Error(kNoPermission, "you may not change this group's counters");
    }
    store::DeleteCounters(tx, caller.sdkappid, group->group_id, keys);
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::AddGroupMemberResponse> GroupLogic::ImportGroupMember(
    const rpc::Caller& caller, const v1::ImportGroupMemberRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  if (request.member_list().empty()) return errors::Error(kInvalidParam, "MemberList is empty");
  if (static_cast<size_t>(request.member_list_size()) > kMaxAddMembers) {
    return errors::Error(kTooManyAccounts, absl::StrCat("MemberList holds more than ",
                                                        kMaxAddMembers, " members"));
  }
  int64_t now = now_();
  std::vector<std::string> users;
  std::vector<MemberRow> rows;
  for (const auto& m : request.member_list()) {
    if (!accounts::ValidUserId(m.member_account())) {
      return errors::Error(kInvalidParam, "MemberList holds an invalid Member_Account");
    }
    Role role = Role::kMember;
    if (!m.role().empty()) {
      auto parsed = ParseRole(m.role());
      if (!parsed || *parsed == Role::kOwner) {
        return errors::Error(kInvalidParam, "a member's Role must be Admin or Member");
      }
      role = *parsed;
    }
    if (m.join_time() > now) return errors::Error(kInvalidParam, "JoinTime is in the future");
    if (std::find(users.begin(), users.end(), m.member_account()) != users.end()) continue;
    users.push_back(m.member_account());
    rows.push_back({m.member_account(), role, m.join_time() ? int64_t{m.join_time()} : now});
  }
  auto existing = Existing(caller.sdkappid, users);
  if (!existing.ok()) return existing.status();
  return Change<v1::AddGroupMemberResponse>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::AddGroupMemberResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (group->type == GroupType::kAVChatRoom) {
          return errors::Error(kNoPermission, "AVChatRoom members are not imported");
        }
        std::set<std::string> members;
        for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, users, now)) {
          members.insert(m.user_id);
        }
        std::vector<MemberRow> joining;
        for (const auto& row : rows) {
          if (row.role == Role::kAdmin && !RulesFor(group->type).has_admins) {
            return errors::Error(kInvalidParam, "this group type has no admins");
          }
          if (existing->count(row.user_id) && !members.count(row.user_id)) joining.push_back(row);
        }
        if (group->member_count + joining.size() > group->max_members) {
          return errors::Error(kGroupFull, "the group is full");
        }
        auto added = store::InsertMembers(tx, caller.sdkappid, group->group_id, joining);
        // No callbacks; a silent tip, so their seqs start here and gateways route to them.
        if (!added.empty()) events.Tip(*group, "MemberJoined", caller.identifier, added, "", true);
        v1::AddGroupMemberResponse response;
        for (const auto& u : users) {
          auto* item = response.add_member_list();
          item->set_member_account(u);
          item->set_result(!existing->count(u) ? 0 : members.count(u) ? 2 : 1);
        }
        return response;
      });
}

namespace {

// A message stream's ID: a group's, or a topic's (its community and itself).
absl::StatusOr<std::pair<std::string, std::string>> SplitStreamId(const std::string& id) {
  std::string group_id = id;
  std::string topic_id;
  if (auto community = delivery::CommunityOf(id); !community.empty()) {
    topic_id = id;
    group_id = std::string(community);
  }
  if (!WellFormedGroupId(group_id)) {
    return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  }
  return std::make_pair(group_id, topic_id);
}

}  // namespace

absl::StatusOr<v1::ListPushTargetsResponse> GroupLogic::ListPushTargets(
    const rpc::Caller& caller, const v1::ListPushTargetsRequest& request) {
  if (!caller.is_service) return errors::Error(kNoPermission, "internal callers only");
  auto ids = SplitStreamId(request.group_id());
  if (!ids.ok()) return ids.status();
  const std::string& group_id = ids->first;  // named, not bound: lambdas capture them
  const std::string& topic_id = ids->second;
  uint32_t limit = std::clamp<uint32_t>(request.limit(), 1, 1000);
  return Transact<v1::ListPushTargetsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::ListPushTargetsResponse> {
        auto group = store::Group(tx, caller.sdkappid, group_id, false);
        if (!group) return errors::Error(kNoSuchGroup, "the group does not exist");
        v1::ListPushTargetsResponse response;
        response.set_name(group->name);
        response.set_type(GroupTypeName(group->type));
        if (!topic_id.empty()) {
          auto topic = store::Topic(tx, caller.sdkappid, topic_id, false);
          if (topic) response.set_topic_name(topic->name);
        }
        // Live rooms take no offline push.
        if (group->type == GroupType::kAVChatRoom) return response;
        auto members = store::MembersAfter(tx, caller.sdkappid, group_id, request.after(), limit);
        for (const auto& [user, flag] : members) {
          auto* target = response.add_members();
          target->set_user_id(user);
          target->set_msg_flag(flag);
        }
        if (members.size() == limit) response.set_next(members.back().first);
        return response;
      });
}

absl::StatusOr<v1::MemberContext> GroupLogic::GetMemberContext(
    const rpc::Caller& caller, const v1::MemberContextRequest& request) {
  if (!caller.is_service) return errors::Error(kNoPermission, "internal callers only");
  // A topic's context is its community's, with the topic's mutes taken in.
  auto ids = SplitStreamId(request.group_id());
  if (!ids.ok()) return ids.status();
  const std::string& group_id = ids->first;  // named, not bound: lambdas capture them
  const std::string& topic_id = ids->second;
  return Transact<v1::MemberContext>([&](pqxx::work& tx) -> absl::StatusOr<v1::MemberContext> {
    auto group = store::Group(tx, caller.sdkappid, group_id, false);
    if (!group) return errors::Error(kNoSuchGroup, "the group does not exist");
    std::optional<TopicRow> topic;
    if (!topic_id.empty()) {
      topic = store::Topic(tx, caller.sdkappid, topic_id, false);
      if (!topic || !group->support_topic) {
        return errors::Error(kInvalidTopicId, "the topic does not exist");
      }
    }
    v1::MemberContext context;
    context.set_group_type(static_cast<int32_t>(group->type));
    context.set_mute_all(group->mute_all || (topic && topic->mute_all));
    context.set_activated(group->activated);
    context.set_support_topic(group->support_topic);
    context.set_topic(topic.has_value());
    if (group->type == GroupType::kAVChatRoom) {
      auto fields = store::GetAppFields(tx, caller.sdkappid);
      context.set_room_msg_rate_limit(RoomMsgRate(fields.room_msg_rate_limit));
      context.set_room_recent_count(fields.room_recent_count);
      // Room members have no rows; their mutes are kept all the same.
      context.set_mute_until(
          store::MuteOf(tx, caller.sdkappid, group->group_id, request.user_id(), now_()));
    }
    if (!request.user_id().empty()) {
      auto self = store::Members(tx, caller.sdkappid, group->group_id, {request.user_id()}, now_());
      if (!self.empty()) {
        context.set_member(true);
        context.set_role(static_cast<int32_t>(self[0].role));
        context.set_msg_flag(static_cast<int32_t>(self[0].msg_flag));
        context.set_mute_until(self[0].mute_until);
        context.set_join_time(self[0].join_time);
      }
      if (topic) {
        context.set_mute_until(std::max(
            context.mute_until(),
            store::TopicMuteOf(tx, caller.sdkappid, topic_id, request.user_id(), now_())));
      }
      if (group->enable_permission && context.member()) {
        // The owner has every bit; others their groups' and the defaults.
        bool owner = context.role() == static_cast<int32_t>(Role::kOwner);
        uint32_t bits = owner ? perm::kAll
                              : group->default_permission |
                                    store::MemberBits(tx, caller.sdkappid, group_id, request.user_id());
        context.set_permission_enabled(true);
        context.set_permission_bits(bits);
        if (topic) {
          context.set_topic_permission_bits(
              owner ? perm::kTopicAll
                    : TopicBitsOf(bits) | topic->default_permission |
                          store::MemberTopicBits(tx, caller.sdkappid, group_id, topic_id,
                                                 request.user_id()));
        }
      }
    }
    return context;
  });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::NoteGroupMessages(
    const rpc::Caller& caller, const v1::NoteGroupMessagesRequest& request) {
  if (!caller.is_service) return errors::Error(kNoPermission, "internal callers only");
  if (request.notes_size() > 10000) return errors::Error(kInvalidParam, "at most 10000 notes");
  std::vector<store::MessageNote> notes;
  notes.reserve(request.notes_size());
  for (const auto& n : request.notes()) {
    notes.push_back({n.group_id(), n.from_account(), static_cast<int64_t>(n.msg_seq()),
                     n.msg_time()});
  }
  return Transact<v1::GroupEmpty>([&](pqxx::work& tx) -> absl::StatusOr<v1::GroupEmpty> {
    store::NoteMessages(tx, caller.sdkappid, notes);
    return v1::GroupEmpty();
  });
}

absl::Status GroupLogic::JoinByApplyLocked(pqxx::work& tx, const rpc::Caller& caller,
                                           const GroupRow& group, const std::string& user,
                                           Events& events) {
  if (group.member_count + 1 > group.max_members) {
    return errors::Error(kGroupFull, "the group is full");
  }
  auto added = store::InsertMembers(tx, caller.sdkappid, group.group_id,
                                    {{user, Role::kMember, now_()}});
  if (added.empty()) return errors::Error(kAlreadyMember, "already a member");
  events.Tip(group, "MemberJoined", caller.identifier, added);
  nlohmann::json joined = GroupEvent(group, caller);
  joined["JoinType"] = "Apply";
  joined["NewMemberList"] = AccountList(added);
  events.emplace_back("Group.CallbackAfterNewMemberJoin", std::move(joined));
  if (group.member_count + 1 == group.max_members) {
    events.emplace_back("Group.CallbackAfterGroupFull", nlohmann::json{{"GroupId", group.group_id}});
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ApplyJoinGroupResponse> GroupLogic::ApplyJoinGroup(
    const rpc::Caller& caller, const v1::ApplyJoinGroupRequest& request) {
  if (caller.is_admin) {
    return errors::Error(kNoPermission,
                         "apply_join_group is for users; the app adds members with add_group_member");
  }
  if (!WellFormedGroupId(request.group_id())) {
    return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  }
  if (request.apply_msg().size() > kMaxApplyMessageBytes) {
    return errors::Error(kInvalidParam, "ApplyMsg is longer than 300 bytes");
  }
  // The app's backend may refuse the request.
  if (callbacks_ != nullptr && callbacks_->Enabled(caller.sdkappid, kBeforeApplyJoinGroup)) {
    auto group = Transact<GroupRow>([&](pqxx::work& tx) -> absl::StatusOr<GroupRow> {
      auto g = store::Group(tx, caller.sdkappid, request.group_id(), false);
      if (!g) return errors::Error(kNoSuchGroup, "the group does not exist");
      return *g;
    });
    if (!group.ok()) return group.status();
    nlohmann::json ask = {{"GroupId", group->group_id},
                          {"Type", GroupTypeName(group->type)},
                          {"Requestor_Account", caller.identifier},
                          {"ApplyMsg", request.apply_msg()}};
    if (auto st = Before(caller, kBeforeApplyJoinGroup, ask, nullptr); !st.ok()) return st;
  }
  return Change<v1::ApplyJoinGroupResponse>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::ApplyJoinGroupResponse> {
        auto group = store::Group(tx, caller.sdkappid, request.group_id(), true);
        if (!group) return errors::Error(kNoSuchGroup, "the group does not exist");
        if (group->type == GroupType::kAVChatRoom) {
          return errors::Error(kNoPermission,
                               "an AVChatRoom is entered over the client protocol (room_join)");
        }
        if (!store::Members(tx, caller.sdkappid, group->group_id, {caller.identifier}, now_())
                 .empty()) {
          return errors::Error(kAlreadyMember, "already a member");
        }
        v1::ApplyJoinGroupResponse response;
        switch (OnApply(group->type, group->apply_join_option)) {
          case ApplyOutcome::kRefused:
            return errors::Error(kNoPermission, "this group takes no requests to join");
          case ApplyOutcome::kPending: {
            store::PutJoinRequest(tx, caller.sdkappid, group->group_id,
                                  {caller.identifier, request.apply_msg(), now_()});
            v1::GroupRequestNotice notice;
            notice.set_change("join_requested");
            notice.set_group_id(group->group_id);
            notice.set_applicant(caller.identifier);
            notice.set_apply_msg(request.apply_msg());
            events.Notice(Managers(tx, caller.sdkappid, group->group_id), notice, now_());
            response.set_join_status("Pending");
            return response;
          }
          case ApplyOutcome::kJoin:
            if (auto st = JoinByApplyLocked(tx, caller, *group, caller.identifier, events);
                !st.ok()) {
              return st;
            }
            response.set_join_status("Joined");
            return response;
        }
        return errors::Error(kInternal, "unknown outcome");
      });
}

absl::StatusOr<v1::GetJoinRequestsResponse> GroupLogic::GetJoinRequests(
    const rpc::Caller& caller, const v1::GroupIdRequest& request) {
  return Transact<v1::GetJoinRequestsResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetJoinRequestsResponse> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), false, &actor);
        if (!group.ok()) return group.status();
        if (!actor.app_admin && actor.role == Role::kMember) {
          return errors::Error(kNoPermission, "only the owner and admins see requests to join");
        }
        v1::GetJoinRequestsResponse response;
        response.set_group_id(group->group_id);
        for (const auto& r : store::JoinRequests(tx, caller.sdkappid, group->group_id)) {
          auto* item = response.add_join_request_list();
          item->set_applicant_account(r.user_id);
          item->set_apply_msg(r.message);
          item->set_apply_time(static_cast<uint32_t>(r.apply_time));
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::HandleJoinRequest(
    const rpc::Caller& caller, const v1::HandleJoinRequestRequest& request) {
  if (request.action() != "Accept" && request.action() != "Refuse") {
    return errors::Error(kInvalidParam, "Action must be Accept or Refuse");
  }
  if (!accounts::ValidUserId(request.applicant_account())) {
    return errors::Error(kInvalidParam, "Applicant_Account is missing or invalid");
  }
  return Change<v1::GroupEmpty>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
        Actor actor;
        auto group = Load(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (!actor.app_admin && actor.role == Role::kMember) {
          return errors::Error(kNoPermission, "only the owner and admins answer requests to join");
        }
        if (!store::TakeJoinRequest(tx, caller.sdkappid, group->group_id,
                                    request.applicant_account())) {
          return errors::Error(kAlreadyHandled, "no pending request: it was answered already");
        }
        v1::GroupRequestNotice notice;
        notice.set_change(request.action() == "Accept" ? "join_accepted" : "join_refused");
        notice.set_group_id(group->group_id);
        notice.set_applicant(request.applicant_account());
        notice.set_operator_account(caller.identifier);
        std::vector<std::string> told = Managers(tx, caller.sdkappid, group->group_id);
        told.push_back(request.applicant_account());
        events.Notice(told, notice, now_());
        if (request.action() == "Refuse") return v1::GroupEmpty();
        auto st = JoinByApplyLocked(tx, caller, *group, request.applicant_account(), events);
        if (!st.ok() && errors::TencentCode(st, 0) != kAlreadyMember) return st;
        return v1::GroupEmpty();
      });
}

absl::StatusOr<v1::GroupSettings> GroupLogic::GetGroupSettings(uint64_t sdkappid) {
  if (sdkappid == 0) return errors::Error(kInvalidParam, "sdkappid is required");
  return Transact<v1::GroupSettings>([&](pqxx::work& tx) -> absl::StatusOr<v1::GroupSettings> {
    auto fields = store::GetAppFields(tx, sdkappid);
    v1::GroupSettings out;
    out.set_sdkappid(sdkappid);
    for (const auto& k : fields.group_keys) out.add_group_data_keys(k);
    for (const auto& k : fields.member_keys) out.add_member_data_keys(k);
    out.set_room_msg_rate_limit(fields.room_msg_rate_limit);
    out.set_room_recent_count(fields.room_recent_count);
    return out;
  });
}

absl::StatusOr<v1::GroupSettings> GroupLogic::UpdateGroupSettings(const v1::GroupSettings& update) {
  if (update.sdkappid() == 0) return errors::Error(kInvalidParam, "sdkappid is required");
  store::AppFields fields{{update.group_data_keys().begin(), update.group_data_keys().end()},
                          {update.member_data_keys().begin(), update.member_data_keys().end()},
                          update.room_msg_rate_limit(),
                          update.room_recent_count()};
  if (auto st = CheckRoomSettings(update.room_msg_rate_limit(), update.room_recent_count());
      !st.ok()) {
    return st;
  }
  if (auto st = CheckDeclaredKeys(fields.group_keys, kMaxGroupDataKeys, "group_data_keys");
      !st.ok()) {
    return st;
  }
  if (auto st = CheckDeclaredKeys(fields.member_keys, kMaxMemberDataKeys, "member_data_keys");
      !st.ok()) {
    return st;
  }
  auto done = Transact<bool>([&](pqxx::work& tx) -> absl::StatusOr<bool> {
    store::PutAppFields(tx, update.sdkappid(), fields);
    return true;
  });
  if (!done.ok()) return done.status();
  return GetGroupSettings(update.sdkappid());
}

}  // namespace parley::group
