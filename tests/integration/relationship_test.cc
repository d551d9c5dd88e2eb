// RelationshipLogic on real PostgreSQL, and the message service's cached
// send permissions against it over an in-process gRPC channel.
#include <grpcpp/grpcpp.h>

#include <catch2/catch.hpp>
#include <future>
#include <mutex>

#include "parley/errors/errors.h"
#include "parley/pg/migrations.h"
#include "relationship_service.h"
#include "relationship_rules.h"
#include "send_permission.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace parley::pg {
const std::vector<Migration>& relationship_migrations();
}

using namespace parley;
using namespace parley::relationship;

namespace {

// Records what the logic announces.
class RecordingNotifier : public Notifier {
 public:
  void RelationsChanged(uint64_t, const std::set<std::string>& users) override {
    std::lock_guard lock(mu);
    changed.insert(users.begin(), users.end());
  }
  void SettingsChanged(uint64_t) override { ++settings_changes; }
  void Tell(uint64_t, const std::string& user, const std::string& change,
            const std::vector<std::string>& accounts) override {
    std::lock_guard lock(mu);
    tells.push_back(user + " " + change + " " + (accounts.empty() ? "" : accounts[0]));
  }
  bool Told(const std::string& what) {
    std::lock_guard lock(mu);
    return std::find(tells.begin(), tells.end(), what) != tells.end();
  }
  std::mutex mu;
  std::set<std::string> changed;
  std::vector<std::string> tells;
  int settings_changes = 0;
};

struct Fixture {
  std::unique_ptr<pg::Pool> pool;
  RecordingNotifier notifier;
  std::unique_ptr<RelationshipLogic> logic;
  uint64_t app = testing::RandomSdkAppId();
  int64_t now = 1700000000;

  Fixture() {
    auto p = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 8});
    REQUIRE(p.ok());
    pool = std::move(*p);
    REQUIRE(pg::ApplyMigrations(*pool, "relationship", pg::relationship_migrations()).ok());
    // Accounts starting with "ghost" are not imported.
    logic = std::make_unique<RelationshipLogic>(
        pool.get(),
        [](uint64_t, const std::vector<std::string>& users) -> absl::StatusOr<std::set<std::string>> {
          std::set<std::string> out;
          for (const auto& u : users) {
            if (u.rfind("ghost", 0) != 0) out.insert(u);
          }
          return out;
        },
        &notifier, [this] { return now; });
  }

  rpc::Caller Admin() const { return {app, "administrator", true}; }
  rpc::Caller Service() const { return rpc::ServiceCaller(app, "parley-message"); }
  rpc::Caller User(const std::string& id) const { return {app, id, false}; }

  void SetAllowType(const std::string& user, const std::string& allow) {
    v1::PortraitSetRequest set;
    set.set_from_account(user);
    auto* item = set.add_profile_item();
    item->set_tag("Tag_Profile_IM_AllowType");
    item->mutable_value()->set_string_value(allow);
    REQUIRE(logic->PortraitSet(Admin(), set).ok());
  }

  // friend_add from `from` to `to`; returns the item's ResultCode.
  int32_t Add(const std::string& from, const std::string& to, bool both = true,
              bool force = false) {
    v1::FriendAddRequest add;
    add.set_from_account(from);
    add.add_add_friend_item()->set_to_account(to);
    add.set_add_type(both ? "Add_Type_Both" : "Add_Type_Single");
    add.set_force_add_flags(force ? 1 : 0);
    auto result = logic->FriendAdd(Admin(), add);
    REQUIRE(result.ok());
    REQUIRE(result->result_item_size() == 1);
    return result->result_item(0).result_code();
  }

  std::string Relation(const std::string& a, const std::string& b) {
    v1::FriendCheckRequest check;
    check.set_from_account(a);
    check.add_to_account(b);
    auto result = logic->FriendCheck(Admin(), check);
    REQUIRE(result.ok());
    return result->info_item(0).relation();
  }
};

}  // namespace

