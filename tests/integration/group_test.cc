// GroupLogic on real PostgreSQL: the guarantees that only hold under
// concurrency (member caps, one membership per user).
#include <catch2/catch.hpp>
#include <future>
#include <set>

#include "group_service.h"
#include "parley/errors/errors.h"
#include "parley/pg/migrations.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace parley::pg {
const std::vector<Migration>& group_migrations();
}

using namespace parley;
using namespace parley::group;

namespace {

struct Fixture {
  std::unique_ptr<pg::Pool> pool;
  std::unique_ptr<GroupLogic> logic;
  uint64_t app = testing::RandomSdkAppId();
  rpc::Caller admin{app, "administrator", true};
  std::atomic<uint64_t> random{1};

  Fixture() {
    auto p = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 8});
    REQUIRE(p.ok());
    pool = std::move(*p);
    REQUIRE(pg::ApplyMigrations(*pool, "group", pg::group_migrations()).ok());
    // Every account exists except those named "ghost*".
    logic = std::make_unique<GroupLogic>(
        pool.get(),
        [](uint64_t, const std::vector<std::string>& users)
            -> absl::StatusOr<std::set<std::string>> {
          std::set<std::string> out;
          for (const auto& u : users) {
            if (u.rfind("ghost", 0) != 0) out.insert(u);
          }
          return out;
        },
        [] { return int64_t{1700000000}; }, [this] { return random++; });
  }

  std::string Create(uint32_t max_members) {
    v1::CreateGroupRequest request;
    request.set_type("Public");
    request.set_name("g");
    request.set_owner_account("owner");
    request.set_max_member_count(max_members);
    auto created = logic->CreateGroup(admin, request);
    REQUIRE(created.ok());
    return created->group_id();
  }

  absl::StatusOr<v1::AddGroupMemberResponse> Add(const std::string& group,
                                                 const std::string& user) {
    v1::AddGroupMemberRequest request;
    request.set_group_id(group);
    request.add_member_list()->set_member_account(user);
    return logic->AddGroupMember(admin, request);
  }

  uint32_t MemberNum(const std::string& group) {
    v1::GetGroupMemberInfoRequest request;
    request.set_group_id(group);
    auto page = logic->GetGroupMemberInfo(admin, request);
    REQUIRE(page.ok());
    CHECK(static_cast<uint32_t>(page->member_list_size()) == page->member_num());
    return page->member_num();
  }
};

}  // namespace

TEST_CASE("concurrent joins never pass MaxMemberCount", "[group]") {
  Fixture f;
  std::string group = f.Create(10);  // the owner and 9 more
  std::vector<std::future<absl::StatusOr<v1::AddGroupMemberResponse>>> adds;
  for (int i = 0; i < 30; ++i) {
    adds.push_back(std::async(std::launch::async,
                              [&, i] { return f.Add(group, "user" + std::to_string(i)); }));
  }
  int added = 0, full = 0;
  for (auto& a : adds) {
    auto result = a.get();
    if (result.ok()) {
      REQUIRE(result->member_list_size() == 1);
      CHECK(result->member_list(0).result() == 1);
      ++added;
    } else {
      CHECK(errors::TencentCode(result.status(), 0) == kGroupFull);
      ++full;
    }
  }
  CHECK(added == 9);
  CHECK(full == 21);
  CHECK(f.MemberNum(group) == 10);
}

TEST_CASE("concurrent adds of one user make one membership", "[group]") {
  Fixture f;
  std::string group = f.Create(100);
  std::vector<std::future<absl::StatusOr<v1::AddGroupMemberResponse>>> adds;
  for (int i = 0; i < 12; ++i) {
    adds.push_back(std::async(std::launch::async, [&] { return f.Add(group, "same"); }));
  }
  std::multiset<uint32_t> results;
  for (auto& a : adds) {
    auto result = a.get();
    REQUIRE(result.ok());
    results.insert(result->member_list(0).result());
  }
  CHECK(results.count(1) == 1);
  CHECK(results.count(2) == 11);
  CHECK(f.MemberNum(group) == 2);
}

