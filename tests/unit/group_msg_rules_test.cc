// The rules of group messages (services/message/group_msg_rules.h).
#include <catch2/catch.hpp>

#include "group_msg_rules.h"
#include "no_speaking.h"
#include "parley/delivery/group_tips.h"
#include "parley/delivery/topics.h"
#include "parley/errors/errors.h"

using namespace parley::message;

namespace {

int CodeOf(const absl::Status& st) { return parley::errors::TencentCode(st, 0); }

}  // namespace

TEST_CASE("a group send's fields are checked, each with its code", "[groupmsg]") {
  parley::v1::SendGroupRequest ok;
  ok.set_group_id("g");
  CHECK(CheckGroupSend(ok).ok());
  ok.set_msg_priority("High");
  CHECK(CheckGroupSend(ok).ok());

  auto bad = ok;
  bad.set_msg_priority("high");  // case-sensitive, as Tencent's
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);

  bad = ok;
  for (int i = 0; i < 30; ++i) bad.add_group_at_info()->set_group_at_account("u");
  CHECK(CheckGroupSend(bad).ok());
  bad.add_group_at_info()->set_group_at_all_flag(1);
  CHECK(CodeOf(CheckGroupSend(bad)) == 10053);

  bad = ok;
  bad.add_group_at_info();  // neither @all nor an account
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);
  bad = ok;
  bad.add_group_at_info()->set_group_at_all_flag(2);
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);

  bad = ok;
  bad.add_send_msg_control("NoUnread");
  CHECK(CheckGroupSend(bad).ok());
  bad.add_send_msg_control("Loud");
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);

  bad = ok;
  bad.add_forbid_callback_control("ForbidEverything");
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);

  bad = ok;
  bad.set_online_only_flag(2);
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);

  bad = ok;
  for (int i = 0; i < 101; ++i) bad.add_to_account("u" + std::to_string(i));
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);
  bad = ok;
  bad.add_to_account(std::string(33, 'u'));
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);

  bad = ok;
  bad.set_client_msg_id(std::string(65, 'c'));
  CHECK(CodeOf(CheckGroupSend(bad)) == 10004);
}

TEST_CASE("mutes silence members, but owners and admins speak when everyone is muted",
          "[groupmsg]") {
  CHECK_FALSE(SenderMuted(kRoleMember, 0, false, 100));
  CHECK(SenderMuted(kRoleMember, 101, false, 100));
  CHECK_FALSE(SenderMuted(kRoleMember, 100, false, 100));  // ends at MuteUntil
  CHECK(SenderMuted(kRoleMember, 0, true, 100));
  CHECK_FALSE(SenderMuted(kRoleAdmin, 0, true, 100));
  CHECK_FALSE(SenderMuted(kRoleOwner, 0, true, 100));
  CHECK(SenderMuted(kRoleAdmin, 200, true, 100));  // a personal mute still holds
}

TEST_CASE("history before joining: hidden in Work and Public groups, shown in Meeting and "
          "Community groups",
          "[groupmsg]") {
  CHECK(FirstReadableSeq(kTypeWork, 10) == 11);
  CHECK(FirstReadableSeq(kTypePublic, 10) == 11);
  CHECK(FirstReadableSeq(kTypeMeeting, 10) == 1);
  CHECK(FirstReadableSeq(kTypeCommunity, 10) == 1);
}

TEST_CASE("recall: members their own within two minutes, owners, admins and the app anything",
          "[groupmsg]") {
  CHECK(MayRecall(false, kRoleMember, "ann", "ann", 1000, 1120).ok());
  CHECK(CodeOf(MayRecall(false, kRoleMember, "ann", "ann", 1000, 1121)) == 10031);
  CHECK(CodeOf(MayRecall(false, kRoleMember, "ann", "ben", 1000, 1001)) == 10007);
  CHECK(MayRecall(false, kRoleAdmin, "ann", "ben", 0, 100000).ok());
  CHECK(MayRecall(false, kRoleOwner, "ann", "ben", 0, 100000).ok());
  CHECK(MayRecall(true, kRoleMember, "admin", "ben", 0, 100000).ok());
}

TEST_CASE("unread counting and receive options", "[groupmsg]") {
  parley::v1::SendGroupRequest request;
  CHECK(CountsUnread(request));
  request.add_send_msg_control("NoLastMsg");
  CHECK(CountsUnread(request));
  request.add_send_msg_control("NoUnread");
  CHECK_FALSE(CountsUnread(request));
  parley::v1::SendGroupRequest targeted;
  targeted.add_to_account("ann");
  CHECK_FALSE(CountsUnread(targeted));  // not everyone sees it
  CHECK(MsgFlagName(0) == "AcceptAndNotify");
  CHECK(MsgFlagName(1) == "AcceptNotNotify");
  CHECK(MsgFlagName(2) == "Discard");
  CHECK(parley::delivery::MsgFlagValue("Discard") == 2);
  CHECK(parley::delivery::MsgFlagValue("") == 0);
}

