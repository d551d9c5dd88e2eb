// MessageStore and BatchWriter on real PostgreSQL: the timeline guarantees.
#include <catch2/catch.hpp>
#include <future>
#include <limits>
#include <thread>

#include "batch_writer.h"
#include "handoff.h"
#include "message_store.h"
#include "send_sql.h"
#include "parley/pg/migrations.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace parley::pg {
const std::vector<Migration>& message_migrations();
}

using namespace parley;

namespace {

struct Fixture {
  std::unique_ptr<pg::Pool> pool;
  std::unique_ptr<message::MessageStore> store;
  uint64_t app = testing::RandomSdkAppId();

  Fixture() {
    auto p = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 4});
    REQUIRE(p.ok());
    pool = std::move(*p);
    REQUIRE(pg::ApplyMigrations(*pool, "message", pg::message_migrations()).ok());
    store = std::make_unique<message::MessageStore>(pool.get());
  }

  message::SendJob Job(const std::string& from, const std::string& to, const std::string& dedup,
                       uint32_t random) {
    message::SendJob job;
    job.sdkappid = app;
    job.from = from;
    job.to = to;
    job.dedup_key = dedup;
    job.random = random;
    job.time = 1700000000;
    job.body_json = R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}])";
    return job;
  }

  std::vector<uint64_t> Seqs(const std::string& user) {
    auto seqs = pool->Query<std::vector<uint64_t>>(
        [&](pqxx::connection& c) -> absl::StatusOr<std::vector<uint64_t>> {
          pqxx::nontransaction tx(c);
          std::vector<uint64_t> out;
          for (const auto& row : tx.exec_params(
                   "SELECT seq FROM timeline WHERE sdkappid = $1 AND user_id = $2 ORDER BY seq",
                   app, user)) {
            out.push_back(row[0].as<uint64_t>());
          }
          return out;
        });
    REQUIRE(seqs.ok());
    return *seqs;
  }
};

}  // namespace

TEST_CASE("concurrent group commits give every user a gapless timeline", "[message]") {
  Fixture f;
  message::BatchWriter writer(f.store.get(), 64);
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"a", "b"}, {"b", "a"}, {"a", "c"}, {"c", "b"}, {"b", "b"}};
  std::vector<std::thread> senders;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const auto& [from, to] = pairs[(t + i) % pairs.size()];
        auto results = writer.Submit({f.Job(from, to, "", t * 1000 + i)}).get();
        if (!results[0].ok()) ++failures;
      }
    });
  }
  for (auto& s : senders) s.join();
  CHECK(failures == 0);
  size_t total_entries = 0;
  for (const std::string user : {"a", "b", "c"}) {
    auto seqs = f.Seqs(user);
    total_entries += seqs.size();
    for (size_t i = 0; i < seqs.size(); ++i) {
      INFO(user << " position " << i);
      REQUIRE(seqs[i] == i + 1);  // 1, 2, 3, ... with no gap and no repeat
    }
  }
  // 320 messages, each in two timelines except the 64 self-sends (b -> b).
  CHECK(total_entries == 320 * 2 - 64);
  auto sync = f.store->Sync(f.app, "a", 0, 1000);
  REQUIRE(sync.ok());
  CHECK(sync->complete());
  CHECK(sync->max_seq() == f.Seqs("a").size());
}

TEST_CASE("racing retries of one message store it once", "[message]") {
  Fixture f;
  message::BatchWriter writer(f.store.get(), 64);
  std::vector<std::future<std::vector<absl::StatusOr<message::SendResult>>>> tries;
  for (int i = 0; i < 6; ++i) tries.push_back(writer.Submit({f.Job("a", "b", "c:same", 7)}));
  std::set<std::string> keys;
  int originals = 0;
  for (auto& t : tries) {
    auto results = t.get();
    REQUIRE(results[0].ok());
    keys.insert(results[0]->msg_key);
    if (!results[0]->duplicate) ++originals;
  }
  CHECK(keys.size() == 1);
  CHECK(originals == 1);
  CHECK(f.Seqs("b").size() == 1);

  SECTION("in one batch too") {
    auto results = f.store->SendBatch({f.Job("a", "c", "c:x", 1), f.Job("a", "c", "c:x", 1)});
    REQUIRE(results.size() == 2);
    CHECK_FALSE(results[0]->duplicate);
    CHECK(results[1]->duplicate);
    CHECK(results[1]->msg_key == results[0]->msg_key);
  }
}