TEST_CASE("friend requests: AllowType, pending, accept and reject", "[relationship]") {
  Fixture f;
  f.SetAllowType("open", "AllowType_Type_AllowAny");
  f.SetAllowType("closed", "AllowType_Type_DenyAny");

  CHECK(f.Add("alice", "open") == 0);
  CHECK(f.Relation("alice", "open") == "CheckResult_Type_BothWay");
  CHECK(f.notifier.changed.count("alice"));
  CHECK(f.notifier.changed.count("open"));
  CHECK(f.notifier.Told("open friend_added alice"));

  CHECK(f.Add("alice", "closed") == kTargetDeniesAll);
  CHECK(f.Relation("alice", "closed") == "CheckResult_Type_NoRelation");
  CHECK(f.Add("alice", "closed", true, /*force=*/true) == 0);

  // NeedConfirm (the default): pending until bob answers.
  CHECK(f.Add("alice", "bob", /*both=*/false) == kAddedAsPending);
  CHECK(f.Relation("alice", "bob") == "CheckResult_Type_NoRelation");
  CHECK(f.notifier.Told("bob request_received alice"));
  v1::PendencyGetRequest get;
  get.set_from_account("bob");
  auto pending = f.logic->PendencyGet(f.Admin(), get);
  REQUIRE(pending.ok());
  REQUIRE(pending->pendency_item_size() == 1);
  CHECK(pending->pendency_item(0).to_account() == "alice");
  CHECK(pending->pendency_item(0).pendency_type() == "Pendency_Type_ComeIn");
  CHECK(pending->unread_pendency_count() == 1);
  v1::PendencyReportRequest report;
  report.set_from_account("bob");
  REQUIRE(f.logic->PendencyReport(f.Admin(), report).ok());
  CHECK(f.logic->PendencyGet(f.Admin(), get)->unread_pendency_count() == 0);

  v1::PendencyResponseRequest accept;
  accept.set_from_account("bob");
  auto* item = accept.add_response_friend_item();
  item->set_to_account("alice");
  item->set_response_action("Response_Action_Agree");
  auto accepted = f.logic->PendencyResponse(f.Admin(), accept);
  REQUIRE(accepted.ok());
  CHECK(accepted->result_item(0).result_code() == 0);
  CHECK(f.Relation("alice", "bob") == "CheckResult_Type_AWithB");  // a single-way request
  // Answering twice: the request is gone.
  CHECK(f.logic->PendencyResponse(f.Admin(), accept)->result_item(0).result_code() ==
        kRequestNotFound);

  CHECK(f.Add("carol", "bob") == kAddedAsPending);
  item->set_to_account("carol");
  item->set_response_action("Response_Action_Reject");
  CHECK(f.logic->PendencyResponse(f.Admin(), accept)->result_item(0).result_code() == 0);
  CHECK(f.Relation("carol", "bob") == "CheckResult_Type_NoRelation");

  CHECK(f.Add("dave", "bob") == kAddedAsPending);
  v1::PendencyDeleteRequest del;
  del.set_from_account("dave");
  del.set_pendency_type("Pendency_Type_SendOut");
  del.add_to_account("bob");
  CHECK(f.logic->PendencyDelete(f.Admin(), del)->result_item(0).result_code() == 0);
  CHECK(f.logic->PendencyDelete(f.Admin(), del)->result_item(0).result_code() ==
        kPendingItemNotFound);
}

TEST_CASE("friend caps hold under concurrent adds", "[relationship]") {
  Fixture f;
  v1::RelationshipSettings settings;
  settings.set_sdkappid(f.app);
  settings.set_friend_limit(5);
  REQUIRE(f.logic->UpdateSettings(settings).ok());
  CHECK(f.notifier.settings_changes == 1);
  std::vector<std::string> targets;
  for (int i = 0; i < 12; ++i) {
    targets.push_back("t" + std::to_string(i));
    f.SetAllowType(targets.back(), "AllowType_Type_AllowAny");
  }
  std::vector<std::future<int32_t>> adds;
  for (const auto& t : targets) {
    adds.push_back(std::async(std::launch::async, [&f, t] { return f.Add("hub", t); }));
  }
  int ok = 0, full = 0;
  for (auto& a : adds) {
    int32_t code = a.get();
    ok += code == 0;
    full += code == kOwnFriendListFull;
  }
  CHECK(ok == 5);
  CHECK(full == 7);
  v1::FriendGetRequest get;
  get.set_from_account("hub");
  auto friends = f.logic->FriendGet(f.Admin(), get);
  REQUIRE(friends.ok());
  CHECK(friends->friend_num() == 5);
  CHECK(friends->complete_flag() == 1);
  // Sequences let a client skip an unchanged list.
  get.set_standard_sequence(friends->standard_sequence());
  CHECK(f.logic->FriendGet(f.Admin(), get)->user_data_item_size() == 0);
}