TEST_CASE("tips say who joins and leaves", "[groupmsg]") {
  parley::v1::GroupTip tip;
  tip.set_type("MemberJoined");
  tip.add_member_account("ann");
  auto joined = parley::delivery::MembershipOf(tip);
  CHECK(joined.joined == std::vector<std::string>{"ann"});
  CHECK(joined.left.empty());
  tip.set_type("MemberKicked");
  CHECK(parley::delivery::MembershipOf(tip).left == std::vector<std::string>{"ann"});
  tip.set_type("MemberQuit");
  CHECK(parley::delivery::MembershipOf(tip).left == std::vector<std::string>{"ann"});
  tip.set_type("GroupDismissed");
  CHECK(parley::delivery::MembershipOf(tip).dismissed);
  tip.set_type("MsgFlagChanged");
  CHECK(parley::delivery::MembershipOf(tip).flag_changed);
  tip.set_type("ProfileChanged");
  auto none = parley::delivery::MembershipOf(tip);
  CHECK(none.joined.empty());
  CHECK(none.left.empty());
  CHECK_FALSE(none.dismissed);
}

TEST_CASE("AVChatRoom rules: priority classes and commands a room does not take", "[groupmsg]") {
  CHECK(RoomPriorityClass("High") == 'h');
  CHECK(RoomPriorityClass("Normal") == 'n');
  CHECK(RoomPriorityClass("") == 'n');
  CHECK(RoomPriorityClass("Low") == 'l');
  CHECK(NotForRooms(kTypePublic, kGroupNoRoaming, "history").ok());
  CHECK(CodeOf(NotForRooms(kTypeRoom, kGroupNoRoaming, "history")) == 10044);
  CHECK(CodeOf(NotForRooms(kTypeRoom, kGroupTypeNoRecall, "recall")) == 10033);
}

TEST_CASE("permission groups decide sending: the topic's send bit, or the community's",
          "[groupmsg][permission]") {
  parley::v1::MemberContext context;
  CHECK(PermissionToSend(context).ok());  // off
  context.set_permission_enabled(true);
  CHECK(parley::errors::TencentCode(PermissionToSend(context), 0) == kGroupNoPermission);
  context.set_permission_bits(64);
  CHECK(PermissionToSend(context).ok());
  context.set_topic(true);
  CHECK(parley::errors::TencentCode(PermissionToSend(context), 0) == kGroupNoPermission);
  context.set_topic_permission_bits(8);
  CHECK(PermissionToSend(context).ok());
}

TEST_CASE("topic IDs name their community and topic events carry both", "[groupmsg][topic]") {
  using parley::delivery::CommunityOf;
  CHECK(CommunityOf("@TGS#_g@TOPIC#_news") == "@TGS#_g");
  CHECK(CommunityOf("@TGS#_g@TOPIC#_@TOPIC#ABC") == "@TGS#_g");
  CHECK(CommunityOf("@TGS#_g").empty());
  CHECK(CommunityOf("@TOPIC#_x").empty());          // no community before the mark
  CHECK(CommunityOf("@TGS#_g@TOPIC#_").empty());    // no suffix
  CHECK(parley::delivery::TopicOf("@TGS#_g@TOPIC#_n", "@TGS#_g"));
  CHECK_FALSE(parley::delivery::TopicOf("@TGS#_h@TOPIC#_n", "@TGS#_g"));
  parley::v1::GroupEvent event;
  event.set_group_id("@TGS#_g@TOPIC#_news");
  event.mutable_message()->set_group_id("@TGS#_g@TOPIC#_news");
  parley::delivery::SplitStream(&event);
  CHECK(event.group_id() == "@TGS#_g");
  CHECK(event.topic_id() == "@TGS#_g@TOPIC#_news");
  CHECK(event.message().group_id() == "@TGS#_g");
  CHECK(event.message().topic_id() == "@TGS#_g@TOPIC#_news");
  parley::v1::GroupEvent plain;
  plain.set_group_id("@TGS#2abc");
  parley::delivery::SplitStream(&plain);
  CHECK(plain.group_id() == "@TGS#2abc");
  CHECK(plain.topic_id().empty());
}

TEST_CASE("global mutes: durations, for ever, and what is left", "[nospeaking]") {
  CHECK(NoSpeakingUntil(1000, 0) == 0);
  CHECK(NoSpeakingUntil(1000, 60) == 1060);
  CHECK(NoSpeakingUntil(1000, 4294967295u) == kNoSpeakingForever);
  CHECK(NoSpeakingUntil(4294967000LL, 1000) == kNoSpeakingForever);  // past the end: for ever
  CHECK(NoSpeakingLeft(1000, 1060) == 60);
  CHECK(NoSpeakingLeft(1100, 1060) == 0);
  CHECK(NoSpeakingLeft(1000, 0) == 0);
  CHECK(NoSpeakingLeft(1000, kNoSpeakingForever) == 4294967295u);
  CHECK(NoSpeakingNow(1000, 1060));
  CHECK_FALSE(NoSpeakingNow(1060, 1060));
  CHECK_FALSE(NoSpeakingNow(1000, 0));
  CHECK(NoSpeakingNow(5000000000LL, kNoSpeakingForever));
}