TEST_CASE("a key taken by a concurrent batch (another replica) is answered with its ack",
          "[message]") {
  Fixture f;
  // Replica 1 has stored the message but not committed yet.
  auto first = pqxx::connection(testing::RequireEnv("PARLEY_TEST_PG_URL"));
  pqxx::work held(first);
  message::SendResult original = message::WriteMany(held, {f.Job("a", "b", "c:raced", 9)})[0];
  // Replica 2's batch doesn't see that key yet, so it writes set-based and
  // must wait for replica 1 where the two collide.
  auto second = std::async(std::launch::async, [&] {
    return f.store->SendBatch({f.Job("a", "b", "c:raced", 9), f.Job("a", "b", "c:other", 10)});
  });
  CHECK(second.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  held.commit();
  auto results = second.get();
  REQUIRE(results.size() == 2);
  REQUIRE(results[0].ok());
  CHECK(results[0]->duplicate);
  CHECK(results[0]->msg_key == original.msg_key);
  CHECK(results[0]->sender_seq == original.sender_seq);
  REQUIRE(results[1].ok());
  CHECK_FALSE(results[1]->duplicate);
  // Stored once each: gapless, no trace of the rolled-back attempt.
  CHECK(f.Seqs("b") == std::vector<uint64_t>{1, 2});
  CHECK(f.Seqs("a") == std::vector<uint64_t>{1, 2});
}

TEST_CASE("sync pages in order and reports completeness", "[message]") {
  Fixture f;
  for (uint32_t i = 0; i < 5; ++i) REQUIRE(f.store->SendBatch({f.Job("a", "b", "", i)})[0].ok());
  auto first = f.store->Sync(f.app, "b", 0, 3);
  REQUIRE(first.ok());
  CHECK(first->events_size() == 3);
  CHECK_FALSE(first->complete());
  auto rest = f.store->Sync(f.app, "b", 3, 3);
  REQUIRE(rest.ok());
  CHECK(rest->events_size() == 2);
  CHECK(rest->events(1).seq() == 5);
  CHECK(rest->events(1).message().from_account() == "a");
  CHECK(rest->complete());

  // At or past the head (a login asks for the head only): nothing to read.
  for (uint64_t after : {uint64_t{5}, uint64_t{std::numeric_limits<int64_t>::max()}}) {
    auto at_head = f.store->Sync(f.app, "b", after, 3);
    REQUIRE(at_head.ok());
    CHECK(at_head->events_size() == 0);
    CHECK(at_head->max_seq() == 5);
    CHECK(at_head->complete());
  }
  // Heads of several apps' users in one read, in order; 0 for no timeline.
  auto heads = f.store->TimelineHeads({{f.app, "b"}, {f.app, "nobody"}, {f.app + 1, "b"},
                                       {f.app, "a"}});
  REQUIRE(heads.ok());
  CHECK(*heads == std::vector<uint64_t>{5, 0, 0, 5});
}

namespace {

// Everything a send leaves in PostgreSQL for one app, as comparable text.
std::vector<std::string> StoredState(pg::Pool& pool, uint64_t app) {
  auto state = pool.Query<std::vector<std::string>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<std::string>> {
        pqxx::nontransaction tx(c);
        std::vector<std::string> out;
        const char* queries[] = {
            "SELECT 'timeline', user_id, seq, peer, msg_key FROM timeline WHERE sdkappid = $1"
            " ORDER BY 2, 3",
            "SELECT 'head', user_id, last_seq FROM timeline_heads WHERE sdkappid = $1 ORDER BY 2",
            "SELECT 'conversation', owner, peer, last_msg_key, unread FROM conversations"
            " WHERE sdkappid = $1 ORDER BY 2, 3",
            "SELECT 'message', msg_key, from_account, to_account, msg_seq, body::text,"
            " cloud_custom_data, coalesce(offline_push_info::text, '-'), client_msg_id"
            " FROM c2c_messages WHERE sdkappid = $1 ORDER BY 2",
            "SELECT 'dedup', from_account, to_account, dedup_key, msg_key, msg_seq, sender_seq"
            " FROM c2c_dedup WHERE sdkappid = $1 ORDER BY 2, 3, 4",
            "SELECT 'msgseq', user_a, user_b, last_seq FROM c2c_conversation_seqs"
            " WHERE sdkappid = $1 ORDER BY 2, 3"};
        for (const char* query : queries) {
          for (const auto& row : tx.exec_params(query, app)) {
            std::string line;
            for (const auto& field : row) line += std::string(field.c_str()) + "|";
            out.push_back(line);
          }
        }
        return out;
      });
  REQUIRE(state.ok());
  return *state;
}

}  // namespace