TEST_CASE("blocking ends friendship and refuses requests", "[relationship]") {
  Fixture f;
  f.SetAllowType("bob", "AllowType_Type_AllowAny");
  f.SetAllowType("alice", "AllowType_Type_AllowAny");
  REQUIRE(f.Add("alice", "bob") == 0);
  v1::BlackListChangeRequest block;
  block.set_from_account("bob");
  block.add_to_account("alice");
  block.add_to_account("ghost1");
  auto blocked = f.logic->BlackListAdd(f.Admin(), block);
  REQUIRE(blocked.ok());
  CHECK(blocked->result_item(0).result_code() == kSnsNotImported);  // ghost1 first: per item
  CHECK(blocked->fail_account(0) == "ghost1");
  CHECK(f.Relation("alice", "bob") == "CheckResult_Type_NoRelation");
  CHECK(f.Add("alice", "bob") == kYouInTargetsBlocklist);
  CHECK(f.Add("bob", "alice") == kTargetInYourBlocklist);

  v1::BlackListCheckRequest check;
  check.set_from_account("alice");
  check.add_to_account("bob");
  CHECK(f.logic->BlackListCheck(f.Admin(), check)->black_list_check_item(0).relation() ==
        "BlackCheckResult_Type_BWithA");
  v1::CheckSendPermissionRequest permission;
  permission.set_from_account("alice");
  permission.set_to_account("bob");
  CHECK(f.logic->CheckSendPermission(f.Service(), permission)->recipient_blocked_sender());
  // Internal only: an app admin (or a user) does not read send permissions.
  CHECK(f.logic->CheckSendPermission(f.Admin(), permission).status().code() ==
        absl::StatusCode::kFailedPrecondition);

  v1::BlackListGetRequest list;
  list.set_from_account("bob");
  auto got = f.logic->BlackListGet(f.Admin(), list);
  REQUIRE(got.ok());
  REQUIRE(got->black_list_item_size() == 1);
  CHECK(got->black_list_item(0).to_account() == "alice");
  CHECK(got->black_list_item(0).add_black_time_stamp() == f.now);
  CHECK(got->start_index() == 0);

  REQUIRE(f.logic->BlackListDelete(f.Admin(), block).ok());
  CHECK_FALSE(f.logic->CheckSendPermission(f.Service(), permission)->recipient_blocked_sender());
  CHECK(f.Add("alice", "bob") == 0);
}

TEST_CASE("profiles: validation changes nothing, users act for themselves", "[relationship]") {
  Fixture f;
  v1::RelationshipSettings settings;
  settings.set_sdkappid(f.app);
  settings.add_profile_custom_tags("Hobby");
  REQUIRE(f.logic->UpdateSettings(settings).ok());

  v1::PortraitSetRequest set;
  set.set_from_account("someone_else");  // ignored for a user: they set their own
  auto add = [&](const char* tag, const std::string& value) {
    auto* item = set.add_profile_item();
    item->set_tag(tag);
    item->mutable_value()->set_string_value(value);
  };
  add("Tag_Profile_IM_Nick", "Ann");
  add("Tag_Profile_Custom_Hobby", "chess");
  REQUIRE(f.logic->PortraitSet(f.User("ann"), set).ok());
  add("Tag_Profile_IM_Gender", "Robot");  // one bad item: nothing of this call is kept
  set.mutable_profile_item(0)->mutable_value()->set_string_value("Changed");
  auto bad = f.logic->PortraitSet(f.User("ann"), set);
  CHECK(errors::TencentCode(bad.status(), 0) == kProfileValueInvalid);

  v1::PortraitGetRequest get;
  get.add_to_account("ann");
  get.add_to_account("someone_else");
  get.add_to_account("ghost2");
  get.add_tag_list("Tag_Profile_IM_Nick");
  get.add_tag_list("Tag_Profile_Custom_Hobby");
  auto got = f.logic->PortraitGet(f.User("bob"), get);
  REQUIRE(got.ok());
  REQUIRE(got->user_profile_item_size() == 3);
  REQUIRE(got->user_profile_item(0).profile_item_size() == 2);
  CHECK(got->user_profile_item(0).profile_item(0).value().string_value() == "Ann");
  CHECK(got->user_profile_item(0).profile_item(1).value().string_value() == "chess");
  CHECK(got->user_profile_item(1).profile_item_size() == 0);
  CHECK(got->user_profile_item(2).result_code() == kProfileNotImported);
  CHECK(got->fail_account(0) == "ghost2");
}

