#include "room_router.h"

#include "absl/strings/str_cat.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"

namespace parley::gateway {
RoomRouter::RoomRouter(std::string gateway_id, presence::Presence* presence,
                       liveroom::Rooms* rooms, std::chrono::milliseconds batch_window)
    : gateway_id_(std::move(gateway_id)),
      presence_(presence),
      rooms_(rooms),
      batch_window_(batch_window) {}

std::string RoomRouter::Key(uint64_t sdkappid, const std::string& group_id) {
  return absl::StrCat(sdkappid, "\n", group_id);
}

bool RoomRouter::UserStays(const Room& room, const std::string& user) {
  for (const auto& [id, m] : room.sessions) {
    if (m.user == user) return true;
  }
  return false;
}

absl::StatusOr<uint32_t> RoomRouter::Enter(uint64_t sdkappid, const std::string& group_id,
                                           const std::string& user, const std::string& session_id,
                                           std::weak_ptr<RoomMember> member) {
  int64_t known = -1;  // the room's count as of the last tick
  bool counted = false;  // the user is in it here already
  {
    std::lock_guard set_lock(set_mu_);
    bool first = false;
    {
      std::lock_guard lock(mu_);
      auto [it, created] = rooms_by_key_.try_emplace(Key(sdkappid, group_id));
      if (created) {
        it->second.sdkappid = sdkappid;
        it->second.group_id = group_id;
      }
      first = it->second.sessions.empty();
      known = it->second.last_count;
      counted = UserStays(it->second, user);
      it->second.sessions[session_id] = {user, std::move(member)};
    }
    // The room's events come here from now on.
    if (first) {
      if (auto st = presence_->AddGroupGateway(sdkappid, {group_id}, gateway_id_); !st.ok()) {
        std::lock_guard lock(mu_);
        auto it = rooms_by_key_.find(Key(sdkappid, group_id));
        if (it != rooms_by_key_.end()) it->second.sessions.erase(session_id);
        return st;
      }
    }
  }
  int64_t now = liveroom::NowMs();
  if (auto st = rooms_->Join(sdkappid, group_id, {user}, now); !st.ok()) {
    Leave(sdkappid, group_id, user, session_id);
    return st;
  }
  // A room this gateway counts already answers from its last tick, so a
  // join storm costs no count per join.
  if (known >= 0) return static_cast<uint32_t>(known + (counted ? 0 : 1));
  auto count = rooms_->Count(sdkappid, group_id, now);
  if (!count.ok()) return count.status();
  return static_cast<uint32_t>(*count);
}

void RoomRouter::Leave(uint64_t sdkappid, const std::string& group_id, const std::string& user,
                       const std::string& session_id) {
  bool gone = false;
  {
    std::lock_guard lock(mu_);
    auto it = rooms_by_key_.find(Key(sdkappid, group_id));
    if (it == rooms_by_key_.end() || it->second.sessions.erase(session_id) == 0) return;
    gone = !UserStays(it->second, user);
  }
  // An empty room stays until Tick, which leaves its gateway set.
  if (gone && !rooms_->Leave(sdkappid, group_id, {user}).ok()) {
    log::Warn("room_leave_failed", {{"group", group_id}});  // pruned as stale later
  }
}

void RoomRouter::OnEvent(uint64_t sdkappid, const v1::GroupEvent& event) {
  static auto& handed = metrics::Registry::Default().GetCounter(
      "parley_gateway_room_deliveries_total", "room events handed to sessions here");
  std::vector<std::pair<std::shared_ptr<RoomMember>, std::string>> left;
  bool dismissed = false;
  {
    std::lock_guard lock(mu_);
    auto it = rooms_by_key_.find(Key(sdkappid, event.group_id()));
    if (it == rooms_by_key_.end()) return;
    Room& room = it->second;
    if (batch_window_.count() > 0 && event.kind() == v1::GroupEvent::KIND_MESSAGE) {
      if (room.batch.empty()) room.batch_since = std::chrono::steady_clock::now();
      room.batch.push_back(event);
      if (room.batch.size() >= kMaxBatch) FlushLocked(room);
      return;
    }
    FlushLocked(room);  // what came before goes first
    std::set<std::string> banned;
    if (event.kind() == v1::GroupEvent::KIND_TIP) {
      if (event.tip().type() == "MemberBanned") {
        banned.insert(event.tip().member_account().begin(), event.tip().member_account().end());
      }
      dismissed = event.tip().type() == "GroupDismissed";
    }
    GroupEventFrame frame(event);
    for (auto s = room.sessions.begin(); s != room.sessions.end();) {
      auto session = s->second.session.lock();
      if (!session) {
        s = room.sessions.erase(s);
        continue;
      }
      if (banned.count(s->second.user)) {
        left.emplace_back(std::move(session), "banned");
        s = room.sessions.erase(s);
        continue;
      }
      session->OnRoomEvent(frame);
      handed.Increment();
      if (dismissed) left.emplace_back(std::move(session), "dismissed");
      ++s;
    }
    // The push service deletes a disbanded room's gateway set.
    if (dismissed) rooms_by_key_.erase(it);
  }
  for (auto& [session, reason] : left) session->OnRoomLeft(event.group_id(), reason);
}

void RoomRouter::FlushLocked(Room& room) {
  static auto& handed = metrics::Registry::Default().GetCounter(
      "parley_gateway_room_batches_total", "room_events frames handed to sessions here");
  if (room.batch.empty()) return;
  v1::ServerFrame frame;
  auto* events = frame.mutable_room_events();
  events->set_group_id(room.group_id);
  for (auto& e : room.batch) *events->add_events() = std::move(e);
  room.batch.clear();
  // Encoded once; every session's connection sends the same bytes.
  auto json = std::make_shared<const std::string>(protojson::Print(frame));
  auto binary = std::make_shared<const std::string>(frame.SerializeAsString());
  for (auto s = room.sessions.begin(); s != room.sessions.end();) {
    auto session = s->second.session.lock();
    if (!session) {
      s = room.sessions.erase(s);
      continue;
    }
    session->OnRoomBatch(room.group_id, json, binary);
    handed.Increment();
    ++s;
  }
}

void RoomRouter::FlushDue(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  for (auto& [key, room] : rooms_by_key_) {
    if (!room.batch.empty() && now - room.batch_since >= batch_window_) FlushLocked(room);
  }
}

void RoomRouter::Tick() {
  struct Snapshot {
    uint64_t sdkappid;
    std::string group_id;
    std::vector<std::string> users;
  };
  std::vector<Snapshot> live;
  std::vector<std::pair<uint64_t, std::string>> idle;
  {
    std::lock_guard set_lock(set_mu_);
    {
      std::lock_guard lock(mu_);
      for (auto it = rooms_by_key_.begin(); it != rooms_by_key_.end();) {
        Room& room = it->second;
        for (auto s = room.sessions.begin(); s != room.sessions.end();) {
          s = s->second.session.expired() ? room.sessions.erase(s) : std::next(s);
        }
        if (room.sessions.empty()) {
          idle.emplace_back(room.sdkappid, room.group_id);
          it = rooms_by_key_.erase(it);
          continue;
        }
        std::set<std::string> users;
        for (const auto& [id, m] : room.sessions) users.insert(m.user);
        live.push_back({room.sdkappid, room.group_id, {users.begin(), users.end()}});
        ++it;
      }
    }
    for (const auto& [app, group] : idle) {
      if (!presence_->RemoveGroupGateway(app, group, gateway_id_).ok()) {
        log::Warn("room_set_leave_failed", {{"group", group}});
      }
    }
  }
  int64_t now = liveroom::NowMs();
  for (const auto& snap : live) {
    auto count = rooms_->Refresh(snap.sdkappid, snap.group_id, snap.users, now);
    if (!count.ok()) continue;
    std::vector<std::shared_ptr<RoomMember>> targets;
    {
      std::lock_guard lock(mu_);
      auto it = rooms_by_key_.find(Key(snap.sdkappid, snap.group_id));
      if (it == rooms_by_key_.end() || it->second.last_count == static_cast<int64_t>(*count)) {
        continue;
      }
      it->second.last_count = static_cast<int64_t>(*count);
      for (const auto& [id, m] : it->second.sessions) {
        if (auto s = m.session.lock()) targets.push_back(std::move(s));
      }
    }
    for (auto& s : targets) s->OnRoomCount(snap.group_id, static_cast<uint32_t>(*count));
  }
}

}  // namespace parley::gateway
