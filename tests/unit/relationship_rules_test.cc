#include <catch2/catch.hpp>

#include "parley/errors/errors.h"
#include "relationship_rules.h"
#include "send_permission.h"

using namespace parley::relationship;
using google::protobuf::Value;

namespace {

Value Str(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

Value Num(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}

int32_t Code(const absl::Status& st) { return parley::errors::TencentCode(st, -1); }

AddFacts Allowing(AllowType allow) {
  AddFacts f;
  f.target_allows = allow;
  return f;
}

}  // namespace

TEST_CASE("friend_add follows the target's AllowType", "[relationship]") {
  SECTION("AllowAny adds at once, both ways by default") {
    AddDecision d = DecideFriendAdd(Allowing(AllowType::kAllowAny));
    CHECK(d.code == 0);
    CHECK(d.add_forward);
    CHECK(d.add_reverse);
    CHECK_FALSE(d.create_request);
  }
  SECTION("NeedConfirm stores a pending request and answers 30539") {
    AddDecision d = DecideFriendAdd(Allowing(AllowType::kNeedConfirm));
    CHECK(d.code == kAddedAsPending);
    CHECK(d.create_request);
    CHECK_FALSE(d.add_forward);
    CHECK_FALSE(d.add_reverse);
  }
  SECTION("DenyAny refuses with 30516") {
    AddDecision d = DecideFriendAdd(Allowing(AllowType::kDenyAny));
    CHECK(d.code == kTargetDeniesAll);
    CHECK_FALSE(d.add_forward);
    CHECK_FALSE(d.create_request);
  }
  SECTION("an admin's ForceAddFlags overrides NeedConfirm and DenyAny") {
    for (auto allow : {AllowType::kNeedConfirm, AllowType::kDenyAny}) {
      AddFacts f = Allowing(allow);
      f.force = true;
      AddDecision d = DecideFriendAdd(f);
      CHECK(d.code == 0);
      CHECK(d.add_forward);
      CHECK(d.add_reverse);
    }
  }
  SECTION("an unset AllowType means NeedConfirm") {
    CHECK(ParseAllowType("") == AllowType::kNeedConfirm);
    CHECK(ParseAllowType("AllowType_Type_AllowAny") == AllowType::kAllowAny);
    CHECK(ParseAllowType("AllowType_Type_DenyAny") == AllowType::kDenyAny);
  }
}

TEST_CASE("friend_add single vs both", "[relationship]") {
  AddFacts f = Allowing(AllowType::kAllowAny);
  f.both = false;
  AddDecision single = DecideFriendAdd(f);
  CHECK(single.add_forward);
  CHECK_FALSE(single.add_reverse);

  f.requester_has_target = true;
  CHECK(DecideFriendAdd(f).code == 0);  // already a friend: nothing to do
  CHECK_FALSE(DecideFriendAdd(f).add_forward);

  f.both = true;  // now the other direction is missing
  AddDecision both = DecideFriendAdd(f);
  CHECK_FALSE(both.add_forward);
  CHECK(both.add_reverse);
}

TEST_CASE("friend_add caps and blocklists", "[relationship]") {
  AddFacts f = Allowing(AllowType::kAllowAny);
  f.friend_limit = 3;
  f.requester_friend_count = 3;
  CHECK(DecideFriendAdd(f).code == kOwnFriendListFull);
  f.requester_friend_count = 2;
  f.target_friend_count = 3;
  CHECK(DecideFriendAdd(f).code == kPeerFriendListFull);
  f.both = false;  // the target's list is not touched
  CHECK(DecideFriendAdd(f).code == 0);

  AddFacts pending = Allowing(AllowType::kNeedConfirm);
  pending.pending_limit = 2;
  pending.target_pending_count = 2;
  CHECK(DecideFriendAdd(pending).code == kPendingListFull);

  AddFacts blocked = Allowing(AllowType::kAllowAny);
  blocked.requester_blocked_target = true;
  CHECK(DecideFriendAdd(blocked).code == kTargetInYourBlocklist);
  blocked = Allowing(AllowType::kAllowAny);
  blocked.target_blocked_requester = true;
  blocked.force = true;  // forcing does not get past a blocklist
  CHECK(DecideFriendAdd(blocked).code == kYouInTargetsBlocklist);

  AddFacts forbidden = Allowing(AllowType::kAllowAny);
  forbidden.requester_forbidden = true;
  CHECK(DecideFriendAdd(forbidden).code == kSnsForbiddenToAdd);
}

TEST_CASE("answering a friend request", "[relationship]") {
  ResponseFacts f;
  f.agree = false;
  ResponseDecision reject = DecideResponse(f);
  CHECK(reject.code == 0);
  CHECK_FALSE(reject.add_to_requester);
  CHECK_FALSE(reject.add_to_responder);

  f.agree = true;  // a single-way request: only the requester gains a friend
  ResponseDecision agree = DecideResponse(f);
  CHECK(agree.add_to_requester);
  CHECK_FALSE(agree.add_to_responder);

  f.request_was_both = true;
  CHECK(DecideResponse(f).add_to_responder);
  f.request_was_both = false;
  f.agree_and_add = true;
  CHECK(DecideResponse(f).add_to_responder);

  f.friend_limit = 1;
  f.responder_friend_count = 1;
  CHECK(DecideResponse(f).code == kOwnFriendListFull);
  f.responder_friend_count = 0;
  f.requester_friend_count = 1;
  CHECK(DecideResponse(f).code == kPeerFriendListFull);
  f.requester_friend_count = 0;
  f.requester_blocked_responder = true;
  CHECK(DecideResponse(f).code == kYouInTargetsBlocklist);
}

TEST_CASE("friend and blocklist relations", "[relationship]") {
  CHECK(FriendRelation(true, true, true) == "CheckResult_Type_BothWay");
  CHECK(FriendRelation(true, false, true) == "CheckResult_Type_AWithB");
  CHECK(FriendRelation(false, true, true) == "CheckResult_Type_BWithA");
  CHECK(FriendRelation(false, false, true) == "CheckResult_Type_NoRelation");
  CHECK(FriendRelation(true, true, false) == "CheckResult_Type_AWithB");
  CHECK(FriendRelation(false, true, false) == "CheckResult_Type_NoRelation");
  CHECK(BlockRelation(true, true, true) == "BlackCheckResult_Type_BothWay");
  CHECK(BlockRelation(false, true, true) == "BlackCheckResult_Type_BWithA");
  CHECK(BlockRelation(false, true, false) == "BlackCheckResult_Type_NO");
  CHECK(BlockRelation(true, false, false) == "BlackCheckResult_Type_AWithB");
}

TEST_CASE("profile items are checked against their type and range", "[relationship]") {
  std::set<std::string> custom = {"Hobby"};
  CHECK(ValidateProfileItem("Tag_Profile_IM_Nick", Str("Ann"), false, custom).ok());
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_Nick", Num(3), false, custom)) ==
        kProfileValueWrongType);
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_Nick", Str(std::string(501, 'n')), false,
                                 custom)) == kProfileValueTooLong);
  CHECK(ValidateProfileItem("Tag_Profile_IM_Gender", Str("Gender_Type_Female"), false, custom).ok());
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_Gender", Str("Female"), false, custom)) ==
        kProfileValueInvalid);
  CHECK(ValidateProfileItem("Tag_Profile_IM_BirthDay", Num(19900101), false, custom).ok());
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_BirthDay", Num(-1), false, custom)) ==
        kProfileValueInvalid);
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_BirthDay", Num(1.5), false, custom)) ==
        kProfileValueInvalid);
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_BirthDay", Str("1990"), false, custom)) ==
        kProfileValueWrongType);
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_AllowType", Str("Maybe"), false, custom)) ==
        kProfileValueInvalid);
  // Fields that gate what a user may do are the backend's to set.
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_AdminForbidType",
                                 Str("AdminForbid_Type_SendOut"), false, custom)) ==
        kProfileNoWritePermission);
  CHECK(ValidateProfileItem("Tag_Profile_IM_AdminForbidType", Str("AdminForbid_Type_SendOut"),
                            true, custom)
            .ok());
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_Level", Num(3), false, custom)) ==
        kProfileNoWritePermission);
  CHECK(Code(ValidateProfileItem("Tag_Profile_IM_Unknown", Str("x"), true, custom)) ==
        kProfileTagUnknown);
  CHECK(ValidateProfileItem("Tag_Profile_Custom_Hobby", Str("chess"), false, custom).ok());
  CHECK(ValidateProfileItem("Tag_Profile_Custom_Hobby", Num(7), false, custom).ok());
  CHECK(Code(ValidateProfileItem("Tag_Profile_Custom_Other", Str("x"), false, custom)) ==
        kProfileTagUnknown);
  CHECK(Code(ValidateProfileItem("Tag_Profile_Custom_Hobby", Str(std::string(501, 'x')), false,
                                 custom)) == kProfileValueTooLong);
  Value list;
  list.mutable_list_value();
  CHECK(Code(ValidateProfileItem("Tag_Profile_Custom_Hobby", list, false, custom)) ==
        kProfileValueWrongType);
}

