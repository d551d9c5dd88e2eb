// GroupMessageStore on real PostgreSQL: the group seq guarantees that only
// hold under concurrency, with two stores on their own pools standing for
// two message replicas.
#include <catch2/catch.hpp>
#include <future>
#include <set>

#include "group_msg_store.h"
#include "message_store.h"
#include "parley/pg/migrations.h"
#include "support/process.h"
#include "support/test_cluster.h"

namespace parley::pg {
const std::vector<Migration>& message_migrations();
}

using namespace parley;

namespace {

std::unique_ptr<pg::Pool> Pool() {
  auto p = pg::Pool::Create({testing::RequireEnv("PARLEY_TEST_PG_URL"), 4});
  REQUIRE(p.ok());
  REQUIRE(pg::ApplyMigrations(**p, "message", pg::message_migrations()).ok());
  return std::move(*p);
}

message::GroupAppend Message(uint64_t app, const std::string& group, const std::string& from,
                             uint32_t random) {
  message::GroupAppend e;
  e.sdkappid = app;
  e.group_id = group;
  e.group_type = 2;
  e.from = from;
  e.random = random;
  e.time = 1700000000;
  e.body_json = R"([{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}])";
  e.dedup = true;
  return e;
}

message::GroupAppend Tip(uint64_t app, const std::string& group, const std::string& type,
                         std::vector<std::string> joined, std::vector<std::string> left) {
  message::GroupAppend e;
  e.sdkappid = app;
  e.group_id = group;
  e.group_type = 2;
  e.kind = v1::GroupEvent::KIND_TIP;
  e.from = "owner";
  e.time = 1700000000;
  e.body_json = "{\"Type\":\"" + type + "\"}";
  e.counts_unread = false;
  e.joined = std::move(joined);
  e.left = std::move(left);
  return e;
}

}  // namespace

TEST_CASE("group seqs stay gapless and unique under concurrent senders on two replicas",
          "[integration][groupmsg]") {
  auto pool_a = Pool();
  auto pool_b = Pool();
  message::GroupMessageStore replica_a(pool_a.get()), replica_b(pool_b.get());
  uint64_t app = testing::RandomSdkAppId();
  const int kSenders = 8, kEach = 40;
  std::vector<std::future<std::vector<uint64_t>>> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.push_back(std::async(std::launch::async, [&, s] {
      auto& store = s % 2 ? replica_a : replica_b;
      std::vector<uint64_t> seqs;
      for (int i = 0; i < kEach; ++i) {
        auto r = store.Append(Message(app, "busy", "u" + std::to_string(s), 1000 * s + i));
        REQUIRE(r.ok());
        CHECK_FALSE(r->duplicate);
        seqs.push_back(r->seq);
      }
      return seqs;
    }));
  }
  std::set<uint64_t> all;
  for (auto& f : senders) {
    auto seqs = f.get();
    // Each sender's own messages are in the order it sent them.
    CHECK(std::is_sorted(seqs.begin(), seqs.end()));
    all.insert(seqs.begin(), seqs.end());
  }
  REQUIRE(all.size() == static_cast<size_t>(kSenders * kEach));
  CHECK(*all.begin() == 1);
  CHECK(*all.rbegin() == static_cast<uint64_t>(kSenders * kEach));  // no gap, no repeat
  auto head = replica_a.Head(app, "busy");
  REQUIRE(head.ok());
  CHECK(head->first == static_cast<uint64_t>(kSenders * kEach));
  auto range = replica_b.Range(app, "busy", 1, 1000, 1000, "");
  REQUIRE(range.ok());
  REQUIRE(range->size() == static_cast<size_t>(kSenders * kEach));
  for (size_t i = 0; i < range->size(); ++i) CHECK((*range)[i].seq() == i + 1);
}

