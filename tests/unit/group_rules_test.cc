// The group type rules of compat reference §5 as pure functions.
#include <catch2/catch.hpp>

#include "parley/errors/errors.h"
#include "group_rules.h"

using namespace parley::group;

namespace {

int CodeOf(const absl::Status& st) { return parley::errors::TencentCode(st, 0); }

}  // namespace

TEST_CASE("group types parse from REST and SDK names and print as REST names", "[group]") {
  CHECK(ParseGroupType("Private") == GroupType::kWork);
  CHECK(ParseGroupType("Work") == GroupType::kWork);
  CHECK(ParseGroupType("ChatRoom") == GroupType::kMeeting);
  CHECK(ParseGroupType("Meeting") == GroupType::kMeeting);
  CHECK(ParseGroupType("Public") == GroupType::kPublic);
  CHECK(ParseGroupType("Community") == GroupType::kCommunity);
  CHECK(ParseGroupType("AVChatRoom") == GroupType::kAVChatRoom);
  CHECK_FALSE(ParseGroupType("public"));  // case-sensitive, as Tencent's
  CHECK_FALSE(ParseGroupType(""));
  CHECK(std::string(GroupTypeName(GroupType::kWork)) == "Private");
  CHECK(std::string(GroupTypeName(GroupType::kMeeting)) == "ChatRoom");
  CHECK(ParseRole("Admin") == Role::kAdmin);
  CHECK_FALSE(ParseRole("admin"));
  CHECK(ParseMsgFlag("Discard") == MsgFlag::kDiscard);
  CHECK_FALSE(ParseMsgFlag("Mute"));
}

TEST_CASE("custom group IDs follow the type's prefix rules", "[group]") {
  CHECK(CheckCustomGroupId("team-1", GroupType::kPublic).ok());
  CHECK(CodeOf(CheckCustomGroupId("@TGS#2ABC", GroupType::kPublic)) == kInvalidGroupId);
  CHECK(CodeOf(CheckCustomGroupId("guild", GroupType::kCommunity)) == kInvalidGroupId);
  CHECK(CheckCustomGroupId("@TGS#_guild", GroupType::kCommunity).ok());
  CHECK(CodeOf(CheckCustomGroupId(std::string(48, 'a'), GroupType::kWork)) == kInvalidGroupId);
  CHECK(CheckCustomGroupId(std::string(47, 'a'), GroupType::kWork).ok());
  CHECK(CodeOf(CheckCustomGroupId("tab\there", GroupType::kWork)) == kInvalidGroupId);
  CHECK(CodeOf(CheckCustomGroupId("", GroupType::kWork)) == kInvalidGroupId);
  CHECK(CodeOf(CheckCustomGroupId("caf\xc3\xa9", GroupType::kWork)) == kInvalidGroupId);
}

TEST_CASE("server-made group IDs carry the @TGS# prefix and differ by randomness", "[group]") {
  std::string a = MakeGroupId(GroupType::kPublic, 1), b = MakeGroupId(GroupType::kPublic, 2);
  CHECK(a.rfind("@TGS#", 0) == 0);
  CHECK(a != b);
  CHECK(WellFormedGroupId(a));
  std::string community = MakeGroupId(GroupType::kCommunity, 12345);
  CHECK(community.rfind("@TGS#_", 0) == 0);
  CHECK(CheckCustomGroupId(community, GroupType::kCommunity).ok());  // importable as custom
}

