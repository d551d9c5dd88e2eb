// The gateway's GroupRouter without a cluster: group events in seq order,
// gaps held, tips changing who receives, MsgFlag and targets.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "group_router.h"

using namespace parley;
using parley::gateway::GroupEventFrame;
using parley::gateway::GroupRouter;

namespace {

constexpr uint64_t kApp = 1400000001;

struct Harness {
  std::set<std::string> local = {"ann", "ben"};
  std::map<std::string, std::vector<uint64_t>> seen;  // user -> seqs (0 for seq-less events)
  // user -> (topic, seq) of topic events
  std::map<std::string, std::vector<std::pair<std::string, uint64_t>>> in_topics;
  GroupRouter router{"gw-test", nullptr, nullptr, std::chrono::milliseconds(100),
                     [this](uint64_t, const std::string& user, GroupEventFrame& frame) {
                       if (!frame.event().topic_id().empty()) {
                         in_topics[user].emplace_back(frame.event().topic_id(), frame.event().seq());
                         return;
                       }
                       seen[user].push_back(frame.event().seq());
                     },
                     [this](uint64_t, const std::string& user) { return local.count(user) > 0; }};

  void Push(const v1::GroupEvent& event) { router.OnEntry(kApp, event.SerializeAsString()); }
};

v1::GroupEvent Tip(uint64_t seq, const std::string& type, std::vector<std::string> members,
                   const std::string& detail = "") {
  v1::GroupEvent e;
  e.set_group_id("g");
  e.set_seq(seq);
  e.set_kind(v1::GroupEvent::KIND_TIP);
  e.mutable_tip()->set_type(type);
  for (auto& m : members) e.mutable_tip()->add_member_account(m);
  e.mutable_tip()->set_detail(detail);
  return e;
}

v1::GroupEvent Message(uint64_t seq, const std::string& from = "zed",
                       std::vector<std::string> to = {}) {
  v1::GroupEvent e;
  e.set_group_id("g");
  e.set_seq(seq);
  e.set_kind(v1::GroupEvent::KIND_MESSAGE);
  e.mutable_message()->set_from_account(from);
  for (auto& t : to) e.mutable_message()->add_to_account(t);
  return e;
}

}  // namespace

TEST_CASE("group router: a join tip opens the route, events go out in seq order",
          "[gateway][groupmsg]") {
  Harness h;
  h.Push(Message(4));  // no route yet: nobody here is a member
  h.Push(Tip(5, "MemberJoined", {"ann", "carl"}));  // carl is not on this gateway
  CHECK(h.router.route_count() == 1);
  h.Push(Message(7));  // ahead of a gap: held
  CHECK(h.seen["ann"] == std::vector<uint64_t>{5});
  h.Push(Message(6));  // fills it: 6 then 7
  CHECK(h.seen["ann"] == std::vector<uint64_t>{5, 6, 7});
  h.Push(Message(6));  // a repeat is dropped
  h.Push(Message(3));  // so is anything from before the route
  CHECK(h.seen["ann"] == std::vector<uint64_t>{5, 6, 7});
  CHECK(h.seen["carl"].empty());
}

TEST_CASE("group router: a kicked member gets the kick tip and nothing after it",
          "[gateway][groupmsg]") {
  Harness h;
  h.Push(Tip(1, "GroupCreated", {"ann", "ben"}));
  h.Push(Message(2));
  h.Push(Tip(3, "MemberKicked", {"ben"}));
  h.Push(Message(4));
  CHECK(h.seen["ann"] == std::vector<uint64_t>{1, 2, 3, 4});
  CHECK(h.seen["ben"] == std::vector<uint64_t>{1, 2, 3});
  // The last local member leaving ends the route.
  h.Push(Tip(5, "MemberQuit", {"ann"}));
  CHECK(h.router.route_count() == 0);
  h.Push(Message(6));
  CHECK(h.seen["ann"].back() == 5);
}