// The set-based batch path (WriteMany) against the per-message PL/pgSQL
// function (WriteOne) as the reference.
TEST_CASE("a batch stores exactly what parley_c2c_send stores one at a time", "[message]") {
  Fixture batched, single;
  auto jobs_for = [](Fixture& f) {
    std::vector<message::SendJob> jobs;
    jobs.push_back(f.Job("a", "b", "r:1", 1));
    jobs.push_back(f.Job("b", "a", "r:2", 2));
    jobs.push_back(f.Job("a", "b", "r:1", 1));  // a retry within the batch
    jobs.push_back(f.Job("a", "b", "r:0", 9));  // a retry of an earlier send
    auto no_last = f.Job("a", "b", "r:3", 3);
    no_last.update_last_message = false;
    jobs.push_back(no_last);
    auto no_unread = f.Job("a", "b", "", 4);
    no_unread.count_unread = false;
    no_unread.cloud_custom_data = "cloud \"quoted\" \\ back";
    no_unread.offline_push_json = R"({"Title":"t"})";
    jobs.push_back(no_unread);
    jobs.push_back(f.Job("b", "b", "r:5", 5));  // to oneself
    auto receiver_only = f.Job("a", "c", "", 6);
    receiver_only.store_for_sender = false;  // SyncOtherMachine 2
    jobs.push_back(receiver_only);
    auto chosen_seq = f.Job("c", "a", "", 7);
    chosen_seq.msg_seq = 42;
    chosen_seq.client_msg_id = "client-7";
    jobs.push_back(chosen_seq);
    auto new_conversation_no_last = f.Job("d", "a", "", 8);
    new_conversation_no_last.update_last_message = false;
    jobs.push_back(new_conversation_no_last);
    jobs.push_back(f.Job("a", "b", "", 10));
    return jobs;
  };
  for (Fixture* f : {&batched, &single}) {
    REQUIRE(f->store->SendBatch({f->Job("a", "b", "r:0", 9), f->Job("c", "d", "", 11)})[0].ok());
  }
  auto batch_results = batched.store->SendBatch(jobs_for(batched));
  std::vector<absl::StatusOr<message::SendResult>> single_results;
  for (const auto& job : jobs_for(single)) {
    single_results.push_back(single.pool->Query<message::SendResult>(
        [&](pqxx::connection& c) -> absl::StatusOr<message::SendResult> {
          pqxx::work tx(c);
          auto result = message::WriteOne(tx, job);
          tx.commit();
          return result;
        }));
  }

  REQUIRE(batch_results.size() == single_results.size());
  for (size_t i = 0; i < batch_results.size(); ++i) {
    INFO("job " << i);
    REQUIRE(batch_results[i].ok());
    REQUIRE(single_results[i].ok());
    CHECK(batch_results[i]->duplicate == single_results[i]->duplicate);
    CHECK(batch_results[i]->msg_key == single_results[i]->msg_key);
    CHECK(batch_results[i]->msg_seq == single_results[i]->msg_seq);
    CHECK(batch_results[i]->sender_seq == single_results[i]->sender_seq);
    CHECK(batch_results[i]->receiver_seq == single_results[i]->receiver_seq);
  }
  CHECK(batch_results[2]->duplicate);
  CHECK(batch_results[3]->duplicate);
  CHECK(StoredState(*batched.pool, batched.app) == StoredState(*single.pool, single.app));
}