TEST_CASE("profile fields keep Tencent's byte limits", "[group]") {
  CHECK(CheckProfile({std::string(30, 'n'), std::string(240, 'i'), std::string(300, 'o'),
                      std::string(100, 'f')})
            .ok());
  CHECK(CodeOf(CheckProfile({std::string(31, 'n'), {}, {}, {}})) == kInvalidParam);
  CHECK(CodeOf(CheckProfile({{}, std::string(241, 'i'), {}, {}})) == kInvalidParam);
  CHECK(CodeOf(CheckProfile({{}, {}, std::string(301, 'o'), {}})) == kInvalidParam);
  CHECK(CodeOf(CheckProfile({{}, {}, {}, std::string(101, 'f')})) == kInvalidParam);
  CHECK(CodeOf(CheckProfile({std::string(), {}, {}, {}})) == kInvalidParam);
  // 30 bytes, not 30 characters: ten 3-byte characters fit, eleven do not.
  std::string ten_chars;
  for (int i = 0; i < 10; ++i) ten_chars += "\xe4\xb8\xad";
  CHECK(CheckProfile({ten_chars, {}, {}, {}}).ok());
  CHECK(CodeOf(CheckProfile({ten_chars + "\xe4\xb8\xad", {}, {}, {}})) == kInvalidParam);
}

TEST_CASE("type defaults follow the reference's table", "[group]") {
  CHECK(RulesFor(GroupType::kWork).max_members == 6000);
  CHECK(RulesFor(GroupType::kCommunity).max_members == 100000);
  CHECK(std::string(RulesFor(GroupType::kPublic).apply_default) == "NeedPermission");
  CHECK(std::string(RulesFor(GroupType::kMeeting).apply_default) == "FreeAccess");
  CHECK(std::string(RulesFor(GroupType::kWork).apply_default) == "DisableApply");
  CHECK_FALSE(RulesFor(GroupType::kWork).has_admins);
  CHECK(RulesFor(GroupType::kWork).needs_activation);
  CHECK_FALSE(RulesFor(GroupType::kPublic).needs_activation);
  CHECK(RulesFor(GroupType::kWork).owner_may_quit);
  CHECK_FALSE(RulesFor(GroupType::kCommunity).owner_may_quit);
}

TEST_CASE("the permission matrix of §5: kick, mute, edit, roles, disband, invite", "[group]") {
  const Actor owner{Role::kOwner, false}, admin{Role::kAdmin, false}, member{Role::kMember, false};
  const Actor app{Role::kMember, true};
  for (GroupType t : {GroupType::kPublic, GroupType::kMeeting, GroupType::kCommunity}) {
    INFO(GroupTypeName(t));
    CHECK(MayKick(t, owner, Role::kAdmin));
    CHECK(MayKick(t, owner, Role::kMember));
    CHECK_FALSE(MayKick(t, owner, Role::kOwner));
    CHECK(MayKick(t, admin, Role::kMember));
    CHECK_FALSE(MayKick(t, admin, Role::kAdmin));
    CHECK_FALSE(MayKick(t, admin, Role::kOwner));
    CHECK_FALSE(MayKick(t, member, Role::kMember));
    CHECK(MayKick(t, app, Role::kAdmin));
    CHECK_FALSE(MayKick(t, app, Role::kOwner));  // hand the group over first
    CHECK(MayMute(t, admin, Role::kMember));
    CHECK_FALSE(MayMute(t, admin, Role::kAdmin));
    CHECK_FALSE(MayMute(t, member, Role::kMember));
    CHECK(MayEditProfile(t, admin));
    CHECK_FALSE(MayEditProfile(t, member));
    CHECK(MaySetRole(t, owner));
    CHECK_FALSE(MaySetRole(t, admin));
    CHECK(MayDisband(t, owner));
    CHECK_FALSE(MayDisband(t, admin));
    CHECK(MayDisband(t, app));
  }
  // Work: owner kicks, nobody mutes, any member edits, only the app admin disbands.
  CHECK(MayKick(GroupType::kWork, owner, Role::kMember));
  CHECK_FALSE(MayKick(GroupType::kWork, member, Role::kMember));
  CHECK_FALSE(MayMute(GroupType::kWork, owner, Role::kMember));
  CHECK_FALSE(MayMute(GroupType::kWork, app, Role::kMember));
  CHECK(MayEditProfile(GroupType::kWork, member));
  CHECK_FALSE(MaySetRole(GroupType::kWork, owner));
  CHECK_FALSE(MayDisband(GroupType::kWork, owner));
  CHECK(MayDisband(GroupType::kWork, app));
  // Inviting: Work and Community members may; Public and Meeting only managers.
  CHECK(MayInvite(GroupType::kWork, member, "FreeAccess"));
  CHECK(MayInvite(GroupType::kCommunity, member, "FreeAccess"));
  CHECK_FALSE(MayInvite(GroupType::kCommunity, member, "DisableInvite"));
  CHECK_FALSE(MayInvite(GroupType::kPublic, member, "FreeAccess"));
  CHECK(MayInvite(GroupType::kPublic, admin, "FreeAccess"));
  CHECK(MayInvite(GroupType::kPublic, app, "DisableInvite"));  // the app admin adds anyone
  CHECK_FALSE(MayInvite(GroupType::kAVChatRoom, app, "FreeAccess"));
}

