// parley::protojson::Print agrees with protobuf's own JSON printer.
#include <google/protobuf/util/json_util.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "parley/protojson/protojson.h"
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
  event->set_peer("bob \"the\" builder\n\x01");
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