TEST_CASE("group router: Discard, targets, silent tips, recalls and disbanding",
          "[gateway][groupmsg]") {
  Harness h;
  h.Push(Tip(1, "GroupCreated", {"ann", "ben"}));
  auto discard = Tip(2, "MsgFlagChanged", {"ben"}, "Discard");
  discard.mutable_tip()->set_silent(true);
  h.Push(discard);
  h.Push(Message(3));                        // ben discards messages
  h.Push(Message(4, "zed", {"ben"}));        // targeted at ben, who discards: nobody
  h.Push(Message(5, "ann", {"ben"}));        // the sender sees her own
  h.Push(Tip(6, "ProfileChanged", {}));      // tips still reach ben
  v1::GroupEvent recall;
  recall.set_group_id("g");
  recall.set_kind(v1::GroupEvent::KIND_RECALL);
  recall.set_target_seq(3);
  h.Push(recall);                            // seq 0: at once
  CHECK(h.seen["ann"] == std::vector<uint64_t>{1, 3, 5, 6, 0});
  CHECK(h.seen["ben"] == std::vector<uint64_t>{1, 6, 0});
  h.Push(Tip(7, "GroupDismissed", {}));
  CHECK(h.router.route_count() == 0);
  CHECK(h.seen["ann"].back() == 7);
}

TEST_CASE("group router: events far ahead are bounded", "[gateway][groupmsg]") {
  Harness h;
  h.Push(Tip(1, "GroupCreated", {"ann"}));
  for (uint64_t seq = 3; seq < 3 + GroupRouter::kMaxAhead + 10; ++seq) h.Push(Message(seq));
  CHECK(h.seen["ann"] == std::vector<uint64_t>{1});  // all held or dropped, none out of order
  h.Push(Message(2));
  // The held ones follow in order; the dropped ones wait for the gap fill.
  REQUIRE(h.seen["ann"].size() == 2 + GroupRouter::kMaxAhead);
  for (size_t i = 0; i < h.seen["ann"].size(); ++i) CHECK(h.seen["ann"][i] == i + 1);
}

TEST_CASE("group router: each Community topic in its own seq order, members from the community",
          "[gateway][groupmsg][topic]") {
  Harness h;
  auto topic_message = [](const std::string& topic, uint64_t seq) {
    v1::GroupEvent e = Message(seq);
    e.set_topic_id(topic);
    return e;
  };
  h.Push(Tip(1, "MemberJoined", {"ann", "ben"}));
  // A route a join opened starts each topic at its first event here.
  h.Push(topic_message("g@TOPIC#_a", 5));
  h.Push(topic_message("g@TOPIC#_a", 7));  // waits for 6
  h.Push(topic_message("g@TOPIC#_b", 3));  // another topic: its own order
  h.Push(topic_message("g@TOPIC#_a", 6));
  h.Push(topic_message("g@TOPIC#_a", 6));  // a repeat: nothing
  using Got = std::vector<std::pair<std::string, uint64_t>>;
  CHECK(h.in_topics["ann"] == Got{{"g@TOPIC#_a", 5}, {"g@TOPIC#_b", 3}, {"g@TOPIC#_a", 6},
                                  {"g@TOPIC#_a", 7}});
  CHECK(h.in_topics["ben"] == h.in_topics["ann"]);
  // A kick in the community's seq holds in every topic.
  h.Push(Tip(2, "MemberKicked", {"ben"}));
  h.Push(topic_message("g@TOPIC#_b", 4));
  CHECK(h.in_topics["ann"].back() == std::pair<std::string, uint64_t>{"g@TOPIC#_b", 4});
  CHECK(h.in_topics["ben"].size() == 4);
  CHECK(h.seen["ben"] == std::vector<uint64_t>{1, 2});
  // A destroyed topic's stream goes; the community's seq goes on.
  v1::GroupEvent destroyed = Tip(3, "TopicDestroyed", {});
  destroyed.mutable_tip()->set_topic_id("g@TOPIC#_a");
  h.Push(destroyed);
  CHECK(h.seen["ann"] == std::vector<uint64_t>{1, 2, 3});
}
