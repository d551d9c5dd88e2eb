// parley::protojson::Print agrees with protobuf's own JSON printer.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "parley/protojson/protojson.h"
#include "parley/v1/auth.pb.h"
#include "parley/v1/message.pb.h"
#include "parley/v1/client.pb.h"
#include "parley/v1/relationship.pb.h"

namespace {

void CheckSame(const google::protobuf::Message& message) {
  for (bool defaults : {false, true}) {
    google::protobuf::util::JsonPrintOptions options;
    options.always_print_primitive_fields = defaults;
    std::string expected;
    REQUIRE(google::protobuf::util::MessageToJsonString(message, &expected, options).ok());
    std::string actual = parley::protojson::Print(message, {defaults});
    INFO("expected " << expected << "\nactual   " << actual);
    auto parsed = nlohmann::json::parse(actual, nullptr, false);
    REQUIRE_FALSE(parsed.is_discarded());
    CHECK(parsed == nlohmann::json::parse(expected));
  }
}

}  // namespace

TEST_CASE("protojson prints what protobuf's JSON mapping prints", "[protojson]") {
  parley::v1::ServerFrame frame;
  frame.set_id("7");
  auto* event = frame.mutable_event();
  event->set_seq(18446744073709551615ULL);  // uint64 as a string
  event->set_kind(parley::v1::TimelineEvent::KIND_MESSAGE);
  event->set_peer("\"bob\" \\the\tbuilder\n\x01");
  auto* m = event->mutable_message();
  m->set_from_account("alice");
  m->set_msg_random(4294967295U);
  REQUIRE(google::protobuf::util::JsonStringToMessage(
              R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":"héllo ✓","N":1.5,"I":19900101,
                  "Big":1e21,"Neg":-0.25,"Null":null,"T":true,"L":[1,"a",{}]}}])",
              m->mutable_msg_body())
              .ok());
  m->mutable_offline_push_info();  // set but empty
  CheckSame(frame);

  parley::v1::RelationshipSettings settings;  // proto3 optional fields
  settings.set_sdkappid(1400000000);
  settings.set_check_friendship(false);
  settings.add_profile_custom_tags("Hobby");
  CheckSame(settings);

  parley::v1::FriendGetResponse friends;
  auto* item = friends.add_user_data_item();
  item->set_to_account("b");
  auto* tag = item->add_value_item();
  tag->set_tag("Tag_SNS_IM_Group");
  tag->mutable_value()->mutable_list_value();
  friends.set_complete_flag(1);
  CheckSame(friends);
  CheckSame(parley::v1::FriendResults());
}