TEST_CASE("group attributes: modify, set, delete and clear within Tencent's limits", "[group]") {
  Attrs attrs;
  REQUIRE(ApplyAttrs(AttrOp::kModify, {{"a", "1"}, {"b", "2"}}, &attrs).ok());
  CHECK(attrs == Attrs{{"a", "1"}, {"b", "2"}});
  REQUIRE(ApplyAttrs(AttrOp::kModify, {{"b", "3"}, {"c", ""}}, &attrs).ok());
  CHECK(attrs == Attrs{{"a", "1"}, {"b", "3"}, {"c", ""}});
  REQUIRE(ApplyAttrs(AttrOp::kSet, {{"z", "9"}}, &attrs).ok());
  CHECK(attrs == Attrs{{"z", "9"}});
  CHECK(CodeOf(ApplyAttrs(AttrOp::kDelete, {{"a", ""}}, &attrs)) == kNoSuchAttr);
  CHECK(attrs == Attrs{{"z", "9"}});  // a refused change changes nothing
  REQUIRE(ApplyAttrs(AttrOp::kDelete, {{"z", ""}}, &attrs).ok());
  CHECK(attrs.empty());
  REQUIRE(ApplyAttrs(AttrOp::kModify, {{"k", "v"}}, &attrs).ok());
  REQUIRE(ApplyAttrs(AttrOp::kClear, {}, &attrs).ok());
  CHECK(attrs.empty());

  CHECK(CodeOf(ApplyAttrs(AttrOp::kModify, {{std::string(33, 'k'), "v"}}, &attrs)) ==
        kAttrKeyTooLong);
  CHECK(CodeOf(ApplyAttrs(AttrOp::kModify, {{"", "v"}}, &attrs)) == kAttrKeyTooLong);
  CHECK(CodeOf(ApplyAttrs(AttrOp::kModify, {{"k", std::string(4001, 'v')}}, &attrs)) ==
        kAttrValueTooLong);
  std::vector<std::pair<std::string, std::string>> seventeen;
  for (int i = 0; i < 17; ++i) seventeen.emplace_back("k" + std::to_string(i), "v");
  CHECK(CodeOf(ApplyAttrs(AttrOp::kModify, seventeen, &attrs)) == kTooManyAttrs);
  seventeen.pop_back();
  CHECK(ApplyAttrs(AttrOp::kSet, seventeen, &attrs).ok());  // 16 fit
  std::vector<std::pair<std::string, std::string>> big;
  for (int i = 0; i < 5; ++i) big.emplace_back("b" + std::to_string(i), std::string(3999, 'v'));
  CHECK(CodeOf(ApplyAttrs(AttrOp::kSet, big, &attrs)) == kAttrsTooLarge);
  CHECK(attrs.size() == 16);
}

