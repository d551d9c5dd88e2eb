// Live room state in Redis (libs/liveroom): presence with join times,
// pruning of members nobody refreshes, marks, frequency control by
// priority and the last messages.
#include <catch2/catch.hpp>

#include <chrono>

#include "parley/liveroom/liveroom.h"
#include "parley/redis/pool.h"
#include "support/process.h"
#include "support/test_cluster.h"

using namespace parley;
using liveroom::Admission;

namespace {

std::unique_ptr<redis::Pool> Connect() {
  auto options = redis::Pool::ParseAddress(testing::RequireEnv("PARLEY_TEST_REDIS_ADDR"));
  REQUIRE(options.ok());
  auto pool = redis::Pool::Create(*options);
  REQUIRE(pool.ok());
  return std::move(*pool);
}

std::vector<std::string> Users(const std::vector<liveroom::Member>& members) {
  std::vector<std::string> out;
  for (const auto& m : members) out.push_back(m.user_id);
  return out;
}

}  // namespace

TEST_CASE("room presence: joins in order, leaves, and members of a dead gateway pruned",
          "[liveroom]") {
  auto pool = Connect();
  liveroom::Rooms rooms(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  int64_t t = 1'800'000'000'000;
  REQUIRE(rooms.Join(app, "r", {"ann"}, t).ok());
  REQUIRE(rooms.Join(app, "r", {"ben", "cat"}, t + 10).ok());
  CHECK(*rooms.Count(app, "r", t + 20) == 3);
  // Joining again keeps the first join time.
  REQUIRE(rooms.Join(app, "r", {"ann"}, t + 30).ok());
  auto members = rooms.Members(app, "r", 0, 0, 10, t + 40);
  REQUIRE(members.ok());
  CHECK(Users(*members) == std::vector<std::string>{"ann", "ben", "cat"});
  CHECK((*members)[0].join_ms == t);
  // Paged by join time.
  auto page = rooms.Members(app, "r", t, 0, 1, t + 40);
  CHECK(Users(*page) == std::vector<std::string>{"ben"});
  REQUIRE(rooms.Leave(app, "r", {"ben"}).ok());
  CHECK(*rooms.Count(app, "r", t + 50) == 2);
  CHECK(*rooms.Present(app, "r", {"ann", "ben", "cat", "dan"}, t + 50) ==
        std::vector<std::string>{"ann", "cat"});
  // ann's gateway keeps refreshing; cat's died: after kStaleMs cat is gone.
  int64_t later = t + liveroom::kStaleMs + 1000;
  CHECK(*rooms.Refresh(app, "r", {"ann"}, t + liveroom::kStaleMs) == 2);
  CHECK(*rooms.Count(app, "r", later) == 1);
  CHECK(Users(*rooms.Members(app, "r", 0, 0, 10, later)) == std::vector<std::string>{"ann"});
  // A refresh brings back a member another gateway's quit removed.
  REQUIRE(rooms.Leave(app, "r", {"ann"}).ok());
  CHECK(*rooms.Refresh(app, "r", {"ann"}, later + 1) == 1);
  REQUIRE(rooms.Forget(app, "r").ok());
  CHECK(*rooms.Count(app, "r", later + 2) == 0);
}

TEST_CASE("room marks are set, filtered on and removed", "[liveroom]") {
  auto pool = Connect();
  liveroom::Rooms rooms(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  int64_t t = 1'800'000'000'000;
  REQUIRE(rooms.Join(app, "r", {"ann", "ben"}, t).ok());
  REQUIRE(rooms.Mark(app, "r", {{"ann", {1000, 1001}}, {"ben", {1001}}}, true).ok());
  REQUIRE(rooms.Mark(app, "r", {{"ann", {1002}}}, true).ok());
  auto all = *rooms.Members(app, "r", 0, 0, 10, t);
  CHECK(all[0].marks == std::vector<uint32_t>{1000, 1001, 1002});
  CHECK(Users(*rooms.Members(app, "r", 0, 1001, 10, t)) == std::vector<std::string>{"ann", "ben"});
  CHECK(Users(*rooms.Members(app, "r", 0, 1000, 10, t)) == std::vector<std::string>{"ann"});
  REQUIRE(rooms.Mark(app, "r", {{"ann", {1000, 1001, 1002}}}, false).ok());
  CHECK(rooms.Members(app, "r", 0, 0, 10, t)->at(0).marks.empty());
  CHECK(liveroom::SplitMarks("1,x,2,,3") == std::vector<uint32_t>{1, 2, 3});
  REQUIRE(rooms.Forget(app, "r").ok());
}

TEST_CASE("frequency control admits by priority: lower ones never take a higher one's place",
          "[liveroom]") {
  auto pool = Connect();
  liveroom::Rooms rooms(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  int64_t t = 1'800'000'000'000;  // one second's window
  REQUIRE(rooms.Join(app, "r", {"ann"}, t).ok());
  auto admit = [&](char p, bool exempt = false, const std::string& user = "ann") {
    auto a = rooms.Admit(app, "r", user, p, 4, exempt, t + 100);
    REQUIRE(a.ok());
    return *a;
  };
  // A limit of 4: three Low fill most of the second...
  CHECK(admit('l') == Admission::kAdmitted);
  CHECK(admit('l') == Admission::kAdmitted);
  CHECK(admit('l') == Admission::kAdmitted);
  CHECK(admit('l') == Admission::kAdmitted);
  CHECK(admit('l') == Admission::kDropped);
  // ...but Normal and High still have their places.
  CHECK(admit('n') == Admission::kAdmitted);
  CHECK(admit('h') == Admission::kAdmitted);
  CHECK(admit('h') == Admission::kAdmitted);
  CHECK(admit('n') == Admission::kAdmitted);
  CHECK(admit('n') == Admission::kDropped);  // 2 High + 2 Normal
  CHECK(admit('h') == Admission::kAdmitted);
  CHECK(admit('h') == Admission::kAdmitted);
  CHECK(admit('h') == Admission::kDropped);  // 4 High
  // The app's sends always pass, and need no presence.
  CHECK(admit('l', true, "") == Admission::kAdmitted);
  // Someone not in the room is told so.
  CHECK(admit('h', false, "zed") == Admission::kNotInRoom);
  // The next second starts afresh.
  auto next = rooms.Admit(app, "r", "ann", 'l', 4, false, t + 1100);
  CHECK(*next == Admission::kAdmitted);
  REQUIRE(rooms.Forget(app, "r").ok());
}

TEST_CASE("a room keeps its last messages, at most the count asked and 24 hours", "[liveroom]") {
  auto pool = Connect();
  liveroom::Rooms rooms(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  int64_t t = 1'800'000'000'000;
  REQUIRE(rooms.Remember(app, "r", "nothing kept", 0, t).ok());
  CHECK(rooms.Recent(app, "r", 20, t)->empty());
  for (int i = 0; i < 5; ++i) {
    REQUIRE(rooms.Remember(app, "r", std::string("m\n") + std::to_string(i), 3, t + i).ok());
  }
  CHECK(*rooms.Recent(app, "r", 3, t + 10) ==
        std::vector<std::string>{"m\n2", "m\n3", "m\n4"});  // oldest first, bytes intact
  CHECK(*rooms.Recent(app, "r", 2, t + 10) == std::vector<std::string>{"m\n3", "m\n4"});
  CHECK(rooms.Recent(app, "r", 3, t + liveroom::kRecentMs + 10)->empty());
  REQUIRE(rooms.Forget(app, "r").ok());
}