namespace {

// Parses with protojson::Parse and with protobuf's parser; both must accept
// or both refuse, and accepted input must give the same message.
template <class M>
void CheckParsesAlike(const std::string& json, bool ignore_unknown = false) {
  INFO("json: " << json << "  ignore_unknown: " << ignore_unknown);
  M expected, actual;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = ignore_unknown;
  bool expected_ok = google::protobuf::util::JsonStringToMessage(json, &expected, options).ok();
  absl::Status status = parley::protojson::Parse(json, &actual, {ignore_unknown});
  REQUIRE(status.ok() == expected_ok);
  if (!expected_ok) {
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  INFO("expected " << expected.ShortDebugString() << "\nactual   " << actual.ShortDebugString());
  CHECK(google::protobuf::util::MessageDifferencer::Equals(expected, actual));
}

}  // namespace

TEST_CASE("protojson parses what protobuf's JSON mapping parses", "[protojson]") {
  using parley::v1::ClientFrame;
  for (const char* json : {
           R"({"id":"1","login":{"sdkappid":"1400000000","userId":"alice","usersig":"x","platform":"Web","lastSeq":"12"}})",
           R"({"id":"1","login":{"sdkappid":1400000000,"user_id":"alice"}})",
           R"({"id":"m","send":{"to":"bob","clientMsgId":"c1","random":4294967295,"body":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"héllo \"✓\"\n","N":1.5,"Null":null,"L":[1,"a",{},true]}}],"lifeTime":"0","sendMsgControl":["NoUnread"],"offlinePushInfo":{"Title":"t"}}})",
           R"({"id":"s","sync":{"afterSeq":"18446744073709551615","limit":10}})",
           R"({"id":"h","heartbeat":{}})",
           R"({"id":"a","api":{"service":"sns","command":"friend_add","body":{"AddFriendItem":[{"To_Account":"b"}]}}})",
           R"({"id":null,"send":null})",
           R"({"send":{"random":7.0}})",
           R"({"send":{"random":"42"}})",
           R"({})",
           // Refused by both:
           R"({"send":{"random":1.5}})",
           R"({"send":{"random":-1}})",
           R"({"send":{"random":4294967296}})",
           R"({"send":{"random":"x"}})",
           R"({"send":{"to":7}})",
           R"({"send":{"body":{"a":1}}})",
           R"({"send":{"sendMsgControl":"NoUnread"}})",
           R"({"send":{"offlinePushInfo":[1]}})",
           R"({"send":{}, "heartbeat":{}})",
           R"({"nope":1})",
           R"([1,2])",
           R"("frame")",
           R"({"id":"1",)",
           "garbage",
           ""}) {
    CheckParsesAlike<ClientFrame>(json);
  }
  CheckParsesAlike<ClientFrame>(R"({"id":"1","nope":{"x":[1]},"heartbeat":{}})", true);

  using parley::v1::TimelineEvent;
  for (const char* json : {R"({"seq":"5","kind":"KIND_MESSAGE","peer":"p"})",
                           R"({"seq":5,"kind":1})", R"({"kind":"KIND_NOPE"})",
                           R"({"kind":true})"}) {
    CheckParsesAlike<TimelineEvent>(json);
  }
  CheckParsesAlike<TimelineEvent>(R"({"kind":"KIND_NOPE","seq":"2"})", true);

  parley::v1::RelationshipSettings settings;  // proto3 optional and bool fields
  for (const char* json : {R"({"sdkappid":"1","checkFriendship":false,"profileCustomTags":["Hobby"]})",
                           R"({"checkFriendship":"true"})", R"({"checkFriendship":1})"}) {
    CheckParsesAlike<parley::v1::RelationshipSettings>(json);
  }
}

TEST_CASE("protojson parsing replaces what the message held", "[protojson]") {
  parley::v1::SendRequest send;
  REQUIRE(parley::protojson::Parse(R"({"to":"a","body":[{"MsgType":"x"}]})", &send).ok());
  REQUIRE(parley::protojson::Parse(R"({"body":[{"MsgType":"y"}]})", &send).ok());
  CHECK(send.to().empty());
  REQUIRE(send.body().values_size() == 1);
  CHECK(send.body().values(0).struct_value().fields().at("MsgType").string_value() == "y");
}

TEST_CASE("protojson refuses deep nesting instead of overflowing the stack", "[protojson]") {
  auto nested = [](int depth) {
    return std::string(R"({"send":{"body":)") + std::string(depth, '[') + std::string(depth, ']') +
           "}}";
  };
  // Up to kMaxJsonDepth (32) levels, the frame's two objects included.
  CheckParsesAlike<parley::v1::ClientFrame>(nested(30));
  parley::v1::ClientFrame frame;
  for (int depth : {31, 200, 500000}) {  // the last far deeper than any stack would survive
    INFO(depth);
    auto status = parley::protojson::Parse(nested(depth), &frame);
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK(status.message() == "JSON is nested deeper than 32 levels");
  }
  // Brackets inside strings are text, not nesting.
  CHECK_FALSE(parley::protojson::TooDeep(R"({"a":")" + std::string(100, '[') + R"("})"));
  CHECK_FALSE(parley::protojson::TooDeep(R"({"a":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})"));
  CHECK(parley::protojson::TooDeep(std::string(33, '[')));
}

TEST_CASE("protojson finds NUL characters in text fields, outside the fields it is told to skip",
          "[protojson]") {
  parley::v1::SendC2CRequest send;
  send.set_to_account("bob");
  send.mutable_msg_body()->add_values()->set_string_value(std::string("a\0b", 3));
  CHECK(parley::protojson::FindNul(send, {"msg_body"}).empty());
  CHECK(parley::protojson::FindNul(send) == "msg_body.values[0].string_value");
  send.set_cloud_custom_data(std::string("x\0", 2));
  CHECK(parley::protojson::FindNul(send, {"msg_body"}) == "cloud_custom_data");
  parley::v1::AccountsExistRequest exist;
  exist.add_user_ids("fine");
  exist.add_user_ids(std::string("ba\0d", 4));
  CHECK(parley::protojson::FindNul(exist) == "user_ids[1]");
}