TEST_CASE("group counters: Set, Increase, Decrease, key cap and integer range", "[group]") {
  Counters counters;
  REQUIRE(ApplyCounters("", {{"likes", 5}}, &counters).ok());
  REQUIRE(ApplyCounters("Increase", {{"likes", 3}, {"views", 2}}, &counters).ok());
  CHECK(counters == Counters{{"likes", 8}, {"views", 2}});
  REQUIRE(ApplyCounters("Decrease", {{"likes", 10}}, &counters).ok());
  CHECK(counters["likes"] == -2);
  REQUIRE(ApplyCounters("Set", {{"likes", 0}}, &counters).ok());
  CHECK(counters["likes"] == 0);
  CHECK(CodeOf(ApplyCounters("Add", {{"likes", 1}}, &counters)) == kInvalidParam);
  CHECK(CodeOf(ApplyCounters("Set", {{"likes", 1.5}}, &counters)) == kInvalidParam);
  CHECK(CodeOf(ApplyCounters("Set", {{"likes", 1e300}}, &counters)) == kInvalidParam);
  CHECK(CodeOf(ApplyCounters("Set", {{"", 1}}, &counters)) == kInvalidParam);
  REQUIRE(ApplyCounters("Set", {{"big", 9007199254740992.0}}, &counters).ok());
  CHECK(CodeOf(ApplyCounters("Increase", {{"big", 1}}, &counters)) == kInvalidParam);
  std::vector<std::pair<std::string, double>> many;
  for (int i = 0; i < 19; ++i) many.emplace_back("c" + std::to_string(i), 1);
  CHECK(CodeOf(ApplyCounters("Set", many, &counters)) == kTooManyCounters);  // 3 + 19 > 20
  CHECK(counters.size() == 3);
}

TEST_CASE("mute ends fit Tencent's uint32 MuteUntil, whatever MuteTime says", "[group]") {
  CHECK(MuteUntil(1700000000, 0) == 0);
  CHECK(MuteUntil(1700000000, 60) == 1700000060);
  CHECK(MuteUntil(1700000000, kPermanentMute) == kPermanentMute);
  CHECK(MuteUntil(1700000000, 4294967294u) == kPermanentMute);  // would overflow uint32
}

TEST_CASE("requests to join: by the group's ApplyJoinOption, never for Work groups", "[group]") {
  CHECK(OnApply(GroupType::kPublic, "NeedPermission") == ApplyOutcome::kPending);
  CHECK(OnApply(GroupType::kPublic, "FreeAccess") == ApplyOutcome::kJoin);
  CHECK(OnApply(GroupType::kPublic, "DisableApply") == ApplyOutcome::kRefused);
  CHECK(OnApply(GroupType::kMeeting, "FreeAccess") == ApplyOutcome::kJoin);
  CHECK(OnApply(GroupType::kCommunity, "NeedPermission") == ApplyOutcome::kPending);
  CHECK(OnApply(GroupType::kWork, "FreeAccess") == ApplyOutcome::kRefused);
}

TEST_CASE("custom fields: declared keys, value limits, empty values remove", "[group]") {
  auto code = [](const absl::Status& st) { return parley::errors::TencentCode(st, 0); };
  CHECK(CheckDeclaredKeys({"level", "team_2"}, kMaxGroupDataKeys, "k").ok());
  CHECK(code(CheckDeclaredKeys({"bad-key"}, kMaxGroupDataKeys, "k")) == 10004);
  CHECK(code(CheckDeclaredKeys({std::string(16, 'k')}, kMaxGroupDataKeys, "k")) == 10004);
  CHECK(code(CheckDeclaredKeys({"a", "a"}, kMaxGroupDataKeys, "k")) == 10004);
  CHECK(code(CheckDeclaredKeys({"a", "b", "c", "d", "e", "f"}, kMaxMemberDataKeys, "k")) == 10004);

  CustomData data;
  CHECK(ApplyCustomData({"level"}, {{"level", "3"}}, kMaxGroupDataValueBytes, "f", &data).ok());
  CHECK(data == CustomData{{"level", "3"}});
  CHECK(code(ApplyCustomData({"level"}, {{"level", "4"}, {"other", "x"}}, kMaxGroupDataValueBytes,
                             "f", &data)) == 10004);
  CHECK(data == CustomData{{"level", "3"}});  // a refused call changes nothing
  CHECK(code(ApplyCustomData({"level"}, {{"level", std::string(65, 'v')}},
                             kMaxMemberDataValueBytes, "f", &data)) == 10004);
  CHECK(ApplyCustomData({"level"}, {{"level", ""}}, kMaxGroupDataValueBytes, "f", &data).ok());
  CHECK(data.empty());
}

