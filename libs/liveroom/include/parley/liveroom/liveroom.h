// AVChatRoom (live room) state in Redis: who is in a room, their marks, the
// room's message rate and its last messages. Membership is presence: the
// gateways that hold the sessions write it, and nothing of it is in
// PostgreSQL (docs/architecture.md, "Live rooms").
//
// Keys (the SDKAppID is hash-tagged, so a room's keys share a cluster slot):
//   parley:{<app>}:room:<group>:joined   zset  user -> join time (ms)
//   parley:{<app>}:room:<group>:seen     zset  user -> last refresh (ms)
//   parley:{<app>}:room:<group>:marks    hash  user -> "1000,1001"
//   parley:{<app>}:room:<group>:rate:<s> hash  h/n/l -> messages admitted in
//                                              second s (expires after 2 s)
//   parley:{<app>}:room:<group>:recent   list  "<ms>\n<GroupMessage bytes>",
//                                              newest first, 24 h
// A gateway refreshes its members' `seen` scores every few seconds; members
// not refreshed for kStale (their gateway died) are pruned by whoever counts
// next, and a room's `joined` and `seen` expire 3 x kStale after the last
// join or refresh. A user with sessions in the room on two gateways stays in it while
// either refreshes. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/redis/pool.h"

namespace parley::liveroom {

inline constexpr int64_t kStaleMs = 20000;
// At most this many of a room's last messages are kept (Tencent: 20).
inline constexpr uint32_t kMaxRecent = 20;
inline constexpr int64_t kRecentMs = 24LL * 3600 * 1000;

struct Member {
  std::string user_id;
  int64_t join_ms = 0;
  std::vector<uint32_t> marks;
};

// What a room send was told by Admit.
enum class Admission { kAdmitted, kDropped, kNotInRoom };

class Rooms {
 public:
  explicit Rooms(redis::Pool* pool) : pool_(pool) {}

  // Users entered the room (one round trip).
  absl::Status Join(uint64_t sdkappid, const std::string& group_id,
                    const std::vector<std::string>& users, int64_t now_ms);
  // Users left the room.
  absl::Status Leave(uint64_t sdkappid, const std::string& group_id,
                     const std::vector<std::string>& users);
  // A gateway's members of the room are still there; prunes members nobody
  // refreshed for kStaleMs and returns the room's online count.
  absl::StatusOr<uint64_t> Refresh(uint64_t sdkappid, const std::string& group_id,
                                   const std::vector<std::string>& users, int64_t now_ms);
  // The online count (after pruning).
  absl::StatusOr<uint64_t> Count(uint64_t sdkappid, const std::string& group_id,
                                 int64_t now_ms);
  // Members who joined after `after_ms`, oldest first, at most `limit`
  // (only those with `mark`, when not 0).
  absl::StatusOr<std::vector<Member>> Members(uint64_t sdkappid, const std::string& group_id,
                                              int64_t after_ms, uint32_t mark, size_t limit,
                                              int64_t now_ms);
  // Which of `users` are in the room.
  absl::StatusOr<std::vector<std::string>> Present(uint64_t sdkappid, const std::string& group_id,
                                                   const std::vector<std::string>& users,
                                                   int64_t now_ms);
  // Adds (`add`) or removes marks of users.
  absl::Status Mark(uint64_t sdkappid, const std::string& group_id,
                    const std::vector<std::pair<std::string, std::vector<uint32_t>>>& marks,
                    bool add);

  // Frequency control for one room message (one round trip): `priority` is
  // 'h', 'n' or 'l'. A message of priority p is admitted while fewer than
  // `limit` messages of priority p or higher were admitted in this second,
  // so lower priorities never take a place a higher one needs. `exempt`
  // messages (system notices, the app admin's sends) are always admitted
  // and count as high. `user` (unless empty) must be in the room.
  absl::StatusOr<Admission> Admit(uint64_t sdkappid, const std::string& group_id,
                                  const std::string& user, char priority, uint32_t limit,
                                  bool exempt, int64_t now_ms);

  // Keeps a delivered message among the room's last `keep` (0: nothing).
  absl::Status Remember(uint64_t sdkappid, const std::string& group_id,
                        const std::string& message, uint32_t keep, int64_t now_ms);
  // The room's last messages of the last 24 hours, oldest first.
  absl::StatusOr<std::vector<std::string>> Recent(uint64_t sdkappid, const std::string& group_id,
                                                  uint32_t count, int64_t now_ms);
  // The room is gone.
  absl::Status Forget(uint64_t sdkappid, const std::string& group_id);

  static std::string Key(uint64_t sdkappid, const std::string& group_id, const char* part);

 private:
  redis::Pool* pool_;
};

// Unix time in milliseconds, the clock room presence is kept in.
int64_t NowMs();

// "1000,1001" <-> {1000, 1001}.
std::string JoinMarks(const std::vector<uint32_t>& marks);
std::vector<uint32_t> SplitMarks(const std::string& text);

}  // namespace parley::liveroom