TEST_CASE("after-send callbacks are owed with the message, leased once when due, and settled",
          "[message][outbox]") {
  Fixture f;
  auto job = f.Job("alice", "bob", "outbox-1", 11);
  job.after_commands = {"C2C.CallbackAfterSendMsg", "Bot.OnC2CMessage"};
  job.opt_platform = "Web";
  job.client_ip = "10.0.0.7";
  auto plain = f.Job("alice", "bob", "outbox-2", 12);  // the app wants no callback
  auto first = f.store->SendBatch({job, plain});
  REQUIRE(first[0].ok());
  REQUIRE(first[1].ok());
  REQUIRE(first[0]->owed_callback_ids.size() == 2);
  CHECK(first[1]->owed_callback_ids.empty());
  // A retry of a stored message owes nothing more: its first send does.
  auto again = f.store->SendBatch({job});
  REQUIRE(again[0].ok());
  CHECK(again[0]->duplicate);
  CHECK(again[0]->owed_callback_ids.empty());

  auto owed_of_app = [&] {
    auto leased = f.store->LeaseOwedCallbacks(1000, std::chrono::seconds(30));
    REQUIRE(leased.ok());
    std::vector<message::OwedCallback> mine;
    for (auto& o : *leased) {
      if (o.job.sdkappid == f.app) mine.push_back(o);
    }
    return mine;
  };
  CHECK(owed_of_app().empty());  // not due yet: their process is queueing them

  auto make_due = [&] {
    REQUIRE(f.pool
                ->Run([&](pqxx::connection& c) {
                  pqxx::nontransaction tx(c);
                  tx.exec_params("UPDATE c2c_after_outbox SET due_at = now() WHERE sdkappid = $1",
                                 f.app);
                  return absl::OkStatus();
                })
                .ok());
  };
  make_due();
  auto owed = owed_of_app();
  REQUIRE(owed.size() == 2);
  // Ids are random: put the rows in the order of the job's commands.
  if (owed[0].command != "C2C.CallbackAfterSendMsg") std::swap(owed[0], owed[1]);
  CHECK(owed[0].command == "C2C.CallbackAfterSendMsg");
  CHECK(owed[1].command == "Bot.OnC2CMessage");
  CHECK(owed[0].id == first[0]->owed_callback_ids[0]);
  CHECK(owed[1].id == first[0]->owed_callback_ids[1]);
  CHECK(owed[0].message_found);
  CHECK(owed[0].job.from == "alice");
  CHECK(owed[0].job.to == "bob");
  CHECK(owed[0].msg_key == first[0]->msg_key);
  CHECK(owed[0].msg_seq == first[0]->msg_seq);
  CHECK(owed[0].job.random == 11);
  CHECK(owed[0].job.opt_platform == "Web");
  CHECK(owed[0].job.client_ip == "10.0.0.7");
  CHECK(owed[0].job.body_json.find("TIMTextElem") != std::string::npos);
  CHECK(owed_of_app().empty());  // leased: another replica leaves them alone

  REQUIRE(f.store->SettleOwedCallbacks({owed[0].id, owed[1].id}).ok());
  make_due();
  CHECK(owed_of_app().empty());
}

