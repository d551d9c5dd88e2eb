// Push devices: the vendor tokens that take a user's offline notifications.
//
// Key (beside the sessions, same hash tag): parley:{<app>}:devices:<user>,
// a hash "<channel>:<token>" -> Device JSON. A session registers its
// device's token (client frame push_token) and reports going to the
// background and back (app_state). A device is online while the session
// that registered it is connected and in the foreground; otherwise it takes
// offline notifications. Logging out or being kicked removes the session's
// device; a vendor that calls a token invalid removes it too. Bounds: 10
// devices per user (the oldest goes), tokens of at most 512 bytes, and a
// device not registered again for 7 days is forgotten (the key expires).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "parley/presence/presence.h"
#include "parley/redis/pool.h"

namespace parley::presence {

inline constexpr size_t kMaxDevicesPerUser = 10;
inline constexpr size_t kMaxPushTokenBytes = 512;
inline constexpr int64_t kDeviceLifetimeMs = 7LL * 24 * 3600 * 1000;

struct Device {
  std::string channel;  // APNs, FCM, Huawei, Xiaomi, OPPO, vivo, Honor
  std::string token;
  uint64_t business_id = 0;
  std::string platform;
  std::string session_id;  // the session that registered it last
  bool background = false;
  int64_t registered_ms = 0;
};

// The channels Parley pushes through, as clients name them.
const std::vector<std::string>& PushChannels();
bool IsPushChannel(const std::string& channel);
std::string DevicesKey(uint64_t sdkappid, const std::string& user_id);

// The devices that take a notification now: those whose registering session
// is not among `sessions` (connected) or is in the background.
std::vector<Device> OfflineDevices(const std::vector<Device>& devices,
                                   const std::vector<Session>& sessions);
// Tencent's status: "Online" with a connected foreground session,
// "PushOnline" with none but a device that takes notifications, else
// "Offline".
std::string PushStatus(const std::vector<Device>& devices, const std::vector<Session>& sessions);
// The user's PushStatus now, read from Redis (their sessions and devices).
absl::StatusOr<std::string> CurrentPushStatus(Presence& presence, uint64_t sdkappid,
                                              const std::string& user_id);

class Devices {
 public:
  explicit Devices(redis::Pool* pool) : pool_(pool) {}

  // Registers `device` for its session (one device per session: the
  // session's earlier token goes), dropping expired devices and, beyond
  // kMaxDevicesPerUser, the oldest. One atomic script.
  absl::Status Register(uint64_t sdkappid, const std::string& user_id, const Device& device);
  // Forgets the device `session_id` registered (logout, kick, empty token).
  absl::Status RemoveOfSession(uint64_t sdkappid, const std::string& user_id,
                               const std::string& session_id);
  absl::Status SetBackground(uint64_t sdkappid, const std::string& user_id,
                             const std::string& session_id, bool background);
  // A token the vendor called invalid.
  absl::Status Remove(uint64_t sdkappid, const std::string& user_id, const std::string& channel,
                      const std::string& token);
  // Every user's live devices, in one round trip.
  absl::StatusOr<std::map<std::string, std::vector<Device>>> OfUsers(
      uint64_t sdkappid, const std::vector<std::string>& user_ids);

 private:
  redis::Pool* pool_;
};

}  // namespace parley::presence