TEST_CASE("a retried send is a duplicate under concurrency, and takes no seq",
          "[integration][groupmsg]") {
  auto pool_a = Pool();
  auto pool_b = Pool();
  message::GroupMessageStore replica_a(pool_a.get()), replica_b(pool_b.get());
  uint64_t app = testing::RandomSdkAppId();
  // The same message (same sender and Random) sent at once through both.
  std::vector<std::future<message::GroupAppendResult>> tries;
  for (int i = 0; i < 6; ++i) {
    tries.push_back(std::async(std::launch::async, [&, i] {
      auto r = (i % 2 ? replica_a : replica_b).Append(Message(app, "g", "ann", 42));
      REQUIRE(r.ok());
      return *r;
    }));
  }
  int stored = 0;
  for (auto& f : tries) {
    auto r = f.get();
    CHECK(r.seq == 1);
    stored += r.duplicate ? 0 : 1;
  }
  CHECK(stored == 1);
  // Another sender's same Random is a message of its own; a client id dedups too.
  auto other = replica_a.Append(Message(app, "g", "ben", 42));
  REQUIRE(other.ok());
  CHECK(other->seq == 2);
  auto with_id = Message(app, "g", "ben", 1);
  with_id.client_msg_id = "c-1";
  CHECK(replica_a.Append(with_id)->seq == 3);
  with_id.random = 2;  // a resend picks a new random; the id still matches
  auto resent = replica_b.Append(with_id);
  CHECK(resent->duplicate);
  CHECK(resent->seq == 3);
}

TEST_CASE("members' join and read seqs: unread from seqs, NoUnread not counted, kicked gone",
          "[integration][groupmsg]") {
  auto pool = Pool();
  message::GroupMessageStore store(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  REQUIRE(store.Append(Tip(app, "g", "GroupCreated", {"owner", "ann"}, {})).ok());  // seq 1
  REQUIRE(store.Append(Message(app, "g", "owner", 1)).ok());                        // 2
  auto quiet = Message(app, "g", "owner", 2);
  quiet.counts_unread = false;
  REQUIRE(store.Append(quiet).ok());                                                 // 3
  REQUIRE(store.Append(Tip(app, "g", "MemberJoined", {"ben"}, {})).ok());           // 4
  REQUIRE(store.Append(Message(app, "g", "owner", 3)).ok());                        // 5
  auto ann = store.MemberSeqs(app, "ann", {});
  REQUIRE(ann.ok());
  REQUIRE(ann->size() == 1);
  CHECK((*ann)[0].max_seq == 5);
  CHECK((*ann)[0].join_seq == 1);
  CHECK((*ann)[0].unread == 2);  // seqs 2 and 5
  auto ben = store.MemberSeqs(app, "ben", {"g"});
  REQUIRE(ben.ok());
  CHECK((*ben)[0].join_seq == 4);
  CHECK((*ben)[0].unread == 1);
  CHECK(*store.MarkRead(app, "ann", "g", 2) == 2);
  CHECK((*store.MemberSeqs(app, "ann", {}))[0].unread == 1);
  CHECK(*store.MarkRead(app, "ann", "g", 1) == 2);    // never backwards
  CHECK(*store.MarkRead(app, "ann", "g", 999) == 5);  // never past the head
  CHECK((*store.MemberSeqs(app, "ann", {}))[0].unread == 0);
  REQUIRE(store.Append(Tip(app, "g", "MemberKicked", {}, {"ben"})).ok());
  CHECK(store.MemberSeqs(app, "ben", {})->empty());
  CHECK(absl::IsNotFound(store.MarkRead(app, "ben", "g", 0).status()));
  // A targeted message shows as a placeholder to others.
  auto targeted = Message(app, "g", "owner", 9);
  targeted.to_accounts = {"owner"};
  auto t = store.Append(targeted);
  REQUIRE(t.ok());
  auto seen_by_ann = store.Range(app, "g", t->seq, t->seq, 1, "ann");
  REQUIRE(seen_by_ann.ok());
  CHECK((*seen_by_ann)[0].message().is_place_msg() == 1);
  CHECK((*seen_by_ann)[0].message().msg_body().values_size() == 0);
  auto seen_by_owner = store.Range(app, "g", t->seq, t->seq, 1, "owner");
  CHECK((*seen_by_owner)[0].message().is_place_msg() == 0);
}

TEST_CASE("batched appends over many groups: gapless per group, in order per sender, "
          "duplicates within and across batches",
          "[integration][groupmsg]") {
  auto pool_a = Pool();
  auto pool_b = Pool();
  message::GroupMessageStore replica_a(pool_a.get()), replica_b(pool_b.get());
  uint64_t app = testing::RandomSdkAppId();
  const int kThreads = 6, kBatches = 15, kPerBatch = 20, kGroups = 5;
  std::vector<std::future<void>> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.push_back(std::async(std::launch::async, [&, t] {
      auto& store = t % 2 ? replica_a : replica_b;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<message::GroupAppend> batch;
        for (int i = 0; i < kPerBatch; ++i) {
          // Groups in a different order in each thread's batches.
          std::string group = "g" + std::to_string((i + t) % kGroups);
          batch.push_back(Message(app, group, "u" + std::to_string(t),
                                  static_cast<uint32_t>(100000 * t + 1000 * b + i + 1)));
        }
        auto results = store.AppendMany(batch);
        REQUIRE(results.size() == batch.size());
        std::map<std::string, uint64_t> last;  // per group: this batch's seqs rise
        for (size_t i = 0; i < results.size(); ++i) {
          REQUIRE(results[i].ok());
          CHECK_FALSE(results[i]->duplicate);
          CHECK(results[i]->seq > last[batch[i].group_id]);
          last[batch[i].group_id] = results[i]->seq;
        }
      }
    }));
  }
  for (auto& w : writers) w.get();
  const size_t per_group = kThreads * kBatches * kPerBatch / kGroups;
  for (int g = 0; g < kGroups; ++g) {
    std::string group = "g" + std::to_string(g);
    auto events = replica_a.Range(app, group, 1, 100000, 100000, "");
    REQUIRE(events.ok());
    REQUIRE(events->size() == per_group);
    std::map<std::string, uint32_t> last_random;  // a sender's randoms rise with its seqs
    for (size_t i = 0; i < events->size(); ++i) {
      const auto& e = (*events)[i];
      CHECK(e.seq() == i + 1);
      CHECK(e.message().msg_random() > last_random[e.message().from_account()]);
      last_random[e.message().from_account()] = e.message().msg_random();
    }
    auto head = replica_b.Head(app, group);
    CHECK(head->first == per_group);
  }
  // A repeat within one batch and of a stored message: the first's seq.
  auto one = Message(app, "g0", "dup", 7);
  auto with_id = Message(app, "g1", "dup", 8);
  with_id.client_msg_id = "c";
  auto results = replica_a.AppendMany({one, with_id, one});
  REQUIRE(results[0].ok());
  CHECK_FALSE(results[0]->duplicate);
  CHECK(results[2]->duplicate);
  CHECK(results[2]->seq == results[0]->seq);
  with_id.random = 9;
  auto again = replica_b.AppendMany({with_id, Message(app, "g0", "dup", 7)});
  CHECK(again[0]->duplicate);
  CHECK(again[0]->seq == results[1]->seq);
  CHECK(again[1]->duplicate);
  CHECK(again[1]->seq == results[0]->seq);
  CHECK(replica_a.Head(app, "g0")->first == per_group + 1);
}