TEST_CASE("a stored batch records its deliveries for push in its transaction and a duplicate none",
          "[message]") {
  Fixture f;
  message::SetHandOffLease(std::chrono::hours(1));  // not due while the test looks
  auto job = [&](const std::string& from, const std::string& to, const std::string& dedup) {
    message::SendJob j = f.Job(from, to, dedup, 1);
    v1::TimelineEvent event;
    event.set_kind(v1::TimelineEvent::KIND_MESSAGE);
    event.mutable_message()->set_from_account(from);
    j.event = event;
    return j;
  };
  REQUIRE(f.store->SendBatch({job("a", "b", "c:first")})[0].ok());
  auto results = f.store->SendBatch({job("a", "b", "c:first"), job("b", "c", "c:second"),
                                     f.Job("c", "a", "", 3)});  // no event: not handed off
  REQUIRE(results.size() == 3);
  CHECK(results[0]->duplicate);
  CHECK(results[0]->deliveries.empty());
  CHECK(results[0]->ticket == nullptr);
  CHECK(results[2]->deliveries.empty());
  REQUIRE(results[1]->ticket != nullptr);
  const auto& stored = *results[1];
  REQUIRE(stored.deliveries.size() == 2);  // c, and b's other sessions
  CHECK(stored.deliveries[0].user_id() == "c");
  CHECK(stored.deliveries[1].user_id() == "b");
  v1::TimelineEvent to_c;
  REQUIRE(to_c.ParseFromString(stored.deliveries[0].event()));
  CHECK(to_c.seq() == stored.receiver_seq);
  CHECK(to_c.peer() == "b");
  CHECK(to_c.msg_key() == stored.msg_key);
  CHECK(to_c.message().msg_seq() == stored.msg_seq);

  auto payload = [&](int64_t id) {
    auto row = f.pool->Query<std::optional<std::string>>(
        [&](pqxx::connection& c) -> absl::StatusOr<std::optional<std::string>> {
          pqxx::nontransaction tx(c);
          auto rows = tx.exec_params("SELECT payload FROM delivery_outbox WHERE id = $1", id);
          if (rows.empty()) return std::nullopt;
          return pqxx::binarystring(rows[0][0]).str();
        });
    REQUIRE(row.ok());
    return *row;
  };
  int64_t id = stored.ticket->id;
  CHECK(stored.ticket->remaining == 2);
  auto recorded = payload(id);
  REQUIRE(recorded.has_value());
  v1::HandOff handoff;
  REQUIRE(handoff.ParseFromString(*recorded));
  REQUIRE(handoff.items_size() == 2);
  CHECK(handoff.items(0).sdkappid() == f.app);
  CHECK(handoff.items(0).delivery().SerializeAsString() == stored.deliveries[0].SerializeAsString());
  CHECK(handoff.items(1).delivery().user_id() == "b");

  // Not due within the lease; settled, the row is gone.
  message::HandOffStore outbox(f.pool.get());
  auto due = outbox.Lease(1000, std::chrono::seconds(60));
  REQUIRE(due.ok());
  for (const auto& row : *due) CHECK(row.id != id);
  REQUIRE(outbox.Settle({id}).ok());
  CHECK_FALSE(payload(id).has_value());
  message::SetHandOffLease(std::chrono::seconds(30));
}

TEST_CASE("owed hand-offs are leased once per lease and only by replicas of their push target",
          "[message]") {
  Fixture f;
  // A scope of this test's own: no other process leases its rows.
  std::string scope = "test-push-" + std::to_string(f.app);
  message::SetHandOffScope(scope);
  message::SetHandOffLease(std::chrono::milliseconds(0));  // due at once
  message::SendJob job = f.Job("a", "b", "c:owed", 1);
  job.event = v1::TimelineEvent();
  auto results = f.store->SendBatch({job});
  REQUIRE(results[0].ok());
  REQUIRE(results[0]->ticket != nullptr);
  int64_t id = results[0]->ticket->id;
  message::HandOffStore outbox(f.pool.get());
  auto mine = [&] {
    auto due = outbox.Lease(1000, std::chrono::seconds(60));
    REQUIRE(due.ok());
    std::vector<message::OwedHandOff> out;
    for (auto& row : *due) {
      if (row.id == id) out.push_back(row);
    }
    return out;
  };

  message::SetHandOffScope(scope + "-elsewhere");  // another deployment's replicas
  CHECK(mine().empty());
  message::SetHandOffScope(scope);
  auto leased = mine();
  REQUIRE(leased.size() == 1);
  REQUIRE(leased[0].handoff.items_size() == 2);  // b, and a's other sessions
  CHECK(leased[0].handoff.items(0).delivery().user_id() == "b");
  CHECK(mine().empty());  // leased for 60 s: no other replica takes it meanwhile
  REQUIRE(outbox.Settle({id}).ok());
  message::SetHandOffScope("");
  message::SetHandOffLease(std::chrono::seconds(30));
}