TEST_CASE("friend items, custom keys and AddSource", "[relationship]") {
  std::set<std::string> custom = {"Level"};
  CHECK(ValidateSnsItem("Tag_SNS_IM_Remark", Str("bestie"), custom).ok());
  CHECK(Code(ValidateSnsItem("Tag_SNS_IM_Remark", Str(std::string(97, 'r')), custom)) ==
        kSnsBadParam);
  Value groups;
  for (int i = 0; i < 33; ++i) *groups.mutable_list_value()->add_values() = Str("g" + std::to_string(i));
  CHECK(Code(ValidateSnsItem("Tag_SNS_IM_Group", groups, custom)) == kFriendGroupLimit);
  CHECK(Code(ValidateSnsItem("Tag_SNS_IM_AddTime", Num(1), custom)) == kSnsBadParam);
  CHECK(ValidateSnsItem("Tag_SNS_Custom_Level", Num(2), custom).ok());
  CHECK(Code(ValidateSnsItem("Tag_SNS_Custom_Nope", Num(2), custom)) == kSnsBadParam);
  CHECK(ValidCustomKey("Hobby"));
  CHECK_FALSE(ValidCustomKey("TooLongKey"));
  CHECK_FALSE(ValidCustomKey(""));
  CHECK(ValidAddSource("AddSource_Type_Android"));
  CHECK_FALSE(ValidAddSource("AddSource_Type_"));
  CHECK_FALSE(ValidAddSource("AddSource_Type_Android9"));
  CHECK_FALSE(ValidAddSource("Android"));
}