TEST_CASE("friend lists, updates and deletes", "[relationship]") {
  Fixture f;
  for (const char* u : {"b", "c"}) f.SetAllowType(u, "AllowType_Type_AllowAny");
  REQUIRE(f.Add("a", "b") == 0);
  REQUIRE(f.Add("a", "c", false) == 0);

  v1::GroupAddRequest group;
  group.set_from_account("a");
  group.add_group_name("work");
  group.add_to_account("b");
  group.add_to_account("zed");
  auto added = f.logic->GroupAdd(f.Admin(), group);
  REQUIRE(added.ok());
  CHECK(added->result_item(1).result_code() == kNotFriends);
  v1::GroupGetRequest get;
  get.set_from_account("a");
  get.set_need_friend("Need_Friend_Type_Yes");
  auto groups = f.logic->GroupGet(f.Admin(), get);
  REQUIRE(groups.ok());
  REQUIRE(groups->result_item_size() == 1);
  CHECK(groups->result_item(0).friend_number() == 1);
  CHECK(groups->result_item(0).to_account(0) == "b");

  v1::FriendUpdateRequest update;
  update.set_from_account("a");
  auto* item = update.add_update_item();
  item->set_to_account("c");
  auto* remark = item->add_sns_item();
  remark->set_tag("Tag_SNS_IM_Remark");
  remark->mutable_value()->set_string_value("Cee");
  REQUIRE(f.logic->FriendUpdate(f.Admin(), update)->result_item(0).result_code() == 0);
  item->set_to_account("zed");
  CHECK(f.logic->FriendUpdate(f.Admin(), update)->result_item(0).result_code() == kNotFriends);

  v1::FriendGetListRequest list;
  list.set_from_account("a");
  list.add_to_account("c");
  list.add_tag_list("Tag_SNS_IM_Remark");
  auto got = f.logic->FriendGetList(f.Admin(), list);
  REQUIRE(got.ok());
  REQUIRE(got->info_item(0).sns_profile_item_size() == 1);
  CHECK(got->info_item(0).sns_profile_item(0).value().string_value() == "Cee");

  // An item that fails changes nothing of that friend, not even the parts
  // before the failing one: a new remark with 33 friend lists.
  item->set_to_account("c");
  remark->mutable_value()->set_string_value("Not kept");
  auto* lists = item->add_sns_item();
  lists->set_tag("Tag_SNS_IM_Group");
  for (int i = 0; i < 33; ++i) {
    lists->mutable_value()->mutable_list_value()->add_values()->set_string_value(
        "list" + std::to_string(i));
  }
  CHECK(f.logic->FriendUpdate(f.Admin(), update)->result_item(0).result_code() ==
        kFriendGroupLimit);
  CHECK(f.logic->FriendGetList(f.Admin(), list)->info_item(0).sns_profile_item(0).value()
            .string_value() == "Cee");
  CHECK(f.logic->GroupGet(f.Admin(), get)->result_item_size() == 1);  // still only "work"

  v1::GroupDeleteRequest drop;
  drop.set_from_account("a");
  drop.add_group_name("work");
  REQUIRE(f.logic->GroupDelete(f.Admin(), drop).ok());
  CHECK(f.logic->GroupGet(f.Admin(), get)->result_item_size() == 0);

  v1::FriendDeleteRequest del;
  del.set_from_account("a");
  del.add_to_account("b");
  del.set_delete_type("Delete_Type_Single");
  REQUIRE(f.logic->FriendDelete(f.Admin(), del)->result_item(0).result_code() == 0);
  CHECK(f.Relation("a", "b") == "CheckResult_Type_BWithA");
  v1::FriendDeleteAllRequest all;
  all.set_from_account("b");
  REQUIRE(f.logic->FriendDeleteAll(f.Admin(), all).ok());
  CHECK(f.Relation("a", "b") == "CheckResult_Type_NoRelation");
}

