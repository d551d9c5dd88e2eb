#include "group_router.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

#include "absl/strings/str_cat.h"
#include "parley/delivery/group_tips.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"
#include "parley/rpc/client.h"
#include "parley/rpc/tls.h"

namespace parley::gateway {
namespace {

std::string Key(uint64_t sdkappid, const std::string& id) { return absl::StrCat(sdkappid, "\n", id); }

constexpr int32_t kDiscard = 2;

bool Visible(const v1::GroupEvent& event, const std::string& user, int32_t flag) {
  if (event.kind() == v1::GroupEvent::KIND_TIP && event.tip().silent()) return false;
  if (event.kind() == v1::GroupEvent::KIND_MESSAGE && flag == kDiscard) return false;
  // Targeted events (messages, notifications, receipts) reach their targets
  // and the sender only.
  const auto& targets =
      event.to_account_size() > 0 ? event.to_account() : event.message().to_account();
  if (targets.empty()) return true;
  if (event.kind() != v1::GroupEvent::KIND_RECEIPT && event.message().from_account() == user) {
    return true;
  }
  return std::find(targets.begin(), targets.end(), user) != targets.end();
}

}  // namespace

std::vector<GroupRouter::Stream*> GroupRouter::Streams(Route& route) {
  std::vector<Stream*> out{&route.main};
  for (auto& [topic, stream] : route.topics) out.push_back(&stream);
  return out;
}

const std::shared_ptr<const std::string>& GroupEventFrame::Encoded(bool binary) {
  if (binary) {
    if (!binary_) {
      std::string bytes;
      {
        google::protobuf::io::StringOutputStream stream(&bytes);
        google::protobuf::io::CodedOutputStream out(&stream);
        out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
            v1::ServerFrame::kGroupEventFieldNumber,
            google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
        out.WriteVarint32(static_cast<uint32_t>(event_.ByteSizeLong()));
        event_.SerializeWithCachedSizes(&out);
      }
      binary_ = std::make_shared<const std::string>(std::move(bytes));
    }
    return binary_;
  }
  if (!json_) {
    json_ = std::make_shared<const std::string>(
        absl::StrCat("{\"groupEvent\":", protojson::Print(event_), "}"));
  }
  return json_;
}

GroupRouter::GroupRouter(std::string gateway_id, presence::Presence* presence,
                         std::shared_ptr<v1::GroupMessageService::StubInterface> groups,
                         std::chrono::milliseconds deadline, Sink sink, IsLocal is_local)
    : gateway_id_(std::move(gateway_id)),
      presence_(presence),
      groups_(std::move(groups)),
      deadline_(deadline),
      sink_(std::move(sink)),
      is_local_(std::move(is_local)) {}

size_t GroupRouter::route_count() {
  std::lock_guard lock(mu_);
  return routes_.size();
}

bool GroupRouter::Attach(uint64_t sdkappid, const std::string& user) {
  if (!groups_) return true;
  rpc::Caller caller{sdkappid, user, false};
  auto context = rpc::NewContext(&caller, deadline_);
  v1::GetGroupStatesRequest request;
  request.set_with_topics(true);
  v1::GetGroupStatesResponse states;
  grpc::Status status = groups_->GetGroupStates(context.get(), request, &states);
  if (!status.ok()) {
    log::Warn("group_attach_failed", {{"sdkappid", sdkappid}, {"error", status.error_message()}});
    return false;
  }
  std::vector<std::string> ids;
  for (const auto& s : states.groups()) {
    if (s.topic_id().empty()) ids.push_back(s.group_id());
  }
  // In the groups' gateway sets before the routes exist: events from here on
  // come to this gateway.
  if (auto st = presence_->AddGroupGateway(sdkappid, ids, gateway_id_); !st.ok()) {
    log::Warn("group_attach_failed",
              {{"sdkappid", sdkappid}, {"error", std::string(st.message())}});
    return false;
  }
  std::lock_guard lock(mu_);
  auto& mine = user_groups_[Key(sdkappid, user)];
  std::set<std::string> opened;
  for (const auto& s : states.groups()) {
    if (!s.topic_id().empty()) continue;
    auto [it, created] = routes_.try_emplace(Key(sdkappid, s.group_id()));
    Route& route = it->second;
    if (created) {
      route.sdkappid = sdkappid;
      route.group_id = s.group_id();
      // What came before is the client's to fetch (group_states).
      route.main.cursor = s.max_seq();
      route.topics_known = true;
      opened.insert(it->first);
    }
    route.members[user] = delivery::MsgFlagValue(s.msg_flag());
    mine.insert(s.group_id());
  }
  // Topics follow their communities in the answer.
  for (const auto& s : states.groups()) {
    if (s.topic_id().empty() || !opened.count(Key(sdkappid, s.group_id()))) continue;
    routes_[Key(sdkappid, s.group_id())].topics[s.topic_id()].cursor = s.max_seq();
  }
  for (const auto& key : opened) {
    auto it = routes_.find(key);
    if (it == routes_.end()) continue;
    OpenedLocked(key, it->second);
    DrainLocked(it->second, it->second.main);
  }
  return true;
}

void GroupRouter::Detach(uint64_t sdkappid, const std::string& user) {
  std::lock_guard lock(mu_);
  if (is_local_(sdkappid, user)) return;  // logged in here again
  auto it = user_groups_.find(Key(sdkappid, user));
  if (it == user_groups_.end()) return;
  for (const auto& group : it->second) {
    auto route = routes_.find(Key(sdkappid, group));
    if (route == routes_.end()) continue;
    route->second.members.erase(user);
    if (route->second.members.empty()) routes_.erase(route);
  }
  user_groups_.erase(it);
}

void GroupRouter::OnEntry(uint64_t sdkappid, const std::string& payload) {
  v1::GroupEvent event;
  if (!event.ParseFromString(payload)) return;
  OnEvent(sdkappid, std::move(event));
}

void GroupRouter::OnEvent(uint64_t sdkappid, v1::GroupEvent event) {
  std::lock_guard lock(mu_);
  std::string key = Key(sdkappid, event.group_id());
  auto it = routes_.find(key);
  if (it == routes_.end() && event.kind() == v1::GroupEvent::KIND_TIP && event.seq() > 0) {
    // A member who is here just joined a group no one here was in.
    auto change = delivery::MembershipOf(event.tip());
    bool local = false;
    for (const auto& user : change.joined) local = local || is_local_(sdkappid, user);
    if (local && !change.flag_changed) {
      it = routes_.try_emplace(key).first;
      it->second.sdkappid = sdkappid;
      it->second.group_id = event.group_id();
      it->second.main.cursor = event.seq() - 1;
      OpenedLocked(key, it->second);
    }
  }
  if (it == routes_.end()) {
    // Nobody here is a member: if that lasts, leave the group's set.
    unrouted_.try_emplace(key, std::chrono::steady_clock::now());
    return;
  }
  Route& route = it->second;
  if (event.seq() == 0) {  // recalls, edits, online-only messages: no order to keep
    DispatchLocked(route, event);
    return;
  }
  if (event.topic_id().empty()) {
    OrderLocked(route, route.main, std::move(event));
    return;
  }
  auto [topic, first] = route.topics.try_emplace(event.topic_id());
  if (first && !route.topics_known) topic->second.cursor = event.seq() - 1;
  OrderLocked(route, topic->second, std::move(event));
}

bool GroupRouter::OrderLocked(Route& route, Stream& stream, v1::GroupEvent event) {
  static auto& dropped = metrics::Registry::Default().GetCounter(
      "parley_gateway_group_events_dropped_total",
      "group events that came after their route ended or far behind");
  if (event.seq() <= stream.cursor) return true;
  if (event.seq() == stream.cursor + 1) {
    return AdvanceLocked(route, event) && DrainLocked(route, stream);
  }
  if (stream.ahead.size() >= kMaxAhead) {
    dropped.Increment();  // the gap fill reads it again
    return true;
  }
  if (stream.ahead.empty()) stream.gap_since = std::chrono::steady_clock::now();
  stream.ahead.emplace(event.seq(), std::move(event));
  return true;
}

bool GroupRouter::DrainLocked(Route& route, Stream& stream) {
  while (!stream.ahead.empty() && stream.ahead.begin()->first <= stream.cursor + 1) {
    auto node = stream.ahead.extract(stream.ahead.begin());
    if (node.key() == stream.cursor + 1 && !AdvanceLocked(route, node.mapped())) return false;
  }
  if (!stream.ahead.empty()) stream.gap_since = std::chrono::steady_clock::now();
  return true;
}

bool GroupRouter::AdvanceLocked(Route& route, const v1::GroupEvent& event) {
  if (event.topic_id().empty()) return ProcessLocked(route, event);
  // A topic holds messages and notifications: no membership changes.
  route.topics[event.topic_id()].cursor = event.seq();
  DispatchLocked(route, event);
  return true;
}

bool GroupRouter::ProcessLocked(Route& route, const v1::GroupEvent& event) {
  route.main.cursor = event.seq();
  if (event.kind() != v1::GroupEvent::KIND_TIP) {
    DispatchLocked(route, event);
    return true;
  }
  if (event.tip().type() == "TopicDestroyed") route.topics.erase(event.tip().topic_id());
  auto change = delivery::MembershipOf(event.tip());
  if (change.flag_changed) {
    for (const auto& user : change.joined) {
      auto m = route.members.find(user);
      if (m != route.members.end()) m->second = delivery::MsgFlagValue(event.tip().detail());
    }
  } else {
    for (const auto& user : change.joined) {
      if (!is_local_(route.sdkappid, user)) continue;
      route.members[user] = delivery::MsgFlagValue(event.tip().detail());
      user_groups_[Key(route.sdkappid, user)].insert(route.group_id);
    }
  }
  // Those who leave see their own leaving, and nothing after it.
  DispatchLocked(route, event);
  for (const auto& user : change.left) {
    route.members.erase(user);
    auto mine = user_groups_.find(Key(route.sdkappid, user));
    if (mine != user_groups_.end()) mine->second.erase(route.group_id);
  }
  if (change.dismissed || route.members.empty()) {
    for (const auto& [user, flag] : route.members) {
      auto mine = user_groups_.find(Key(route.sdkappid, user));
      if (mine != user_groups_.end()) mine->second.erase(route.group_id);
    }
    EraseRouteLocked(Key(route.sdkappid, route.group_id));
    return false;
  }
  return true;
}

void GroupRouter::DispatchLocked(Route& route, const v1::GroupEvent& event) {
  static auto& handed = metrics::Registry::Default().GetCounter(
      "parley_gateway_group_deliveries_total", "group events handed to members' sessions here");
  GroupEventFrame frame(event);
  for (const auto& [user, flag] : route.members) {
    if (!Visible(event, user, flag)) continue;
    sink_(route.sdkappid, user, frame);
    handed.Increment();
  }
}

void GroupRouter::EraseRouteLocked(const std::string& key) { routes_.erase(key); }

void GroupRouter::OpenedLocked(const std::string& key, Route& route) {
  unrouted_.erase(key);
  if (left_.erase(key) == 0) return;
  route.rejoin = true;
  for (Stream* stream : Streams(route)) {
    stream->catch_up = true;
    stream->gap_since = {};  // read at the next pass
  }
}

void GroupRouter::LeaveIdleGroups(std::chrono::steady_clock::time_point now) {
  static auto& left = metrics::Registry::Default().GetCounter(
      "parley_gateway_group_sets_left_total",
      "groups whose gateway set this gateway left, holding no member of them");
  std::vector<std::pair<uint64_t, std::string>> leaving;
  {
    std::lock_guard lock(mu_);
    for (auto it = unrouted_.begin(); it != unrouted_.end();) {
      if (now - it->second < kLeaveAfter) {
        ++it;
        continue;
      }
      if (!routes_.count(it->first)) {
        // Recorded before the removal, under the lock that opening a route
        // takes: a route that opens from here on rejoins and catches up.
        left_[it->first] = now;
        auto nl = it->first.find('\n');
        leaving.emplace_back(std::stoull(it->first.substr(0, nl)), it->first.substr(nl + 1));
      }
      it = unrouted_.erase(it);
    }
    for (auto it = left_.begin(); it != left_.end();) {
      it = now - it->second >= kRejoinWindow ? left_.erase(it) : std::next(it);
    }
  }
  for (const auto& [sdkappid, group] : leaving) {
    if (auto st = presence_->RemoveGroupGateway(sdkappid, group, gateway_id_); !st.ok()) {
      log::Warn("group_leave_failed", {{"group", group}, {"error", std::string(st.message())}});
      continue;  // still in the set: its events keep coming and are dropped
    }
    left.Increment();
  }
}

void GroupRouter::FillGaps(std::chrono::steady_clock::time_point now,
                           std::chrono::milliseconds wait) {
  if (presence_ != nullptr) LeaveIdleGroups(now);
  struct Gap {
    uint64_t sdkappid;
    std::string group_id;
    std::string topic_id;
    uint64_t after;
    bool rejoin;
  };
  std::vector<Gap> gaps;
  {
    std::lock_guard lock(mu_);
    for (auto& entry : routes_) {
      Route& route = entry.second;  // (clang: lambdas may not capture structured bindings)
      bool rejoin = route.rejoin;
      route.rejoin = false;
      auto gap = [&](const std::string& topic, Stream& stream) {
        if ((stream.ahead.empty() && !stream.catch_up) || now - stream.gap_since < wait) return;
        gaps.push_back({route.sdkappid, route.group_id, topic, stream.cursor, rejoin});
        rejoin = false;  // once per route, before its first read
      };
      gap("", route.main);
      for (auto& [topic, stream] : route.topics) gap(topic, stream);
      route.rejoin = rejoin;  // no stream was due: the next pass rejoins
    }
  }
  for (const auto& gap : gaps) {
    if (gap.rejoin && presence_ != nullptr) {
      // Back in the set before reading: what comes after the read is pushed.
      if (auto st = presence_->AddGroupGateway(gap.sdkappid, {gap.group_id}, gateway_id_);
          !st.ok()) {
        log::Warn("group_rejoin_failed",
                  {{"group", gap.group_id}, {"error", std::string(st.message())}});
        std::lock_guard lock(mu_);
        auto it = routes_.find(Key(gap.sdkappid, gap.group_id));
        if (it != routes_.end()) it->second.rejoin = true;  // the next pass tries again
        continue;
      }
    }
    rpc::Caller gateway = rpc::ServiceCaller(gap.sdkappid, rpc::kGatewayIdentity);
    auto context = rpc::NewContext(&gateway, deadline_);
    v1::GetGroupRangeRequest request;
    request.set_group_id(gap.group_id);
    request.set_topic_id(gap.topic_id);
    request.set_after_seq(gap.after);
    request.set_limit(200);
    v1::GetGroupRangeResponse range;
    grpc::Status status = groups_->GetGroupRange(context.get(), request, &range);
    if (!status.ok()) {
      log::Warn("group_gap_fill_failed", {{"group", gap.group_id}, {"error", status.error_message()}});
      continue;
    }
    std::lock_guard lock(mu_);
    auto it = routes_.find(Key(gap.sdkappid, gap.group_id));
    if (it == routes_.end()) continue;
    Route& route = it->second;
    if (!gap.topic_id.empty() && !route.topics.count(gap.topic_id)) continue;  // destroyed
    Stream& stream = gap.topic_id.empty() ? route.main : route.topics[gap.topic_id];
    // A full page may not be all: the next pass reads on.
    stream.catch_up = range.events_size() >= static_cast<int>(request.limit());
    if (stream.catch_up) stream.gap_since = {};
    bool alive = true;
    for (const auto& event : range.events()) {
      if (!alive) break;
      if (event.seq() == stream.cursor + 1) alive = AdvanceLocked(route, event);
    }
    if (alive) DrainLocked(route, stream);
  }
}

}  // namespace parley::gateway