TEST_CASE("AVChatRoom settings, bans and account lists", "[group]") {
  CHECK(RoomMsgRate(0) == 40);
  CHECK(RoomMsgRate(5) == 5);
  CHECK(CheckRoomSettings(0, 0).ok());
  CHECK(CheckRoomSettings(1000, 20).ok());
  CHECK(CodeOf(CheckRoomSettings(1001, 0)) == 10004);
  CHECK(CodeOf(CheckRoomSettings(40, 21)) == 10004);
  CHECK(*BanUntil(100, 60) == 160);
  CHECK(CodeOf(BanUntil(100, 0).status()) == 10004);
  std::vector<std::string> ids = {"a", "b", "a"};
  CHECK(*Accounts(ids, 5, "X") == std::vector<std::string>{"a", "b"});
  CHECK(CodeOf(Accounts(ids, 2, "X").status()) == 10005);
  std::vector<std::string> bad = {""};
  CHECK(CodeOf(Accounts(bad, 2, "X").status()) == 10004);
  CHECK(RulesFor(GroupType::kAVChatRoom).max_members == 0);
}

TEST_CASE("topic IDs: the community's ID, @TOPIC#_ and a clean suffix, at most 96 bytes",
          "[group][topic]") {
  const std::string g = "@TGS#_guild";
  CHECK(CheckTopicId(g + "@TOPIC#_news", g).ok());
  CHECK(CodeOf(CheckTopicId(g + "@TOPIC#_", g)) == kInvalidTopicId);        // no suffix
  CHECK(CodeOf(CheckTopicId("@TGS#_other@TOPIC#_x", g)) == kInvalidTopicId);  // another group's
  CHECK(CodeOf(CheckTopicId(g + "news", g)) == kInvalidTopicId);
  CHECK(CodeOf(CheckTopicId(g + "@TOPIC#_a b", g)) == kInvalidTopicId);
  CHECK(CodeOf(CheckTopicId(g + "@TOPIC#_x@TGS#_y", g)) == kInvalidTopicId);
  CHECK(CodeOf(CheckTopicId(g + "@TOPIC#_x@TOPIC#_y", g)) == kInvalidTopicId);
  std::string longest = g + "@TOPIC#_" + std::string(96 - g.size() - 8, 'x');
  CHECK(CheckTopicId(longest, g).ok());
  CHECK(CodeOf(CheckTopicId(longest + "x", g)) == kInvalidTopicId);
  std::string made = MakeTopicId(g, 0x123456789abcdefULL);
  CHECK(made.rfind(g + "@TOPIC#_@TOPIC#", 0) == 0);
  CHECK(made.size() == g.size() + 8 + 7 + 12);
  CHECK(CheckTopicId(made, g).ok());
  CHECK(made != MakeTopicId(g, 42));
  // Group IDs never hold the topic mark, so a topic's community is clear.
  CHECK(CodeOf(CheckCustomGroupId("@TGS#_a@TOPIC#_b", GroupType::kCommunity)) == kInvalidGroupId);
  CHECK(CodeOf(CheckCustomGroupId("a@TOPIC#_b", GroupType::kPublic)) == kInvalidGroupId);
}

TEST_CASE("topic profiles keep their byte limits", "[group][topic]") {
  CHECK(CheckTopicProfile({std::string("news")}).ok());
  CHECK(CodeOf(CheckTopicProfile({std::string("")})) == kInvalidParam);
  CHECK(CodeOf(CheckTopicProfile({std::string(151, 'n')})) == kInvalidParam);
  TopicProfile long_custom;
  long_custom.custom_string = std::string(3001, 'c');
  CHECK(CodeOf(CheckTopicProfile(long_custom)) == kInvalidParam);
  TopicProfile ok;
  ok.custom_string = std::string(3000, 'c');
  ok.introduction = std::string(400, 'i');
  CHECK(CheckTopicProfile(ok).ok());
}

