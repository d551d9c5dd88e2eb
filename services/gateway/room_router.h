// AVChatRoom (live room) delivery on one gateway (docs/architecture.md,
// "Live rooms"; docs/protocol.md, room_join).
//
// A session is in at most one room. RoomRouter keeps, per room with a
// session here, those sessions; the room's events (GroupEvents with
// LiveRoom set, seq 0, never stored) reach this gateway once through the
// room's gateway set, as group events do, and go to each of them, encoded
// once. Membership is presence: Enter and Leave write the room's Redis
// state (libs/liveroom), and Tick refreshes it for every local member, so a
// dead gateway's members drop out of the room after liveroom::kStaleMs.
// Tick also pushes the room's online count to its sessions here when it
// changed (at most once per tick), and leaves the gateway sets of rooms
// with nobody here.
//
// Bounds: one entry per room with a session here; one member entry per
// session (a session is in one room). Thread-safe; Enter, Leave and Tick
// block on Redis and run off sessions' strands.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "group_router.h"
#include "parley/liveroom/liveroom.h"
#include "parley/presence/presence.h"
#include "parley/v1/group_message.pb.h"

namespace parley::gateway {

// A session as a room member.
class RoomMember {
 public:
  virtual ~RoomMember() = default;
  // An event of the session's room (any thread).
  virtual void OnRoomEvent(GroupEventFrame& frame) = 0;
  // Several messages of the session's room in one encoded frame: JSON text
  // and protobuf bytes (the one the session speaks is sent).
  virtual void OnRoomBatch(const std::string& group_id,
                           const std::shared_ptr<const std::string>& json,
                           const std::shared_ptr<const std::string>& binary) = 0;
  // The room's online count changed.
  virtual void OnRoomCount(const std::string& group_id, uint32_t count) = 0;
  // The session was taken out of the room ("banned", "dismissed").
  virtual void OnRoomLeft(const std::string& group_id, const std::string& reason) = 0;
};

class RoomRouter {
 public:
  // Room messages are gathered for `batch_window` and go out as one
  // room_events frame per session (0: each at once, alone).
  RoomRouter(std::string gateway_id, presence::Presence* presence, liveroom::Rooms* rooms,
             std::chrono::milliseconds batch_window = std::chrono::milliseconds(100));

  // The session enters the room (blocking: Redis). Returns the online count:
  // read from Redis for a room new here, else the last tick's count (plus
  // this user when new here), so joins cost no count each.
  absl::StatusOr<uint32_t> Enter(uint64_t sdkappid, const std::string& group_id,
                                 const std::string& user, const std::string& session_id,
                                 std::weak_ptr<RoomMember> member);
  // The session left the room (blocking: Redis, unless the user is still in
  // it on another session here). No-op when it was not in it.
  void Leave(uint64_t sdkappid, const std::string& group_id, const std::string& user,
             const std::string& session_id);
  // A room event from this gateway's stream. Messages wait for the batch;
  // tips go out at once, after the messages before them.
  void OnEvent(uint64_t sdkappid, const v1::GroupEvent& event);
  // Sends the batches whose window passed (call it every few ms).
  void FlushDue(std::chrono::steady_clock::time_point now);
  // At most this many messages per batch: a fuller one goes out at once.
  static constexpr size_t kMaxBatch = 64;
  // Refreshes presence, pushes changed counts, leaves idle rooms' gateway
  // sets (blocking: Redis, one pipeline per room).
  void Tick();

 private:
  struct Member {
    std::string user;
    std::weak_ptr<RoomMember> session;
  };
  struct Room {
    uint64_t sdkappid = 0;
    std::string group_id;
    std::map<std::string, Member> sessions;  // session id ->
    int64_t last_count = -1;                 // last count pushed
    std::vector<v1::GroupEvent> batch;       // messages waiting
    std::chrono::steady_clock::time_point batch_since;
  };
  // Sends `room`'s waiting messages to its sessions. mu_ held.
  void FlushLocked(Room& room);
  static std::string Key(uint64_t sdkappid, const std::string& group_id);
  // Whether `user` has another session in `room`.
  static bool UserStays(const Room& room, const std::string& user);

  std::string gateway_id_;
  presence::Presence* presence_;
  liveroom::Rooms* rooms_;
  std::chrono::milliseconds batch_window_;
  // Orders joining and leaving a room's gateway set: held around the Redis
  // write that follows a room's first member here, and around Tick's
  // removal of empty rooms, so a removal never lands after a new first
  // member's add.
  std::mutex set_mu_;
  std::mutex mu_;  // rooms_ below; never held across Redis calls
  std::map<std::string, Room> rooms_by_key_;
};

}  // namespace parley::gateway
