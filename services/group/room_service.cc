// AVChatRoom (live room) methods of GroupLogic (docs/architecture.md, "Live
// rooms"). Membership is presence, kept in Redis by the gateways
// (libs/liveroom); PostgreSQL keeps the room, its owner and admins (as
// group_members rows), mutes and bans.
#include "absl/strings/str_cat.h"
#include "group_service.h"
#include "room_store.h"

namespace parley::group {
namespace {

constexpr char kAfterNewMemberJoin[] = "Group.CallbackAfterNewMemberJoin";
constexpr char kAfterMemberExit[] = "Group.CallbackAfterMemberExit";
constexpr char kOnMemberStateChange[] = "Group.CallbackOnMemberStateChange";

absl::Status NoPresence() {
  return errors::Error(kInternal, "room presence is not available; retry");
}

}  // namespace

absl::StatusOr<GroupRow> GroupLogic::LoadRoom(pqxx::work& tx, const rpc::Caller& caller,
                                              const std::string& id, bool lock, Actor* out) {
  Actor actor;
  auto group = Load(tx, caller, id, lock, &actor);
  if (out != nullptr) *out = actor;
  if (!group.ok()) return group.status();
  if (group->type != GroupType::kAVChatRoom) {
    return errors::Error(kNoPermission, "this command is for AVChatRoom groups only");
  }
  if (!actor.app_admin && actor.role == Role::kMember) {
    return errors::Error(kNoPermission, "only the room's owner and admins may do this");
  }
  return group;
}

void GroupLogic::QueueRoomEvent(uint64_t app, const std::string& room, const char* command,
                                const std::string& detail, const std::string& user) {
  if (callbacks_ == nullptr || !callbacks_->Enabled(app, command)) return;
  std::lock_guard lock(room_events_mu_);
  room_events_[{app, room, command, detail}].push_back(user);
}

void GroupLogic::FlushRoomEvents() {
  decltype(room_events_) pending;
  {
    std::lock_guard lock(room_events_mu_);
    pending.swap(room_events_);
  }
  for (const auto& [key, users] : pending) {
    const auto& [app, room, command, detail] = key;
    for (size_t i = 0; i < users.size(); i += kRoomEventBatch) {
      std::vector<std::string> part(users.begin() + i,
                                    users.begin() + std::min(users.size(), i + kRoomEventBatch));
      nlohmann::json payload = {{"GroupId", room}, {"Type", "AVChatRoom"}};
      if (command == kOnMemberStateChange) {
        payload["EventType"] = detail;
        payload["MemberList"] = AccountList(part);
      } else if (command == kAfterNewMemberJoin) {
        payload["JoinType"] = "Apply";
        payload["Operator_Account"] = part.size() == 1 ? part[0] : "";
        payload["NewMemberList"] = AccountList(part);
      } else {
        payload["ExitType"] = detail;
        payload["Operator_Account"] = part.size() == 1 ? part[0] : "";
        payload["ExitMemberList"] = AccountList(part);
      }
      callbacks_->After(app, command, payload.dump(), "RESTAPI", "");
    }
  }
}

absl::StatusOr<v1::EnterRoomResponse> GroupLogic::EnterRoom(const rpc::Caller& caller,
                                                            const v1::RoomMemberRequest& request) {
  if (caller.is_admin) return errors::Error(kNoPermission, "app admins do not enter rooms");
  if (!WellFormedGroupId(request.group_id())) {
    return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  }
  // Entries waiting at the same moment share one statement and one
  // transaction (group commit): a join storm costs far less than a query
  // per join.
  auto standing = standings_->Submit({{caller.sdkappid, request.group_id(), caller.identifier}})
                      .get()[0];
  absl::StatusOr<v1::EnterRoomResponse> response = [&]() -> absl::StatusOr<v1::EnterRoomResponse> {
    if (!standing.ok()) return standing.status();
    if (!*standing) return errors::Error(kNoSuchGroup, "the group does not exist");
    const auto& s = **standing;
    if (s.type != static_cast<int16_t>(GroupType::kAVChatRoom)) {
      return errors::Error(kNoPermission, "not an AVChatRoom: join it with apply_join_group");
    }
    if (s.banned_until != 0) {
      return errors::Error(kNoPermission,
                           absl::StrCat("you are banned from this room until ", s.banned_until));
    }
    v1::EnterRoomResponse out;
    out.set_role(s.role < 0 ? static_cast<int32_t>(Role::kMember) : s.role);
    out.set_mute_all(s.mute_all);
    out.set_mute_until(s.mute_until);
    out.set_room_recent_count(s.recent_count);
    return out;
  }();
  if (!response.ok()) return response;
  QueueRoomEvent(caller.sdkappid, request.group_id(), kAfterNewMemberJoin, "", caller.identifier);
  QueueRoomEvent(caller.sdkappid, request.group_id(), kOnMemberStateChange, "Online",
                 caller.identifier);
  return response;
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::LeaveRoom(const rpc::Caller& caller,
                                                     const v1::RoomMemberRequest& request) {
  if (caller.is_admin) return errors::Error(kNoPermission, "app admins do not enter rooms");
  if (!WellFormedGroupId(request.group_id())) {
    return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  }
  // Bans send their own Kicked exit.
  if (request.reason() != "Kicked") {
    QueueRoomEvent(caller.sdkappid, request.group_id(), kAfterMemberExit, "Quit",
                   caller.identifier);
  }
  QueueRoomEvent(caller.sdkappid, request.group_id(), kOnMemberStateChange, "Offline",
                 caller.identifier);
  return v1::GroupEmpty();
}

absl::StatusOr<v1::GetOnlineMemberNumResponse> GroupLogic::GetOnlineMemberNum(
    const rpc::Caller& caller, const v1::GroupIdRequest& request) {
  if (!WellFormedGroupId(request.group_id())) {
    return errors::Error(kInvalidGroupId, "GroupId is missing or invalid");
  }
  auto room = Transact<GroupRow>([&](pqxx::work& tx) -> absl::StatusOr<GroupRow> {
    auto group = store::Group(tx, caller.sdkappid, request.group_id(), false);
    if (!group) return errors::Error(kNoSuchGroup, "the group does not exist");
    if (group->type != GroupType::kAVChatRoom) {
      return errors::Error(kNoPermission, "get_online_member_num is for AVChatRoom groups");
    }
    return *group;
  });
  if (!room.ok()) return room.status();
  if (rooms_ == nullptr) return NoPresence();
  int64_t now_ms = liveroom::NowMs();
  if (!caller.is_admin) {
    // Users ask about the room they are in.
    auto present = rooms_->Present(caller.sdkappid, room->group_id, {caller.identifier}, now_ms);
    if (!present.ok()) return NoPresence();
    if (present->empty()) return errors::Error(kNoPermission, "you are not in this room");
  }
  auto count = rooms_->Count(caller.sdkappid, room->group_id, now_ms);
  if (!count.ok()) return NoPresence();
  v1::GetOnlineMemberNumResponse response;
  response.set_online_member_num(static_cast<uint32_t>(*count));
  return response;
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::BanGroupMember(const rpc::Caller& caller,
                                                          const v1::BanGroupMemberRequest& request) {
  auto users = Accounts(request.members_account(), kMaxBanAccounts, "Members_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "Members_Account is empty");
  int64_t now = now_();
  auto until = BanUntil(now, request.duration());
  if (!until.ok()) return until.status();
  if (request.description().size() > 1024) {
    return errors::Error(kInvalidParam, "Description is longer than 1024 bytes");
  }
  auto banned = Change<GroupRow>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<GroupRow> {
    Actor actor;
    auto group = LoadRoom(tx, caller, request.group_id(), true, &actor);
    if (!group.ok()) return group.status();
    for (const auto& m : store::Members(tx, caller.sdkappid, group->group_id, *users, now)) {
      if (m.role == Role::kOwner || (m.role == Role::kAdmin && !actor.app_admin &&
                                     actor.role != Role::kOwner)) {
        return errors::Error(kNoPermission, absl::StrCat("you may not ban ", m.user_id));
      }
    }
    store::Ban(tx, caller.sdkappid, group->group_id, *users, *until, request.description());
    // The tip takes the banned users' sessions out of the room on every
    // gateway (room_left "banned"); the others see who was banned.
    events.Tip(*group, "MemberBanned", caller.identifier, *users,
               std::to_string(request.duration()));
    return group;
  });
  if (!banned.ok()) return banned.status();
  if (rooms_ != nullptr) {
    // Those who were in the room leave it: their exits and Offline states.
    auto present = rooms_->Present(caller.sdkappid, banned->group_id, *users, liveroom::NowMs());
    for (const auto& user : present.ok() ? *present : std::vector<std::string>()) {
      QueueRoomEvent(caller.sdkappid, banned->group_id, kAfterMemberExit, "Kicked", user);
      QueueRoomEvent(caller.sdkappid, banned->group_id, kOnMemberStateChange, "Offline", user);
    }
    if (auto st = rooms_->Leave(caller.sdkappid, banned->group_id, *users); !st.ok()) {
      // Their gateways drop them on the tip; the count catches up then.
      log::Warn("room_ban_presence_failed", {{"group", banned->group_id}});
    }
  }
  return v1::GroupEmpty();
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::UnbanGroupMember(
    const rpc::Caller& caller, const v1::UnbanGroupMemberRequest& request) {
  auto users = Accounts(request.members_account(), kMaxBanAccounts, "Members_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "Members_Account is empty");
  return Transact<v1::GroupEmpty>([&](pqxx::work& tx) -> absl::StatusOr<v1::GroupEmpty> {
    auto group = LoadRoom(tx, caller, request.group_id(), true);
    if (!group.ok()) return group.status();
    store::Unban(tx, caller.sdkappid, group->group_id, *users);
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GetGroupBanMemberResponse> GroupLogic::GetGroupBanMember(
    const rpc::Caller& caller, const v1::GetGroupBanMemberRequest& request) {
  if (request.limit() > kMaxBanPage) {
    return errors::Error(kInvalidParam, absl::StrCat("Limit may be at most ", kMaxBanPage));
  }
  uint32_t limit = request.limit() == 0 ? 100 : request.limit();
  return Transact<v1::GetGroupBanMemberResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetGroupBanMemberResponse> {
        auto group = LoadRoom(tx, caller, request.group_id(), false);
        if (!group.ok()) return group.status();
        v1::GetGroupBanMemberResponse response;
        auto bans = store::Bans(tx, caller.sdkappid, group->group_id, request.offset(), limit,
                                now_());
        for (const auto& b : bans) {
          auto* item = response.add_banned_account_list();
          item->set_member_account(b.user_id);
          item->set_banned_until(static_cast<uint32_t>(b.banned_until));
        }
        if (bans.size() == limit) response.set_next_offset(request.offset() + limit);
        return response;
      });
}

absl::StatusOr<v1::GetRoomMembersResponse> GroupLogic::GetRoomMembers(
    const rpc::Caller& caller, const v1::GetRoomMembersRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  auto room = Transact<GroupRow>([&](pqxx::work& tx) { return LoadRoom(tx, caller, request.group_id(), false); });
  if (!room.ok()) return room.status();
  if (rooms_ == nullptr) return NoPresence();
  auto members = rooms_->Members(caller.sdkappid, room->group_id,
                                 static_cast<int64_t>(std::max(0.0, request.timestamp())), request.mark(),
                                 kMaxRoomMembersPage, liveroom::NowMs());
  if (!members.ok()) return NoPresence();
  v1::GetRoomMembersResponse response;
  for (const auto& m : *members) {
    auto* item = response.add_member_list();
    item->set_member_account(m.user_id);
    item->set_join_time(static_cast<double>(m.join_ms));
    for (uint32_t mark : m.marks) item->add_marks(mark);
  }
  if (members->size() == kMaxRoomMembersPage) {
    response.set_next_timestamp(static_cast<double>(members->back().join_ms));
  }
  return response;
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyRoomUserInfo(
    const rpc::Caller& caller, const v1::ModifyRoomUserInfoRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  if (request.command_type() != 1 && request.command_type() != 2) {
    return errors::Error(kInvalidParam, "CommandType must be 1 (set marks) or 2 (delete marks)");
  }
  if (request.member_list().empty()) return errors::Error(kInvalidParam, "MemberList is empty");
  if (static_cast<size_t>(request.member_list_size()) > kMaxMarkAccounts) {
    return errors::Error(kTooManyAccounts,
                         absl::StrCat("MemberList holds more than ", kMaxMarkAccounts, " members"));
  }
  std::vector<std::pair<std::string, std::vector<uint32_t>>> marks;
  for (const auto& m : request.member_list()) {
    if (!accounts::ValidUserId(m.member_account())) {
      return errors::Error(kInvalidParam, "MemberList holds an invalid Member_Account");
    }
    if (m.marks().empty() || static_cast<size_t>(m.marks_size()) > kMaxMarksPerMember) {
      return errors::Error(kInvalidParam, absl::StrCat("each member takes 1 to ",
                                                       kMaxMarksPerMember, " Marks"));
    }
    marks.push_back({m.member_account(), {m.marks().begin(), m.marks().end()}});
  }
  auto room = Transact<GroupRow>([&](pqxx::work& tx) { return LoadRoom(tx, caller, request.group_id(), false); });
  if (!room.ok()) return room.status();
  if (rooms_ == nullptr) return NoPresence();
  if (!rooms_->Mark(caller.sdkappid, room->group_id, marks, request.command_type() == 1).ok()) {
    return NoPresence();
  }
  return v1::GroupEmpty();
}

absl::StatusOr<v1::GroupEmpty> GroupLogic::ModifyRoomAdmin(const rpc::Caller& caller,
                                                           const v1::ModifyRoomAdminRequest& request) {
  if (!caller.is_admin) return errors::Error(kNoPermission, "app admins only");
  if (request.command_type() != 1 && request.command_type() != 2) {
    return errors::Error(kInvalidParam, "CommandType must be 1 (add) or 2 (remove)");
  }
  auto users = Accounts(request.admin_account(), kMaxRoomAdmins, "Admin_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "Admin_Account is empty");
  bool add = request.command_type() == 1;
  if (add) {
    auto existing = Existing(caller.sdkappid, *users);
    if (!existing.ok()) return existing.status();
    for (const auto& u : *users) {
      if (!existing->count(u)) return errors::Error(kAccountMissing, absl::StrCat(u, " is not an account"));
    }
  }
  int64_t now = now_();
  return Change<v1::GroupEmpty>(caller, [&](pqxx::work& tx, Events& events) -> absl::StatusOr<v1::GroupEmpty> {
    auto group = LoadRoom(tx, caller, request.group_id(), true);
    if (!group.ok()) return group.status();
    auto current = store::MemberPage(tx, caller.sdkappid, group->group_id, {Role::kAdmin}, 0,
                                     static_cast<uint32_t>(kMaxRoomAdmins + 1), now);
    std::vector<std::string> changed;
    if (add) {
      std::vector<MemberRow> rows;
      for (const auto& u : *users) {
        if (u == group->owner) {
          return errors::Error(kInvalidParam, "the owner cannot be a room admin");
        }
        bool already = std::any_of(current.begin(), current.end(),
                                   [&](const MemberRow& m) { return m.user_id == u; });
        if (!already) rows.push_back({u, Role::kAdmin, now});
      }
      if (current.size() + rows.size() > kMaxRoomAdmins) {
        return errors::Error(kInvalidParam, absl::StrCat("a room has at most ", kMaxRoomAdmins,
                                                         " admins"));
      }
      changed = store::InsertMembers(tx, caller.sdkappid, group->group_id, rows);
    } else {
      std::vector<std::string> admins;
      for (const auto& m : current) {
        if (std::find(users->begin(), users->end(), m.user_id) != users->end()) {
          admins.push_back(m.user_id);
        }
      }
      changed = store::DeleteMembers(tx, caller.sdkappid, group->group_id, admins);
    }
    if (!changed.empty()) {
      events.Tip(*group, "RoleChanged", caller.identifier, std::move(changed),
                 add ? "Admin" : "Member");
    }
    return v1::GroupEmpty();
  });
}

absl::StatusOr<v1::GetRoomAdminListResponse> GroupLogic::GetRoomAdminList(
    const rpc::Caller& caller, const v1::GroupIdRequest& request) {
  return Transact<v1::GetRoomAdminListResponse>(
      [&](pqxx::work& tx) -> absl::StatusOr<v1::GetRoomAdminListResponse> {
        auto group = LoadRoom(tx, caller, request.group_id(), false);
        if (!group.ok()) return group.status();
        v1::GetRoomAdminListResponse response;
        for (const auto& m : store::MemberPage(tx, caller.sdkappid, group->group_id,
                                               {Role::kAdmin}, 0,
                                               static_cast<uint32_t>(kMaxRoomAdmins), now_())) {
          response.add_admin_list()->set_admin_account(m.user_id);
        }
        return response;
      });
}

absl::StatusOr<v1::CheckRoomMembersResponse> GroupLogic::CheckRoomMembers(
    const rpc::Caller& caller, const v1::CheckRoomMembersRequest& request) {
  auto users = Accounts(request.member_account(), kMaxCheckMembers, "Member_Account");
  if (!users.ok()) return users.status();
  if (users->empty()) return errors::Error(kInvalidParam, "Member_Account is empty");
  auto room = Transact<GroupRow>([&](pqxx::work& tx) { return LoadRoom(tx, caller, request.group_id(), false); });
  if (!room.ok()) return room.status();
  if (rooms_ == nullptr) return NoPresence();
  auto present = rooms_->Present(caller.sdkappid, room->group_id, *users, liveroom::NowMs());
  if (!present.ok()) return NoPresence();
  v1::CheckRoomMembersResponse response;
  for (const auto& u : *present) response.add_member_account(u);
  return response;
}

absl::StatusOr<v1::ListRoomsResponse> GroupLogic::ListRooms(const rpc::Caller& caller,
                                                            const v1::ListRoomsRequest& request) {
  if (!caller.is_service) return errors::Error(kNoPermission, "internal callers only");
  uint32_t limit = std::clamp<uint32_t>(request.limit(), 1, 1000);
  return Transact<v1::ListRoomsResponse>([&](pqxx::work& tx) -> absl::StatusOr<v1::ListRoomsResponse> {
    v1::ListRoomsResponse response;
    for (auto& id : store::RoomIds(tx, caller.sdkappid, request.after(), limit)) {
      response.add_group_id(std::move(id));
    }
    return response;
  });
}

}  // namespace parley::group