TEST_CASE("send permission codes", "[relationship]") {
  using parley::message::SendPermission;
  parley::v1::CheckSendPermissionResponse f;
  CHECK(SendPermission::Code(f, false) == 0);  // no policy: strangers may talk
  f.set_recipient_blocked_sender(true);
  CHECK(SendPermission::Code(f, false) == 20007);
  f.set_admin_send_any(true);
  CHECK(SendPermission::Code(f, true) == 0);   // the backend may send to anyone
  CHECK(SendPermission::Code(f, false) == 20007);
  f.set_admin_send_any(false);
  CHECK(SendPermission::Code(f, true) == 20007);
  f.set_recipient_blocked_sender(false);
  f.set_check_friendship(true);
  CHECK(SendPermission::Code(f, false) == 20009);
  f.set_sender_has_recipient(true);
  CHECK(SendPermission::Code(f, false) == 20010);
  f.set_sender_has_recipient(false);
  f.set_recipient_has_sender(true);
  CHECK(SendPermission::Code(f, false) == 20011);
  f.set_sender_has_recipient(true);
  CHECK(SendPermission::Code(f, false) == 0);
}

TEST_CASE("friend-list names from a string or a list", "[relationship]") {
  CHECK(GroupNames(Str("work")) == std::vector<std::string>{"work"});
  CHECK(GroupNames(Str("")).empty());
  Value list;
  *list.mutable_list_value()->add_values() = Str("a");
  *list.mutable_list_value()->add_values() = Str("");
  list.mutable_list_value()->add_values()->set_number_value(3);
  *list.mutable_list_value()->add_values() = Str("b");
  CHECK(GroupNames(list) == std::vector<std::string>{"a", "b"});
  Value number;
  number.set_number_value(1);
  CHECK(GroupNames(number).empty());

  CHECK(ValidGroupNames({std::string(30, 'x')}));
  CHECK_FALSE(ValidGroupNames({std::string(31, 'x')}));
  CHECK(ValidGroupNames(std::vector<std::string>(32, "g")));
  CHECK_FALSE(ValidGroupNames(std::vector<std::string>(33, "g")));
  CHECK(std::string(AddInfo(kFriendGroupLimit)) == "at most 32 friend lists");
  CHECK(std::string(AddInfo(0)).empty());
}

TEST_CASE("what a Sns before-callback answer refuses", "[relationship]") {
  auto refused = CallbackRefusals(
      R"({"ActionStatus":"OK","ErrorCode":0,"ResultItem":[
          {"To_Account":"a","ResultCode":38005,"ResultInfo":"not now"},
          {"To_Account":"b","ResultCode":0},
          {"To_Account":"c","ResultCode":12345},
          {"To_Account":"d","ResultCode":"38001"},
          {"To_Account":7,"ResultCode":38001},
          {"To_Account":"e","ResultCode":38001,"ResultInfo":5},
          "junk"]})");
  REQUIRE(refused.size() == 3);
  CHECK(refused["a"].code == 38005);
  CHECK(refused["a"].info == "not now");
  CHECK(refused["c"].code == 38000);  // outside the backend's range
  CHECK(refused["e"].code == 38001);
  CHECK(refused["e"].info == "refused by the app's callback");
  CHECK(CallbackRefusals("not json").empty());
  CHECK(CallbackRefusals(R"({"ResultItem":{}})").empty());
  CHECK(CallbackRefusals("[]").empty());
  CHECK(CallbackCode(39000) == 39000);
  CHECK(CallbackCode(39001) == 38000);
  CHECK(CallbackCode(-1) == 38000);
}
