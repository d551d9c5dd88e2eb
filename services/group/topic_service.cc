// Community topics (docs/architecture.md "Community topics"): a Community
// created with SupportTopic holds topics; members of the community are
// members of each. Topic changes are tips in the community's seq, so every
// member's sessions learn them in order and the message service's context
// cache drops what it knew of the community and its topics.
#include "group_service.h"
#include "permission_store.h"
#include "topic_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parley/delivery/topics.h"
#include "parley/errors/errors.h"

namespace parley::group {
namespace {

constexpr char kBeforeCreateTopic[] = "Group.CallbackBeforeCreateTopic";
constexpr char kAfterCreateTopic[] = "Group.CallbackAfterCreateTopic";
constexpr char kAfterTopicDestroyed[] = "Group.CallbackAfterTopicDestroyed";
constexpr char kAfterTopicInfoChanged[] = "Group.CallbackAfterTopicInfoChanged";

bool Wanted(const google::protobuf::RepeatedPtrField<std::string>& filter, const char* field) {
  return filter.empty() || std::find(filter.begin(), filter.end(), field) != filter.end();
}

void FillTopic(const TopicRow& t, const google::protobuf::RepeatedPtrField<std::string>& filter,
               v1::TopicInfo* out) {
  out->set_topic_id(t.topic_id);
  out->set_group_id(t.group_id);
  if (Wanted(filter, "TopicName")) out->set_topic_name(t.name);
  if (Wanted(filter, "FaceUrl")) out->set_face_url(t.face_url);
  if (Wanted(filter, "NextMsgSeq")) out->set_next_msg_seq(static_cast<uint32_t>(t.next_msg_seq));
  if (Wanted(filter, "Notification")) out->set_notification(t.notification);
  if (Wanted(filter, "Introduction")) out->set_introduction(t.introduction);
  if (Wanted(filter, "CreateTime")) out->set_create_time(static_cast<uint32_t>(t.create_time));
  if (Wanted(filter, "LastMsgTime")) out->set_last_msg_time(static_cast<uint32_t>(t.last_msg_time));
  if (Wanted(filter, "ShutUpAllFlag")) out->set_shut_up_all_flag(t.mute_all ? 1 : 0);
  if (Wanted(filter, "CustomString")) out->set_custom_string(t.custom_string);
}

}  // namespace

absl::StatusOr<GroupRow> GroupLogic::LoadCommunity(pqxx::work& tx, const rpc::Caller& caller,
                                                   const std::string& id, bool lock,
                                                   Actor* actor) {
  auto group = Load(tx, caller, id, lock, actor);
  if (!group.ok()) return group.status();
  if (group->type != GroupType::kCommunity || !group->support_topic) {
    return errors::Error(kNoPermission,
                         "the group has no topics: topics are for Communities created with "
                         "SupportTopic");
  }
  return group;
}

absl::StatusOr<TopicRow> GroupLogic::LoadTopic(pqxx::work& tx, const rpc::Caller& caller,
                                               const std::string& group_id,
                                               const std::string& topic_id, bool lock) {
  if (auto st = CheckTopicId(topic_id, group_id); !st.ok()) return st;
  auto topic = store::Topic(tx, caller.sdkappid, topic_id, lock);
  if (!topic || topic->group_id != group_id) {
    return errors::Error(kInvalidTopicId, "the topic does not exist");
  }
  return *topic;
}

absl::StatusOr<std::string> GroupLogic::TopicOperator(pqxx::work& tx, const rpc::Caller& caller,
                                                      const std::string& group_id,
                                                      const std::string& from, Actor* actor) {
  if (!caller.is_admin || from.empty() || from == caller.identifier) return caller.identifier;
  if (!accounts::ValidUserId(from)) return errors::Error(kInvalidParam, "From_Account is invalid");
  auto self = store::Members(tx, caller.sdkappid, group_id, {from}, now_());
  if (self.empty()) return errors::Error(kNoPermission, "From_Account is not a member of the group");
  // The app acts for the member, with the app's powers.
  *actor = {Role::kOwner, true};
  return from;
}

void GroupLogic::AddTopicBits(pqxx::work& tx, const rpc::Caller& caller, const GroupRow& group,
                              const TopicRow& topic, Actor* actor) {
  if (!actor->by_permission) return;
  actor->topic_bits = TopicBitsOf(actor->bits) | topic.default_permission |
                      store::MemberTopicBits(tx, caller.sdkappid, group.group_id, topic.topic_id,
                                             caller.identifier);
}

absl::StatusOr<v1::CreateTopicResponse> GroupLogic::CreateTopic(
    const rpc::Caller& caller, const v1::CreateTopicRequest& request) {
  return NewTopic(caller, request, false);
}

absl::StatusOr<v1::CreateTopicResponse> GroupLogic::ImportTopic(
    const rpc::Caller& caller, const v1::CreateTopicRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  return NewTopic(caller, request, true);
}

absl::StatusOr<v1::CreateTopicResponse> GroupLogic::NewTopic(
    const rpc::Caller& caller, const v1::CreateTopicRequest& request, bool import) {
  if (!WellFormedGroupId(request.group_id())) {
    return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  }
  TopicProfile profile{request.topic_name(), request.face_url(), request.notification(),
                       request.introduction(), request.custom_string()};
  if (auto st = CheckTopicProfile(profile); !st.ok()) return st;
  if (!request.topic_id().empty()) {
    if (auto st = CheckTopicId(request.topic_id(), request.group_id()); !st.ok()) return st;
  }
  if (!import && request.create_time() != 0) {
    return errors::Error(kInvalidParam, "CreateTime is for import_topic");
  }
  if (auto st = CheckPermissionBits(request.default_permission(), true, "DefaultPermission");
      !st.ok()) {
    return st;
  }
  int64_t now = now_();
  TopicRow t;
  t.group_id = request.group_id();
  t.name = request.topic_name();
  t.face_url = request.face_url();
  t.notification = request.notification();
  t.introduction = request.introduction();
  t.custom_string = request.custom_string();
  t.default_permission = request.default_permission();
  t.create_time = import && request.create_time() != 0 ? request.create_time() : now;
  if (t.create_time > now) return errors::Error(kInvalidParam, "CreateTime is in the future");
  std::string operator_account = caller.identifier;
  nlohmann::json event;
  {
    // Who asks, and may they: read before the before-callback, checked
    // again under the lock below.
    auto checked = Transact<nlohmann::json>([&](pqxx::work& tx) -> absl::StatusOr<nlohmann::json> {
      Actor actor;
      auto group = LoadCommunity(tx, caller, request.group_id(), false, &actor);
      if (!group.ok()) return group.status();
      auto op = TopicOperator(tx, caller, group->group_id, request.from_account(), &actor);
      if (!op.ok()) return op.status();
      operator_account = *op;
      if (!MayManageTopics(actor)) {
        return errors::Error(kNoPermission, "only the owner and admins create topics");
      }
      return nlohmann::json{{"GroupId", group->group_id},
                            {"Type", GroupTypeName(group->type)},
                            {"Operator_Account", operator_account},
                            {"Owner_Account", group->owner},
                            {"Name", t.name},
                            {"UserDefinedDataList", nlohmann::json::array()}};
    });
    if (!checked.ok()) return checked.status();
    event = std::move(*checked);
  }
  if (!import && !request.topic_id().empty()) event["TopicId"] = request.topic_id();
  if (!import) {
    if (auto st = Before(caller, kBeforeCreateTopic, event, nullptr); !st.ok()) return st;
  }
  return Change<v1::CreateTopicResponse>(
      caller,
      [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::CreateTopicResponse> {
        Actor actor;
        auto group = LoadCommunity(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (store::TopicCount(tx, caller.sdkappid, group->group_id) >= kMaxTopics) {
          return errors::Error(kInvalidParam,
                               absl::StrCat("a community holds at most ", kMaxTopics, " topics"));
        }
        bool inserted = false;
        if (!request.topic_id().empty()) {
          t.topic_id = request.topic_id();
          inserted = store::InsertTopic(tx, caller.sdkappid, t);
          if (!inserted) return errors::Error(kGroupIdTaken, "the TopicId is taken");
        } else {
          for (int i = 0; i < 5 && !inserted; ++i) {
            t.topic_id = MakeTopicId(group->group_id, random_());
            inserted = store::InsertTopic(tx, caller.sdkappid, t);
          }
          if (!inserted) return errors::Error(kInternal, "could not make a free TopicId; retry");
        }
        if (!import) {
          events.Tip(*group, "TopicCreated", operator_account, {});
          events.tips.back().mutable_tip()->set_topic_id(t.topic_id);
          nlohmann::json after = event;
          after["TopicId"] = t.topic_id;
          events.emplace_back(kAfterCreateTopic, std::move(after));
        }
        v1::CreateTopicResponse response;
        response.set_topic_id(t.topic_id);
        return response;
      });
}

absl::StatusOr<v1::GetTopicResponse> GroupLogic::GetTopic(const rpc::Caller& caller,
                                                          const v1::GetTopicRequest& request) {
  if (static_cast<size_t>(request.topic_id_list_size()) > kMaxGetTopics) {
    return errors::Error(kInvalidParam, absl::StrCat("TopicIdList holds more than ", kMaxGetTopics,
                                                     " topics"));
  }
  std::string self = caller.is_admin ? request.from_account() : caller.identifier;
  if (!self.empty() && !accounts::ValidUserId(self)) {
    return errors::Error(kInvalidParam, "From_Account is invalid");
  }
  return Transact<v1::GetTopicResponse>([&](pqxx::work& tx) -> absl::StatusOr<v1::GetTopicResponse> {
    Actor actor;
    auto group = LoadCommunity(tx, caller, request.group_id(), false, &actor);
    if (!group.ok()) return group.status();
    std::vector<std::string> ids(request.topic_id_list().begin(), request.topic_id_list().end());
    auto topics = store::Topics(tx, caller.sdkappid, group->group_id, ids);
    int64_t now = now_();
    std::vector<MemberRow> member;
    std::map<std::string, int64_t> topic_mutes;  // one read for every topic
    if (!self.empty()) {
      member = store::Members(tx, caller.sdkappid, group->group_id, {self}, now);
      if (!member.empty()) {
        topic_mutes = store::UserTopicMutes(tx, caller.sdkappid, group->group_id, self, now);
      }
    }
    v1::GetTopicResponse response;
    auto add = [&](const TopicRow& t) {
      auto* item = response.add_topic_and_self_info();
      FillTopic(t, request.response_filter(), item->mutable_topic_info());
      if (member.empty()) return;
      auto* info = item->mutable_self_info();
      info->set_role(RoleName(member[0].role));
      info->set_msg_flag(MsgFlagName(member[0].msg_flag));
      auto topic_mute = topic_mutes.find(t.topic_id);
      int64_t muted = std::max(member[0].mute_until,
                               topic_mute == topic_mutes.end() ? 0 : topic_mute->second);
      info->set_shut_up_time(static_cast<uint32_t>(muted));
    };
    if (ids.empty()) {
      for (const auto& t : topics) add(t);
      return response;
    }
    // In the order asked, with an error for each that is not there.
    for (const auto& id : ids) {
      auto it = std::find_if(topics.begin(), topics.end(),
                             [&](const TopicRow& t) { return t.topic_id == id; });
      if (it != topics.end()) {
        add(*it);
        continue;
      }
      auto* item = response.add_topic_and_self_info();
      item->set_error_code(kInvalidTopicId);
      item->set_error_info("the topic does not exist");
      item->mutable_topic_info()->set_topic_id(id);
      item->mutable_topic_info()->set_group_id(group->group_id);
    }
    return response;
  });
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyTopic(const rpc::Caller& caller,
                                                       const v1::ModifyTopicRequest& request) {
  TopicProfile profile;
  if (request.has_topic_name()) profile.name = request.topic_name();
  if (request.has_face_url()) profile.face_url = request.face_url();
  if (request.has_notification()) profile.notification = request.notification();
  if (request.has_introduction()) profile.introduction = request.introduction();
  if (request.has_custom_string()) profile.custom_string = request.custom_string();
  if (auto st = CheckTopicProfile(profile); !st.ok()) return st;
  if (request.has_mute_all_member() && request.mute_all_member() != "On" &&
      request.mute_all_member() != "Off") {
    return errors::Error(kInvalidParam, "MuteAllMember must be On or Off");
  }
  if (request.has_default_permission()) {
    if (auto st = CheckPermissionBits(request.default_permission(), true, "DefaultPermission");
        !st.ok()) {
      return st;
    }
  }
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    Actor actor;
    auto group = LoadCommunity(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    auto op = TopicOperator(tx, caller, group->group_id, request.from_account(), &actor);
    if (!op.ok()) return op.status();
    auto topic = LoadTopic(tx, caller, group->group_id, request.topic_id(), true);
    if (!topic.ok()) return topic.status();
    AddTopicBits(tx, caller, *group, *topic, &actor);
    if (!MayManageTopics(actor)) {
      return errors::Error(kNoPermission, "only the owner and admins change topics");
    }
    TopicRow t = *topic;
    std::vector<std::string> fields;
    nlohmann::json changed = {{"GroupId", group->group_id},
                              {"TopicId", t.topic_id},
                              {"Type", GroupTypeName(group->type)},
                              {"Operator_Account", *op}};
    auto set = [&](const std::optional<std::string>& value, std::string& field, const char* name,
                   const char* callback_name) {
      if (!value) return;
      field = *value;
      fields.push_back(name);
      if (callback_name != nullptr) changed[callback_name] = *value;
    };
    set(profile.name, t.name, "TopicName", "Name");
    set(profile.face_url, t.face_url, "FaceUrl", "FaceUrl");
    set(profile.notification, t.notification, "Notification", "Notification");
    set(profile.introduction, t.introduction, "Introduction", "Introduction");
    set(profile.custom_string, t.custom_string, "CustomString", nullptr);
    if (request.has_mute_all_member()) {
      t.mute_all = request.mute_all_member() == "On";
      fields.push_back("MuteAllMember");
    }
    if (request.has_default_permission()) {
      t.default_permission = request.default_permission();
      fields.push_back("DefaultPermission");
    }
    if (fields.empty()) return v1::GroupEmpty();
    store::UpdateTopic(tx, caller.sdkappid, t);
    events.Tip(*group, "TopicChanged", *op, {}, absl::StrJoin(fields, ","));
    events.tips.back().mutable_tip()->set_topic_id(t.topic_id);
    events.emplace_back(kAfterTopicInfoChanged, std::move(changed));
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::DestroyTopicResponse> GroupLogic::DestroyTopic(
    const rpc::Caller& caller, const v1::DestroyTopicRequest& request) {
  if (request.topic_id_list_size() == 0) return errors::Error(kInvalidParam, "TopicIdList is empty");
  if (static_cast<size_t>(request.topic_id_list_size()) > kMaxDestroyTopics) {
    return errors::Error(kInvalidParam, absl::StrCat("TopicIdList holds more than ",
                                                     kMaxDestroyTopics, " topics"));
  }
  return Change<v1::DestroyTopicResponse>(
      caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::DestroyTopicResponse> {
        Actor actor;
        auto group = LoadCommunity(tx, caller, request.group_id(), true, &actor);
        if (!group.ok()) return group.status();
        if (!MayManageTopics(actor)) {
          return errors::Error(kNoPermission, "only the owner and admins destroy topics");
        }
        v1::DestroyTopicResponse response;
        nlohmann::json destroyed = nlohmann::json::array();
        for (const auto& id : request.topic_id_list()) {
          auto* item = response.add_destroy_result_item();
          item->set_topic_id(id);
          auto topic = LoadTopic(tx, caller, group->group_id, id, true);
          if (!topic.ok()) {
            item->set_error_code(errors::TencentCode(topic.status(), kInvalidTopicId));
            item->set_error_info(errors::InfoOf(topic.status()));
            continue;
          }
          store::DeleteTopic(tx, caller.sdkappid, id);
          events.Tip(*group, "TopicDestroyed", caller.identifier, {});
          events.tips.back().mutable_tip()->set_topic_id(id);
          destroyed.push_back(id);
        }
        if (!destroyed.empty()) {
          events.emplace_back(kAfterTopicDestroyed,
                              nlohmann::json{{"GroupId", group->group_id},
                                             {"Type", GroupTypeName(group->type)},
                                             {"Operator_Account", caller.identifier},
                                             {"TopicIdList", std::move(destroyed)}});
        }
        return response;
      });
}

}  // namespace parley::group
