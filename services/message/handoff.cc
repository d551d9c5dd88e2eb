#include "handoff.h"

#include <algorithm>
#include <atomic>

#include "absl/strings/str_cat.h"
#include "parley/delivery/topics.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "send_sql.h"

namespace parley::message {

std::vector<v1::Delivery> C2CDeliveries(const v1::TimelineEvent& event, const std::string& from,
                                        const std::string& to, bool honor_receive_opt,
                                        const std::string& msg_key, uint32_t msg_seq,
                                        uint64_t receiver_seq, uint64_t sender_seq) {
  v1::TimelineEvent done = event;
  done.set_seq(receiver_seq);
  done.set_peer(from);
  done.set_msg_key(msg_key);
  done.mutable_message()->set_msg_seq(msg_seq);
  done.mutable_message()->set_msg_key(msg_key);
  std::vector<v1::Delivery> out(1);
  out[0].set_user_id(to);
  out[0].set_ignore_receive_opt(!honor_receive_opt);
  done.SerializeToString(out[0].mutable_event());
  if (sender_seq != 0 && from != to) {
    // The sender's copy differs only in seq and peer.
    done.set_seq(sender_seq);
    done.set_peer(to);
    out.emplace_back();
    out[1].set_user_id(from);
    done.SerializeToString(out[1].mutable_event());
  }
  return out;
}

v1::GroupDelivery GroupMessageDelivery(v1::GroupEvent event, uint64_t seq, int64_t time) {
  event.set_seq(seq);
  auto* m = event.mutable_message();
  m->set_msg_seq(static_cast<uint32_t>(seq));
  m->set_msg_key(absl::StrCat(seq, "_", m->msg_random(), "_", time));
  delivery::SplitStream(&event);  // a topic's event goes to its community's members
  v1::GroupDelivery out;
  out.set_group_id(event.group_id());
  event.SerializeToString(out.mutable_event());
  return out;
}

namespace {
std::atomic<int64_t> lease_ms{30000};
std::string& Scope() {
  static std::string scope;
  return scope;
}
double Seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000; }
}  // namespace

void SetHandOffLease(std::chrono::milliseconds lease) { lease_ms = lease.count(); }

std::chrono::milliseconds HandOffLease() { return std::chrono::milliseconds(lease_ms.load()); }

void SetHandOffScope(const std::string& scope) { Scope() = scope; }

std::shared_ptr<delivery::Ticket> RecordHandOff(pqxx::work& tx, const v1::HandOff& handoff) {
  if (handoff.items_size() == 0) return nullptr;
  auto ticket = std::make_shared<delivery::Ticket>(NewOwedId(), handoff.items_size());
  tx.exec_params(
      "INSERT INTO delivery_outbox (id, scope, payload, due_at)"
      " VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
      ticket->id, Scope(), pqxx::binarystring(handoff.SerializeAsString()),
      Seconds(HandOffLease()));
  return ticket;
}

void QueueHandOff(delivery::Deliverer* deliverer, const v1::HandOff& handoff,
                  const std::shared_ptr<delivery::Ticket>& ticket) {
  for (const auto& item : handoff.items()) {
    if (item.has_group()) {
      deliverer->EnqueueGroup(item.sdkappid(), item.group(), ticket);
    } else {
      deliverer->Enqueue(item.sdkappid(), item.delivery(), ticket);
    }
  }
}

absl::StatusOr<std::vector<OwedHandOff>> HandOffStore::Lease(size_t limit,
                                                             std::chrono::milliseconds lease) {
  return pool_->Query<std::vector<OwedHandOff>>(
      [&](pqxx::connection& c) -> absl::StatusOr<std::vector<OwedHandOff>> {
        pqxx::nontransaction tx(c);  // one statement
        auto rows = tx.exec_params(
            "WITH due AS ("
            "  SELECT id FROM delivery_outbox WHERE scope = $3 AND due_at <= now()"
            "  ORDER BY due_at LIMIT $1"
            "  FOR UPDATE SKIP LOCKED)"
            " UPDATE delivery_outbox o SET due_at = now() + make_interval(secs => $2)"
            " FROM due WHERE o.id = due.id RETURNING o.id, o.payload",
            static_cast<int64_t>(limit), Seconds(lease), Scope());
        std::vector<OwedHandOff> out;
        for (const auto& row : rows) {
          OwedHandOff owed;
          owed.id = row[0].as<int64_t>();
          if (!owed.handoff.ParseFromString(pqxx::binarystring(row[1]).str())) {
            // Left to lapse again (a build that reads it may take it), not
            // deleted: said here each time it comes due.
            log::Warn("delivery_outbox_row_unreadable", {{"id", owed.id}});
            continue;
          }
          out.push_back(std::move(owed));
        }
        std::sort(out.begin(), out.end(),
                  [](const OwedHandOff& a, const OwedHandOff& b) { return a.id < b.id; });
        return out;
      });
}

absl::Status HandOffStore::Settle(const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  return pool_->Run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_params("DELETE FROM delivery_outbox WHERE id = ANY($1::bigint[])", pg::IntArray(ids));
    return absl::OkStatus();
  });
}

HandOffKeeper::HandOffKeeper(pg::Pool* pool, delivery::Deliverer* deliverer)
    : store_(pool), deliverer_(deliverer) {
  deliverer_->SetSettler([settled = settled_](std::vector<int64_t> ids) {
    std::lock_guard lock(settled->mu);
    settled->ids.insert(settled->ids.end(), ids.begin(), ids.end());
  });
}

void HandOffKeeper::Settle() {
  std::vector<int64_t> ids;
  {
    std::lock_guard lock(settled_->mu);
    ids.swap(settled_->ids);
  }
  if (ids.empty()) return;
  if (auto st = store_.Settle(ids); !st.ok()) {
    // Left in the outbox: handed off once more when due (at least once).
    log::Warn("delivery_outbox_settle_failed",
              {{"rows", ids.size()}, {"error", std::string(st.message())}});
  }
}

size_t HandOffKeeper::Redeliver(size_t limit) {
  static auto& redelivered = metrics::Registry::Default().GetCounter(
      "parley_delivery_outbox_redelivered_total",
      "stored batches whose deliveries were handed to push again from the outbox");
  // While push is away the queue holds what is owed already: the outbox
  // keeps the rest rather than memory.
  if (deliverer_->Queued() >= kMaxQueued) return 0;
  auto owed = store_.Lease(limit, HandOffLease());
  if (!owed.ok()) {
    log::Warn("delivery_outbox_lease_failed", {{"error", std::string(owed.status().message())}});
    return 0;
  }
  for (const auto& row : *owed) {
    QueueHandOff(deliverer_, row.handoff,
                 std::make_shared<delivery::Ticket>(row.id, row.handoff.items_size()));
  }
  if (!owed->empty()) {
    redelivered.Increment(owed->size());
    log::Info("delivery_outbox_redelivered", {{"rows", owed->size()}});
  }
  return owed->size();
}

}  // namespace parley::message
