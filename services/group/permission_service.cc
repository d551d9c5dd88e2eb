// Community permission groups (docs/architecture.md "Community permission
// groups"). Changes are tips in the community's seq: members' sessions learn
// them in order, and the message service's context cache (which holds each
// sender's bits) drops the community's entry.
#include "group_service.h"
#include "permission_store.h"
#include "topic_store.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"

namespace parley::group {
namespace {

// A paging cursor: "" from the start, else the last row's serial.
absl::StatusOr<int64_t> Cursor(const std::string& next) {
  int64_t serial = 0;
  if (!next.empty() && (!absl::SimpleAtoi(next, &serial) || serial < 0)) {
    return errors::Error(kInvalidParam, "Next is not a cursor this command gave");
  }
  return serial;
}

absl::Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > kMaxPermissionGroupNameBytes) {
    return errors::Error(kInvalidParam, "PermissionGroupName must be 1 to 150 bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckCustom(const std::string& custom) {
  if (custom.size() > kMaxPermissionCustomBytes) {
    return errors::Error(kInvalidParam, "CustomString is longer than 3000 bytes");
  }
  return absl::OkStatus();
}

template <class Ids>
absl::Status CheckIdCount(const Ids& ids, const char* field) {
  if (ids.empty()) return errors::Error(kInvalidParam, absl::StrCat(field, " is empty"));
  if (static_cast<size_t>(ids.size()) > kMaxPermissionIds) {
    return errors::Error(kInvalidParam, absl::StrCat(field, " holds more than ", kMaxPermissionIds));
  }
  return absl::OkStatus();
}

// The distinct accounts of MemberList (1-100; 10004 / 10005 otherwise).
absl::StatusOr<std::vector<std::string>> MemberAccounts(
    const v1::PermissionGroupMembersRequest& request) {
  std::vector<std::string> named;
  for (const auto& m : request.member_list()) named.push_back(m.member_account());
  auto users = Accounts(named, kMaxPermissionAccounts, "MemberList");
  if (users.ok() && users->empty()) return errors::Error(kInvalidParam, "MemberList is empty");
  return users;
}

absl::Status NoSuchPermissionGroup() {
  return errors::Error(kInvalidParam, "the permission group does not exist");
}

}  // namespace

absl::StatusOr<GroupRow> GroupLogic::LoadForPermissions(pqxx::work& tx, const rpc::Caller& caller,
                                                        const std::string& id, uint32_t bit,
                                                        const std::string* permission_group) {
  Actor actor;
  auto group = Load(tx, caller, id, bit != 0, &actor);
  if (!group.ok()) return group.status();
  if (group->type != GroupType::kCommunity) {
    return errors::Error(kNoPermission, "permission groups are for Communities");
  }
  if (bit != 0 && !MayManagePermissions(actor, bit)) {
    return errors::Error(kNoPermission, "your permissions do not allow this");
  }
  if (permission_group != nullptr &&
      !store::PermissionGroup(tx, caller.sdkappid, group->group_id, *permission_group)) {
    return NoSuchPermissionGroup();
  }
  return group;
}

absl::StatusOr<v1::CreatePermissionGroupResponse> GroupLogic::CreatePermissionGroup(
    const rpc::Caller& caller, const v1::CreatePermissionGroupRequest& request) {
  if (!request.permission_group_id().empty()) {
    if (auto st = CheckPermissionGroupId(request.permission_group_id()); !st.ok()) return st;
  }
  if (auto st = CheckName(request.permission_group_name()); !st.ok()) return st;
  if (auto st = CheckCustom(request.custom_string()); !st.ok()) return st;
  if (auto st = CheckPermissionBits(request.permission(), false, "Permission"); !st.ok()) return st;
  return Change<v1::CreatePermissionGroupResponse>(
      caller,
      [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::CreatePermissionGroupResponse> {
        auto group = LoadForPermissions(tx, caller, request.group_id(),
                                        perm::kManagePermissionGroupInfo);
        if (!group.ok()) return group.status();
        if (store::PermissionGroupCount(tx, caller.sdkappid, group->group_id) >=
            kMaxPermissionGroups) {
          return errors::Error(kInvalidParam, absl::StrCat("a community holds at most ",
                                                           kMaxPermissionGroups,
                                                           " permission groups"));
        }
        PermissionGroupRow row{request.permission_group_id(), request.permission_group_name(),
                               request.custom_string(), request.permission()};
        bool inserted = false;
        if (!row.id.empty()) {
          inserted = store::InsertPermissionGroup(tx, caller.sdkappid, group->group_id, row);
          if (!inserted) return errors::Error(kGroupIdTaken, "the PermissionGroupId is taken");
        } else {
          for (int i = 0; i < 5 && !inserted; ++i) {
            row.id = MakePermissionGroupId(random_());
            inserted = store::InsertPermissionGroup(tx, caller.sdkappid, group->group_id, row);
          }
          if (!inserted) return errors::Error(kInternal, "could not make a free ID; retry");
        }
        events.Tip(*group, "PermissionGroupCreated", caller.identifier, {}, row.id);
        v1::CreatePermissionGroupResponse response;
        response.set_permission_group_id(row.id);
        return response;
      });
}

absl::StatusOr<v1::PermissionGroupResults> GroupLogic::DestroyPermissionGroup(
    const rpc::Caller& caller, const v1::DestroyPermissionGroupRequest& request) {
  if (auto st = CheckIdCount(request.permission_group_id_list(), "PermissionGroupIdList"); !st.ok()) {
    return st;
  }
  return Change<v1::PermissionGroupResults>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::PermissionGroupResults> {
        auto group = LoadForPermissions(tx, caller, request.group_id(),
                                        perm::kManagePermissionGroupInfo);
        if (!group.ok()) return group.status();
        v1::PermissionGroupResults response;
        for (const auto& id : request.permission_group_id_list()) {
          auto* item = response.add_result_item();
          item->set_permission_group_id(id);
          if (!store::DeletePermissionGroup(tx, caller.sdkappid, group->group_id, id)) {
            auto st = NoSuchPermissionGroup();
            item->set_error_code(errors::TencentCode(st));
            item->set_error_info(errors::InfoOf(st));
            continue;
          }
          events.Tip(*group, "PermissionGroupDestroyed", caller.identifier, {}, id);
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyPermissionGroup(
    const rpc::Caller& caller, const v1::ModifyPermissionGroupRequest& request) {
  if (request.has_permission_group_name()) {
    if (auto st = CheckName(request.permission_group_name()); !st.ok()) return st;
  }
  if (request.has_custom_string()) {
    if (auto st = CheckCustom(request.custom_string()); !st.ok()) return st;
  }
  if (request.has_permission()) {
    if (auto st = CheckPermissionBits(request.permission(), false, "Permission"); !st.ok()) return st;
  }
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    auto group = LoadForPermissions(tx, caller, request.group_id(),
                                    perm::kManagePermissionGroupInfo);
    if (!group.ok()) return group.status();
    auto row = store::PermissionGroup(tx, caller.sdkappid, group->group_id,
                                      request.permission_group_id());
    if (!row) return NoSuchPermissionGroup();
    if (request.has_permission_group_name()) row->name = request.permission_group_name();
    if (request.has_custom_string()) row->custom_string = request.custom_string();
    if (request.has_permission()) row->permission = request.permission();
    store::UpdatePermissionGroup(tx, caller.sdkappid, group->group_id, *row);
    events.Tip(*group, "PermissionGroupChanged", caller.identifier, {}, row->id);
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GetPermissionGroupResponse> GroupLogic::GetPermissionGroup(
    const rpc::Caller& caller, const v1::GetPermissionGroupRequest& request) {
  if (static_cast<size_t>(request.permission_group_id_list_size()) > kMaxPermissionIds) {
    return errors::Error(kInvalidParam, "PermissionGroupIdList holds more than 100");
  }
  auto after = Cursor(request.next());
  if (!after.ok()) return after.status();
  uint32_t limit = request.limit() == 0 ? static_cast<uint32_t>(kMaxPermissionGroups)
                                        : std::min<uint32_t>(request.limit(), kMaxPermissionGroups);
  return Transact<v1::GetPermissionGroupResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetPermissionGroupResponse> {
        auto group = LoadForPermissions(tx, caller, request.group_id(), 0);  // members read
        if (!group.ok()) return group.status();
        std::vector<std::string> ids(request.permission_group_id_list().begin(),
                                     request.permission_group_id_list().end());
        auto rows = store::PermissionGroups(tx, caller.sdkappid, group->group_id, ids,
                                            ids.empty() ? *after : 0,
                                            ids.empty() ? limit : kMaxPermissionIds);
        v1::GetPermissionGroupResponse response;
        auto add = [&](const PermissionGroupRow& row) {
          auto* info = response.add_permission_group_list();
          info->set_permission_group_id(row.id);
          info->set_permission_group_name(row.name);
          info->set_permission(row.permission);
          info->set_custom_string(row.custom_string);
          info->set_member_num(row.member_num);
        };
        if (ids.empty()) {
          for (const auto& row : rows) add(row);
          if (rows.size() == limit) response.set_next(std::to_string(rows.back().serial));
          return response;
        }
        for (const auto& id : ids) {
          auto it = std::find_if(rows.begin(), rows.end(),
                                 [&](const PermissionGroupRow& r) { return r.id == id; });
          if (it != rows.end()) {
            add(*it);
            continue;
          }
          auto st = NoSuchPermissionGroup();
          auto* info = response.add_permission_group_list();
          info->set_permission_group_id(id);
          info->set_error_code(errors::TencentCode(st));
          info->set_error_info(errors::InfoOf(st));
        }
        return response;
      });
}

absl::StatusOr<v1::TopicPermissionResults> GroupLogic::AddTopicPermissionGroup(
    const rpc::Caller& caller, const v1::TopicPermissionRequest& request) {
  return PutTopicPermissions(caller, request, true);
}

absl::StatusOr<v1::TopicPermissionResults> GroupLogic::SetTopicPermissionGroup(
    const rpc::Caller& caller, const v1::TopicPermissionRequest& request) {
  return PutTopicPermissions(caller, request, false);
}

absl::StatusOr<v1::TopicPermissionResults> GroupLogic::ChangeTopicPermissions(
    const rpc::Caller& caller, const std::string& group_id, const std::string& pg,
    const std::vector<std::string>& topics, const TopicPermissionChange& change) {
  return Change<v1::TopicPermissionResults>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::TopicPermissionResults> {
        auto group =
            LoadForPermissions(tx, caller, group_id, perm::kManagePermissionGroupInfo, &pg);
        if (!group.ok()) return group.status();
        v1::TopicPermissionResults response;
        for (size_t i = 0; i < topics.size(); ++i) {
          auto* item = response.add_result_item();
          item->set_topic_id(topics[i]);
          if (absl::Status st = change(tx, *group, i); !st.ok()) {
            item->set_error_code(errors::TencentCode(st));
            item->set_error_info(errors::InfoOf(st));
            continue;
          }
          events.Tip(*group, "TopicPermissionChanged", caller.identifier, {}, pg);
          events.tips.back().mutable_tip()->set_topic_id(topics[i]);
        }
        return response;
      });
}

absl::StatusOr<v1::TopicPermissionResults> GroupLogic::PutTopicPermissions(
    const rpc::Caller& caller, const v1::TopicPermissionRequest& request, bool add) {
  if (auto st = CheckIdCount(request.topic_permission_list(), "TopicPermissionList"); !st.ok()) {
    return st;
  }
  std::vector<std::string> topics;
  for (const auto& tp : request.topic_permission_list()) topics.push_back(tp.topic_id());
  return ChangeTopicPermissions(
      caller, request.group_id(), request.permission_group_id(), topics,
      [&](pqxx::work& tx, const GroupRow& group, size_t i) -> absl::Status {
        const auto& tp = request.topic_permission_list(static_cast<int>(i));
        if (auto st = CheckPermissionBits(tp.permission(), true, "Permission"); !st.ok()) return st;
        if (auto topic = LoadTopic(tx, caller, group.group_id, tp.topic_id(), false); !topic.ok()) {
          return topic.status();
        }
        if (!store::PutTopicPermission(tx, caller.sdkappid, group.group_id,
                                       request.permission_group_id(), tp.topic_id(),
                                       tp.permission(), add)) {
          return errors::Error(kInvalidParam,
                               add ? "the permission group already has a permission in the topic"
                                   : "the permission group has no permission in the topic");
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<v1::TopicPermissionResults> GroupLogic::DeleteTopicPermissionGroup(
    const rpc::Caller& caller, const v1::DeleteTopicPermissionRequest& request) {
  if (auto st = CheckIdCount(request.topic_id_list(), "TopicIdList"); !st.ok()) return st;
  std::vector<std::string> topics(request.topic_id_list().begin(), request.topic_id_list().end());
  return ChangeTopicPermissions(
      caller, request.group_id(), request.permission_group_id(), topics,
      [&](pqxx::work& tx, const GroupRow& group, size_t i) -> absl::Status {
        if (!store::DeleteTopicPermission(tx, caller.sdkappid, group.group_id,
                                          request.permission_group_id(), topics[i])) {
          return errors::Error(kInvalidTopicId,
                               "the permission group has no permission in that topic");
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<v1::GetTopicPermissionResponse> GroupLogic::GetTopicPermissionGroup(
    const rpc::Caller& caller, const v1::DeleteTopicPermissionRequest& request) {
  if (static_cast<size_t>(request.topic_id_list_size()) > kMaxPermissionIds) {
    return errors::Error(kInvalidParam, "TopicIdList holds more than 100");
  }
  return Transact<v1::GetTopicPermissionResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetTopicPermissionResponse> {
        auto group = LoadForPermissions(tx, caller, request.group_id(), 0,
                                        &request.permission_group_id());
        if (!group.ok()) return group.status();
        std::vector<std::string> topics(request.topic_id_list().begin(),
                                        request.topic_id_list().end());
        auto found = store::TopicPermissions(tx, caller.sdkappid, group->group_id,
                                             request.permission_group_id(), topics);
        v1::GetTopicPermissionResponse response;
        if (topics.empty()) {
          for (const auto& [topic, bits] : found) {
            auto* item = response.add_topic_permission_list();
            item->set_topic_id(topic);
            item->set_permission(bits);
          }
          return response;
        }
        for (const auto& topic : topics) {
          auto* item = response.add_topic_permission_list();
          item->set_topic_id(topic);
          auto it = std::find_if(found.begin(), found.end(),
                                 [&](const auto& f) { return f.first == topic; });
          if (it == found.end()) {
            item->set_error_code(kInvalidTopicId);
            item->set_error_info("the permission group has no permission in that topic");
          } else {
            item->set_permission(it->second);
          }
        }
        return response;
      });
}

absl::StatusOr<v1::AddGroupMemberResponse> GroupLogic::AddPermissionGroupMember(
    const rpc::Caller& caller, const v1::PermissionGroupMembersRequest& request) {
  auto users = MemberAccounts(request);
  if (!users.ok()) return users.status();
  return Change<v1::AddGroupMemberResponse>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::AddGroupMemberResponse> {
        auto group = LoadForPermissions(tx, caller, request.group_id(),
            perm::kManagePermissionGroupMember, &request.permission_group_id());
        if (!group.ok()) return group.status();
        // Only members of the community join its permission groups.
        std::vector<std::string> members;
        for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now_())) {
          members.push_back(m.user_id);
        }
        auto added = store::AddPermissionMembers(tx, caller.sdkappid, group->group_id,
                                                 request.permission_group_id(), members);
        v1::AddGroupMemberResponse response;
        for (const auto& user : *users) {
          auto* item = response.add_member_list();
          item->set_member_account(user);
          bool member = std::find(members.begin(), members.end(), user) != members.end();
          bool now_in = std::find(added.begin(), added.end(), user) != added.end();
          item->set_result(!member ? 0 : now_in ? 1 : 2);
        }
        if (!added.empty()) {
          events.Tip(*group, "PermissionGroupMembersAdded", caller.identifier, added,
                     request.permission_group_id());
        }
        return response;
      });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::DeletePermissionGroupMember(
    const rpc::Caller& caller, const v1::PermissionGroupMembersRequest& request) {
  auto users = MemberAccounts(request);
  if (!users.ok()) return users.status();
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    auto group = LoadForPermissions(tx, caller, request.group_id(),
        perm::kManagePermissionGroupMember, &request.permission_group_id());
    if (!group.ok()) return group.status();
    auto removed = store::DeletePermissionMembers(tx, caller.sdkappid, group->group_id,
                                                  request.permission_group_id(), *users);
    if (!removed.empty()) {
      events.Tip(*group, "PermissionGroupMembersRemoved", caller.identifier, removed,
                 request.permission_group_id());
    }
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GetPermissionGroupMemberListResponse> GroupLogic::GetPermissionGroupMemberList(
    const rpc::Caller& caller, const v1::GetPermissionGroupMemberListRequest& request) {
  auto after = Cursor(request.next());
  if (!after.ok()) return after.status();
  if (request.limit() > kMaxPermissionMemberPage) {
    return errors::Error(kInvalidParam, "Limit may be at most 50");
  }
  uint32_t limit = request.limit() == 0 ? kMaxPermissionMemberPage : request.limit();
  return Transact<v1::GetPermissionGroupMemberListResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetPermissionGroupMemberListResponse> {
        auto group = LoadForPermissions(tx, caller, request.group_id(), 0,
                                        &request.permission_group_id());
        if (!group.ok()) return group.status();
        auto rows = store::PermissionMembers(tx, caller.sdkappid, group->group_id,
                                             request.permission_group_id(), *after, limit);
        v1::GetPermissionGroupMemberListResponse response;
        for (const auto& [user, serial] : rows) response.add_member_list()->set_member_account(user);
        if (rows.size() == limit) response.set_next(std::to_string(rows.back().second));
        return response;
      });
}

}  // namespace parley::group