TEST_CASE("permission groups: IDs, bits, and bits instead of roles when they are on",
          "[group][permission]") {
  CHECK(CheckPermissionGroupId("@PMG#_writers").ok());
  CHECK(CodeOf(CheckPermissionGroupId("writers")) == kInvalidParam);
  CHECK(CodeOf(CheckPermissionGroupId("@PMG#_")) == kInvalidParam);
  CHECK(CodeOf(CheckPermissionGroupId("@PMG#_" + std::string(43, 'x'))) == kInvalidParam);
  CHECK(CheckPermissionGroupId("@PMG#_" + std::string(42, 'x')).ok());
  CHECK(CheckPermissionGroupId(MakePermissionGroupId(7)).ok());
  CHECK(CheckPermissionBits(perm::kAll, false, "Permission").ok());
  CHECK(CodeOf(CheckPermissionBits(perm::kAll + 1, false, "Permission")) == kInvalidParam);
  CHECK(CheckPermissionBits(perm::kTopicAll, true, "Permission").ok());
  CHECK(CodeOf(CheckPermissionBits(perm::kTopicAll + 1, true, "Permission")) == kInvalidParam);
  CHECK(TopicBitsOf(perm::kSendMessage) == perm::kTopicSend);
  CHECK(TopicBitsOf(perm::kManageGroupInfo | perm::kBanMember) == 0);
  CHECK(TopicBitsOf(perm::kAll) == (perm::kTopicAll & ~perm::kTopicManagePermission));

  Actor admin{Role::kAdmin, false};
  CHECK(MayManageTopics(admin));
  CHECK(MayKick(GroupType::kCommunity, admin, Role::kMember));
  // With permission groups on, an admin has their bits' powers only.
  Actor by_bits{Role::kAdmin, false, true, 0};
  CHECK_FALSE(MayManageTopics(by_bits));
  CHECK_FALSE(MayKick(GroupType::kCommunity, by_bits, Role::kMember));
  CHECK_FALSE(MayMute(GroupType::kCommunity, by_bits, Role::kMember));
  CHECK_FALSE(MayEditProfile(GroupType::kCommunity, by_bits));
  CHECK_FALSE(MayInvite(GroupType::kCommunity, by_bits, "FreeAccess"));
  CHECK_FALSE(MayManagePermissions(by_bits, perm::kManagePermissionGroupInfo));
  Actor member{Role::kMember, false, true,
               perm::kManageGroupMember | perm::kManageTopic | perm::kManagePermissionGroupInfo};
  CHECK(MayManageTopics(member));
  CHECK(MayKick(GroupType::kCommunity, member, Role::kAdmin));
  CHECK_FALSE(MayKick(GroupType::kCommunity, member, Role::kOwner));
  CHECK(MayInvite(GroupType::kCommunity, member, "FreeAccess"));
  CHECK(MayManagePermissions(member, perm::kManagePermissionGroupInfo));
  CHECK_FALSE(MayManagePermissions(member, perm::kManagePermissionGroupMember));
  // A topic's bits count in that topic.
  Actor topic_mod{Role::kMember, false, true, 0, perm::kTopicMute | perm::kTopicManage};
  CHECK(MayMute(GroupType::kCommunity, topic_mod, Role::kMember));
  CHECK(MayManageTopics(topic_mod));
  // The owner and the app keep every power.
  Actor owner{Role::kOwner, false, true, 0};
  CHECK(MayManageTopics(owner));
  CHECK(MayKick(GroupType::kCommunity, owner, Role::kAdmin));
  CHECK(MayManagePermissions(Actor{Role::kMember, true, true, 0}, perm::kManagePermissionGroupMember));
}
