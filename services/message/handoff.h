// The durable hand-off of stored messages to the push service. The
// transaction that stores a batch also records the batch's deliveries
// (v1::HandOff) in delivery_outbox; after the commit they are queued on the
// Deliverer with a Ticket for the row, and the row is deleted once push took
// them all. Rows left behind (a replica that crashed, push down longer than
// the Deliverer's retries) are leased again by any replica. Delivery is at
// least once: gateways drop events at or below a session's seq, and an
// offline push may (rarely) go out twice.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/statusor.h"
#include "parley/delivery/deliverer.h"
#include "parley/pg/pool.h"
#include "parley/v1/group_message.pb.h"
#include "parley/v1/message.pb.h"
#include "parley/v1/push.pb.h"

namespace parley::message {

// The deliveries of one stored one-to-one message: `event` (built with no
// seq or key) completed with what storage gave it, to the recipient and,
// when the sender keeps a copy, to the sender's other sessions.
std::vector<v1::Delivery> C2CDeliveries(const v1::TimelineEvent& event, const std::string& from,
                                        const std::string& to, bool honor_receive_opt,
                                        const std::string& msg_key, uint32_t msg_seq,
                                        uint64_t receiver_seq, uint64_t sender_seq);

// The delivery of one stored group message: `event` completed with its seq
// and key, a topic's under its community.
v1::GroupDelivery GroupMessageDelivery(v1::GroupEvent event, uint64_t seq, int64_t time);

// How long a recorded hand-off waits before any replica hands it off again,
// and how long each such lease lasts: 30 s unless set (tests shorten it).
void SetHandOffLease(std::chrono::milliseconds lease);
std::chrono::milliseconds HandOffLease();
// The push service rows are recorded for and leased from (the process's
// push target): set once at start, before the first send.
void SetHandOffScope(const std::string& scope);

// Inside the storing transaction: records `handoff` under a fresh id and
// returns its ticket, counting every item; null when it holds none.
std::shared_ptr<delivery::Ticket> RecordHandOff(pqxx::work& tx, const v1::HandOff& handoff);

// Queues every item of a hand-off on `deliverer`, counted against `ticket`.
void QueueHandOff(delivery::Deliverer* deliverer, const v1::HandOff& handoff,
                  const std::shared_ptr<delivery::Ticket>& ticket);

struct OwedHandOff {
  int64_t id = 0;
  v1::HandOff handoff;
};

// The outbox's reads and deletes, outside any send's transaction.
class HandOffStore {
 public:
  explicit HandOffStore(pg::Pool* pool) : pool_(pool) {}
  // Up to `limit` rows past due, each leased for `lease` (not due again
  // before then, on any replica).
  absl::StatusOr<std::vector<OwedHandOff>> Lease(size_t limit, std::chrono::milliseconds lease);
  // Deletes rows push took.
  absl::Status Settle(const std::vector<int64_t>& ids);

 private:
  pg::Pool* pool_;
};

// Ties the outbox to a Deliverer: rows whose tickets push settled are
// deleted by Settle (one statement for all), and rows past due are handed
// off again by Redeliver.
class HandOffKeeper {
 public:
  // Becomes `deliverer`'s settler.
  HandOffKeeper(pg::Pool* pool, delivery::Deliverer* deliverer);
  // Deletes the rows settled since the last call; run it a few times a second.
  void Settle();
  // Queues again up to `limit` rows past due, each leased for HandOffLease(),
  // unless the Deliverer already holds kMaxQueued deliveries. Returns how many
  // rows; run it every few seconds.
  static constexpr size_t kMaxQueued = 20000;
  size_t Redeliver(size_t limit);

 private:
  struct Settled {
    std::mutex mu;
    std::vector<int64_t> ids;
  };
  HandOffStore store_;
  delivery::Deliverer* deliverer_;
  // Shared with the settler, which may outlive this object by one round.
  std::shared_ptr<Settled> settled_ = std::make_shared<Settled>();
};

}  // namespace parley::message
