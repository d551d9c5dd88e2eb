// Group delivery on one gateway (group_message.proto, docs/protocol.md).
//
// Group events reach a gateway once per event, not once per member: the
// gateway is in the group's gateway set (Redis) while it holds a session of
// a member. GroupRouter keeps, per group with members logged in here, which
// local users are members (with their MsgFlag) and the last seq handed out,
// and hands each event, in seq order, to those users' sessions. Events after
// a gap wait up to a short while for the missing ones, which are then read
// from the message service. Tips change the member list as they pass, so a
// kicked member gets the kick tip and nothing after it.
//
// A gateway leaves a group's gateway set when events of that group keep
// coming (kLeaveAfter) while it holds no member of it: the last one logged
// out, quit or was kicked. Leaving can race a route opening again (a login
// here, or a join tip the push service routed here just before the
// removal), so a route that opens within kRejoinWindow of leaving re-adds
// the gateway and reads from storage what came meanwhile, before handing
// out anything newer.
//
// Bounds: one route per group with a member logged in here; a route holds
// at most kMaxAhead waiting events; the groups noticed without a route or
// left recently are forgotten after kLeaveAfter and kRejoinWindow.
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "parley/presence/presence.h"
#include "parley/v1/client.pb.h"
#include "parley/v1/group_message.grpc.pb.h"

namespace parley::gateway {

// A group event as a ServerFrame, encoded at most once per encoding however
// many sessions it goes to.
class GroupEventFrame {
 public:
  explicit GroupEventFrame(const v1::GroupEvent& event) : event_(event) {}
  const v1::GroupEvent& event() const { return event_; }
  const std::shared_ptr<const std::string>& Encoded(bool binary);

 private:
  const v1::GroupEvent& event_;
  std::shared_ptr<const std::string> json_;
  std::shared_ptr<const std::string> binary_;
};

class GroupRouter {
 public:
  // Hands a frame to every live session of a user here.
  using Sink = std::function<void(uint64_t sdkappid, const std::string& user,
                                  GroupEventFrame& frame)>;
  // Whether the user has a session here.
  using IsLocal = std::function<bool(uint64_t sdkappid, const std::string& user)>;

  GroupRouter(std::string gateway_id, presence::Presence* presence,
              std::shared_ptr<v1::GroupMessageService::StubInterface> groups,
              std::chrono::milliseconds deadline, Sink sink, IsLocal is_local);

  // A user's first session here logged in: routes their groups here (blocking:
  // one call to the message service, one Redis round trip). Returns false
  // when the groups could not be read.
  bool Attach(uint64_t sdkappid, const std::string& user);
  // The user's last session here ended (kept if they are here again).
  void Detach(uint64_t sdkappid, const std::string& user);
  // A "group" entry of this gateway's stream.
  void OnEntry(uint64_t sdkappid, const std::string& payload);
  // The same, parsed.
  void OnEvent(uint64_t sdkappid, v1::GroupEvent event);
  // Reads from storage the gaps that waited longer than `wait` (blocking).
  void FillGaps(std::chrono::steady_clock::time_point now, std::chrono::milliseconds wait);

  size_t route_count();

  static constexpr size_t kMaxAhead = 256;
  static constexpr std::chrono::seconds kLeaveAfter{2};
  static constexpr std::chrono::seconds kRejoinWindow{30};

 private:
  // One seq: the group's own, or a Community topic's.
  struct Stream {
    uint64_t cursor = 0;  // last seq handed out
    std::map<uint64_t, v1::GroupEvent> ahead;
    std::chrono::steady_clock::time_point gap_since;
    bool catch_up = false;  // read after the cursor from storage
  };
  struct Route {
    uint64_t sdkappid = 0;
    std::string group_id;
    std::map<std::string, int32_t> members;  // local users -> MsgFlag
    Stream main;
    // A Community's topics, each in its own seq. Attach reads the heads of
    // those with events (topics_known); a topic first seen later starts at
    // 0 then, or, on a route a join opened, at its first event here.
    std::map<std::string, Stream> topics;
    bool topics_known = false;
    // Opened again soon after this gateway left the group's set: re-add it
    // (rejoin), then catch every stream up from storage.
    bool rejoin = false;
  };
  // A route opened at `key`: when this gateway left the group's set lately,
  // it must rejoin and catch up. mu_ held.
  void OpenedLocked(const std::string& key, Route& route);
  // Leaves the sets of groups whose events came here without a route for
  // kLeaveAfter (blocking: Redis).
  void LeaveIdleGroups(std::chrono::steady_clock::time_point now);
  // Hands out `event` (the route's next seq, or seq 0) and applies the
  // membership change of a tip. mu_ held. Returns false when the route ended.
  bool ProcessLocked(Route& route, const v1::GroupEvent& event);
  static std::vector<Stream*> Streams(Route& route);
  // ProcessLocked for an event of the route's own seq or of a topic's.
  bool AdvanceLocked(Route& route, const v1::GroupEvent& event);
  // Orders an event of one stream: hands it out when it is next, keeps it
  // when it is ahead. mu_ held. Returns false when the route ended.
  bool OrderLocked(Route& route, Stream& stream, v1::GroupEvent event);
  // Hands out waiting events that now follow the cursor. mu_ held.
  bool DrainLocked(Route& route, Stream& stream);
  void DispatchLocked(Route& route, const v1::GroupEvent& event);
  void EraseRouteLocked(const std::string& key);

  std::string gateway_id_;
  presence::Presence* presence_;
  std::shared_ptr<v1::GroupMessageService::StubInterface> groups_;
  std::chrono::milliseconds deadline_;
  Sink sink_;
  IsLocal is_local_;
  std::mutex mu_;
  std::map<std::string, Route> routes_;  // "<app>\n<group>"
  std::map<std::string, std::set<std::string>> user_groups_;  // "<app>\n<user>" -> groups
  // Groups whose events came with no route here, since when.
  std::map<std::string, std::chrono::steady_clock::time_point> unrouted_;
  // Groups whose sets this gateway left, when.
  std::map<std::string, std::chrono::steady_clock::time_point> left_;
};

}  // namespace parley::gateway