TEST_CASE("one pin cap for one-to-one and group conversations together", "[integration][groupmsg]") {
  auto pool = Pool();
  message::GroupMessageStore groups(pool.get());
  message::MessageStore direct(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  for (const char* g : {"g1", "g2", "g3"}) {
    REQUIRE(groups.Append(Tip(app, g, "GroupCreated", {"ann"}, {})).ok());
  }
  constexpr int kCap = 3;
  REQUIRE(groups.PinConversation(app, "ann", "g1", true, kCap).ok());
  REQUIRE(direct.PinConversation(app, "ann", "bob", true, kCap).ok());
  REQUIRE(groups.PinConversation(app, "ann", "g2", true, kCap).ok());
  // Full: neither kind may pin another; pinning one already pinned is fine.
  CHECK(absl::IsFailedPrecondition(groups.PinConversation(app, "ann", "g3", true, kCap)));
  CHECK(absl::IsFailedPrecondition(direct.PinConversation(app, "ann", "carl", true, kCap)));
  CHECK(groups.PinConversation(app, "ann", "g2", true, kCap).ok());
  CHECK(direct.PinConversation(app, "ann", "bob", true, kCap).ok());
  // Unpinning one makes room for the other kind.
  REQUIRE(groups.PinConversation(app, "ann", "g1", false, kCap).ok());
  CHECK(direct.PinConversation(app, "ann", "carl", true, kCap).ok());
  CHECK(absl::IsFailedPrecondition(groups.PinConversation(app, "ann", "g3", true, kCap)));
}

TEST_CASE("community topics: own seqs, heads found from the community, read positions from "
          "joining, destroyed topics gone",
          "[integration][groupmsg][topic]") {
  auto pool = Pool();
  message::GroupMessageStore store(pool.get());
  uint64_t app = testing::RandomSdkAppId();
  const std::string g = "@TGS#_guild", news = g + "@TOPIC#_news", chat = g + "@TOPIC#_chat";
  auto community_tip = [&](const std::string& type, std::vector<std::string> joined,
                           std::vector<std::string> left) {
    message::GroupAppend tip = Tip(app, g, type, std::move(joined), std::move(left));
    tip.group_type = 4;
    return tip;
  };
  auto topic_message = [&](const std::string& topic, uint32_t random) {
    message::GroupAppend m = Message(app, topic, "ann", random);
    m.group_type = 4;
    return m;
  };
  REQUIRE(store.Append(community_tip("GroupCreated", {"ann"}, {})).ok());
  // Each topic counts from 1, apart from the community and each other.
  CHECK(store.Append(topic_message(news, 1))->seq == 1);
  CHECK(store.Append(topic_message(news, 2))->seq == 2);
  CHECK(store.Append(topic_message(chat, 3))->seq == 1);
  CHECK(store.Head(app, g)->first == 1);
  auto heads = store.TopicHeads(app, {g, "@TGS#_other"});
  REQUIRE(heads.ok());
  CHECK(*heads == std::vector<std::pair<std::string, uint64_t>>{{chat, 1}, {news, 2}});
  // Events read back name the community and the topic.
  auto range = store.Range(app, news, 1, 2, 10, "ann");
  REQUIRE(range.ok());
  REQUIRE(range->size() == 2);
  CHECK((*range)[0].group_id() == g);
  CHECK((*range)[0].topic_id() == news);
  CHECK((*range)[0].message().topic_id() == news);

  // ann was a member before the topics: all of it is unread. ben joins now:
  // nothing is.
  auto unread = [&](const std::string& user) {
    std::map<std::string, uint32_t> out;
    auto seqs = store.TopicSeqs(app, user, g);
    REQUIRE(seqs.ok());
    for (const auto& s : *seqs) out[s.group_id] = s.unread;
    return out;
  };
  CHECK(unread("ann") == std::map<std::string, uint32_t>{{chat, 1}, {news, 2}});
  REQUIRE(store.Append(community_tip("MemberJoined", {"ben"}, {})).ok());
  CHECK(unread("ben") == std::map<std::string, uint32_t>{{chat, 0}, {news, 0}});
  REQUIRE(store.Append(topic_message(news, 4)).ok());
  CHECK(unread("ben")[news] == 1);
  // Reading moves forward only, never past the head.
  CHECK(*store.MarkTopicRead(app, "ann", news, 2) == 2);
  CHECK(*store.MarkTopicRead(app, "ann", news, 1) == 2);
  CHECK(*store.MarkTopicRead(app, "ann", news, 99) == 3);
  CHECK(unread("ann")[news] == 0);
  CHECK(*store.MarkTopicRead(app, "ann", g + "@TOPIC#_empty", 0) == 0);  // no events yet

  // Leaving drops the read positions; a destroyed topic's events go.
  REQUIRE(store.Append(community_tip("MemberQuit", {}, {"ben"})).ok());
  pool->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto left = tx.exec_params("SELECT count(*) FROM group_topic_reads WHERE sdkappid = $1"
                               " AND user_id = 'ben'", app)[0][0].as<int>();
    CHECK(left == 0);
    return absl::OkStatus();
  });
  message::GroupAppend destroyed = community_tip("TopicDestroyed", {}, {});
  destroyed.destroyed_topic = news;
  REQUIRE(store.Append(destroyed).ok());
  CHECK(*store.TopicHeads(app, {g}) == std::vector<std::pair<std::string, uint64_t>>{{chat, 1}});
  CHECK(store.Range(app, news, 1, 10, 10, "")->empty());
  CHECK(unread("ann").count(news) == 0);
}