TEST_CASE("a failed request changes nothing", "[group]") {
  Fixture f;
  std::string group = f.Create(3);
  // Over the cap as a whole: none of the three is added.
  v1::AddGroupMemberRequest request;
  request.set_group_id(group);
  for (const char* u : {"a", "b", "c"}) request.add_member_list()->set_member_account(u);
  auto refused = f.logic->AddGroupMember(f.admin, request);
  CHECK(errors::TencentCode(refused.status(), 0) == kGroupFull);
  CHECK(f.MemberNum(group) == 1);
  // Removing the owner refuses the whole call, members included.
  REQUIRE(f.Add(group, "a").ok());
  v1::DeleteGroupMemberRequest remove;
  remove.set_group_id(group);
  remove.add_member_to_del_account("a");
  remove.add_member_to_del_account("owner");
  CHECK(errors::TencentCode(f.logic->DeleteGroupMember(f.admin, remove).status(), 0) ==
        kInvalidParam);
  CHECK(f.MemberNum(group) == 2);
}

TEST_CASE("concurrent counter increments and decrements are all counted", "[group]") {
  Fixture f;
  std::string group = f.Create(100);
  auto update = [&](const char* mode, double by) {
    v1::UpdateGroupCounterRequest request;
    request.set_group_id(group);
    request.set_mode(mode);
    auto* c = request.add_group_counter();
    c->set_key("score");
    c->set_value(by);
    return f.logic->UpdateGroupCounter(f.admin, request);
  };
  REQUIRE(update("Set", 1000).ok());
  std::vector<std::future<bool>> calls;
  for (int i = 0; i < 40; ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      return update(i % 4 == 0 ? "Decrease" : "Increase", 3).ok();
    }));
  }
  for (auto& c : calls) CHECK(c.get());
  v1::GroupCounterKeysRequest get;
  get.set_group_id(group);
  get.add_group_counter_keys("score");
  auto got = f.logic->GetGroupCounter(f.admin, get);
  REQUIRE(got.ok());
  REQUIRE(got->group_counter_size() == 1);
  CHECK(got->group_counter(0).value() == 1000 + 30 * 3 - 10 * 3);
}

TEST_CASE("message notes move a group's last message and next seq and the sender's last send, "
          "never back",
          "[group]") {
  Fixture f;
  std::string one = f.Create(100), two = f.Create(100);
  REQUIRE(f.Add(one, "ann").ok());
  auto note = [&](v1::NoteGroupMessagesRequest* request, const std::string& group,
                  const std::string& from, uint64_t seq, int64_t time) {
    auto* n = request->add_notes();
    n->set_group_id(group);
    n->set_from_account(from);
    n->set_msg_seq(seq);
    n->set_msg_time(time);
  };
  v1::NoteGroupMessagesRequest request;
  // Out of order and repeated within one batch: the latest counts.
  note(&request, one, "ann", 7, 1700000100);
  note(&request, one, "ann", 5, 1700000090);
  note(&request, one, "owner", 6, 1700000095);
  note(&request, two, "owner", 3, 1700000050);
  note(&request, "@TGS#nosuch", "owner", 3, 1700000050);  // gone meanwhile: ignored
  rpc::Caller message = rpc::ServiceCaller(f.app, "parley-message");
  CHECK(errors::TencentCode(f.logic->NoteGroupMessages(f.admin, request).status(), 0) == 10007);
  REQUIRE(f.logic->NoteGroupMessages(message, request).ok());
  // An older batch arriving late changes nothing.
  v1::NoteGroupMessagesRequest late;
  note(&late, one, "ann", 2, 1700000010);
  REQUIRE(f.logic->NoteGroupMessages(message, late).ok());

  v1::GetGroupInfoRequest info;
  info.add_group_id_list(one);
  info.add_group_id_list(two);
  auto got = f.logic->GetGroupInfo(f.admin, info);
  REQUIRE(got.ok());
  REQUIRE(got->group_info_size() == 2);
  CHECK(got->group_info(0).last_msg_time() == 1700000100);
  CHECK(got->group_info(0).next_msg_seq() == 8);
  CHECK(got->group_info(1).last_msg_time() == 1700000050);
  CHECK(got->group_info(1).next_msg_seq() == 4);
  std::map<std::string, uint32_t> last_send;
  for (const auto& m : got->group_info(0).member_list()) {
    last_send[m.member_account()] = m.last_send_msg_time();
  }
  CHECK(last_send["ann"] == 1700000100);
  CHECK(last_send["owner"] == 1700000095);
}