TEST_CASE("send permissions are cached until a change is announced", "[relationship]") {
  Fixture f;
  RelationshipGrpcService service(f.logic.get());
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  auto stub = v1::RelationshipService::NewStub(server->InProcessChannel({}));
  bool subscribed = true;
  message::SendPermission permissions(std::move(stub), [&f] { return f.now; },
                                      [&subscribed] { return subscribed; });

  CHECK(*permissions.Check(f.app, "x", "y", false) == 0);
  CHECK(permissions.fetches() == 1);
  CHECK(*permissions.Check(f.app, "x", "y", false) == 0);
  CHECK(permissions.fetches() == 1);  // cached: no round trip

  v1::BlackListChangeRequest block;
  block.set_from_account("y");
  block.add_to_account("x");
  REQUIRE(f.logic->BlackListAdd(f.Admin(), block).ok());
  CHECK(*permissions.Check(f.app, "x", "y", false) == 0);  // not announced yet: stale
  permissions.OnChange("u " + std::to_string(f.app) + " y");
  CHECK(*permissions.Check(f.app, "x", "y", false) == 20007);
  CHECK(permissions.fetches() == 2);

  // Another app's change or another user's leaves the entry alone.
  permissions.OnChange("u " + std::to_string(f.app + 1) + " y");
  permissions.OnChange("u " + std::to_string(f.app) + " z");
  CHECK(*permissions.Check(f.app, "x", "y", false) == 20007);
  CHECK(permissions.fetches() == 2);

  v1::RelationshipSettings settings;
  settings.set_sdkappid(f.app);
  settings.set_check_friendship(true);
  REQUIRE(f.logic->BlackListDelete(f.Admin(), block).ok());
  REQUIRE(f.logic->UpdateSettings(settings).ok());
  permissions.OnChange("a " + std::to_string(f.app));
  CHECK(*permissions.Check(f.app, "x", "y", false) == 20009);
  CHECK(*permissions.Check(f.app, "x", "y", true) == 0);  // admin sends pass by default

  // Without a live subscription nothing is trusted from the cache.
  subscribed = false;
  permissions.InvalidateAll();
  uint64_t before = permissions.fetches();
  (void)permissions.Check(f.app, "x", "y", false);
  (void)permissions.Check(f.app, "x", "y", false);
  CHECK(permissions.fetches() == before + 2);
  server->Shutdown();
}

TEST_CASE("answering several requests at once respects the friend cap", "[relationship]") {
  Fixture f;
  v1::RelationshipSettings settings;
  settings.set_sdkappid(f.app);
  settings.set_friend_limit(1);
  REQUIRE(f.logic->UpdateSettings(settings).ok());
  REQUIRE(f.Add("r1", "boss") == kAddedAsPending);
  REQUIRE(f.Add("r2", "boss") == kAddedAsPending);
  v1::PendencyResponseRequest accept;
  accept.set_from_account("boss");
  for (const char* requester : {"r1", "r2"}) {
    auto* item = accept.add_response_friend_item();
    item->set_to_account(requester);
    item->set_response_action("Response_Action_AgreeAndAdd");
  }
  auto answered = f.logic->PendencyResponse(f.Admin(), accept);
  REQUIRE(answered.ok());
  CHECK(answered->result_item(0).result_code() == 0);
  CHECK(answered->result_item(1).result_code() == kOwnFriendListFull);  // boss is full now
  CHECK(f.Relation("boss", "r1") == "CheckResult_Type_BothWay");
  CHECK(f.Relation("boss", "r2") == "CheckResult_Type_NoRelation");
}
