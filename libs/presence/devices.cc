#include "parley/presence/devices.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace parley::presence {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Field(const std::string& channel, const std::string& token) {
  return absl::StrCat(channel, ":", token);
}

// KEYS[1] devices; ARGV: field, json, session, max, expired-before, lifetime.
constexpr char kRegisterScript[] = R"lua(
local all = redis.call('HGETALL', KEYS[1])
local keep = {}
for i = 1, #all, 2 do
  local ok, d = pcall(cjson.decode, all[i + 1])
  if all[i] ~= ARGV[1] then
    if (not ok) or type(d) ~= 'table' or d.s == ARGV[3] or (tonumber(d.at) or 0) < tonumber(ARGV[5]) then
      redis.call('HDEL', KEYS[1], all[i])
    else
      table.insert(keep, {all[i], tonumber(d.at) or 0})
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local over = #keep - tonumber(ARGV[4]) + 1
if over > 0 then
  table.sort(keep, function(a, b) return a[2] < b[2] end)
  for i = 1, over do redis.call('HDEL', KEYS[1], keep[i][1]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
)lua";

// KEYS[1] devices; ARGV: session, mode ("remove" or "bg"/"fg").
constexpr char kSessionScript[] = R"lua(
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local ok, d = pcall(cjson.decode, all[i + 1])
  if ok and type(d) == 'table' and d.s == ARGV[1] then
    if ARGV[2] == 'remove' then
      redis.call('HDEL', KEYS[1], all[i])
    else
      d.bg = (ARGV[2] == 'bg') and 1 or 0
      redis.call('HSET', KEYS[1], all[i], cjson.encode(d))
    end
    n = n + 1
  end
end
return n
)lua";

std::string Encode(const Device& d) {
  nlohmann::json j = {{"c", d.channel}, {"t", d.token},      {"b", d.business_id},
                      {"p", d.platform}, {"s", d.session_id}, {"bg", d.background ? 1 : 0},
                      {"at", d.registered_ms}};
  return j.dump();
}

bool Decode(const std::string& text, Device* d) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return false;
  try {
    d->channel = j.value("c", "");
    d->token = j.value("t", "");
    d->business_id = j.value("b", uint64_t{0});
    d->platform = j.value("p", "");
    d->session_id = j.value("s", "");
    d->background = j.value("bg", 0) != 0;
    // cjson writes numbers as doubles ("1.7e+12") when it re-encodes.
    d->registered_ms = j.contains("at") && j["at"].is_number()
                           ? static_cast<int64_t>(j["at"].get<double>())
                           : 0;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
  return !d->channel.empty() && !d->token.empty();
}

}  // namespace

const std::vector<std::string>& PushChannels() {
  static const std::vector<std::string> channels = {"APNs",   "FCM",  "Huawei", "Xiaomi",
                                                    "OPPO",   "vivo", "Honor"};
  return channels;
}

bool IsPushChannel(const std::string& channel) {
  const auto& all = PushChannels();
  return std::find(all.begin(), all.end(), channel) != all.end();
}

std::string DevicesKey(uint64_t sdkappid, const std::string& user_id) {
  return absl::StrCat("parley:{", sdkappid, "}:devices:", user_id);
}

std::vector<Device> OfflineDevices(const std::vector<Device>& devices,
                                   const std::vector<Session>& sessions) {
  std::set<std::string> connected;
  for (const auto& s : sessions) connected.insert(s.session_id);
  std::vector<Device> out;
  for (const auto& d : devices) {
    if (d.background || !connected.count(d.session_id)) out.push_back(d);
  }
  return out;
}

std::string PushStatus(const std::vector<Device>& devices, const std::vector<Session>& sessions) {
  std::set<std::string> background;
  for (const auto& d : devices) {
    if (d.background) background.insert(d.session_id);
  }
  for (const auto& s : sessions) {
    if (!background.count(s.session_id)) return "Online";
  }
  return devices.empty() ? "Offline" : "PushOnline";
}

absl::StatusOr<std::string> CurrentPushStatus(Presence& presence, uint64_t sdkappid,
                                              const std::string& user_id) {
  auto sessions = presence.Sessions(sdkappid, user_id);
  if (!sessions.ok()) return sessions.status();
  auto devices = Devices(presence.pool()).OfUsers(sdkappid, {user_id});
  if (!devices.ok()) return devices.status();
  return PushStatus((*devices)[user_id], *sessions);
}

absl::Status Devices::Register(uint64_t sdkappid, const std::string& user_id,
                               const Device& device) {
  Device d = device;
  if (d.registered_ms == 0) d.registered_ms = NowMs();
  return pool_
      ->Command({"EVAL", kRegisterScript, "1", DevicesKey(sdkappid, user_id),
                 Field(d.channel, d.token), Encode(d), d.session_id,
                 std::to_string(kMaxDevicesPerUser), std::to_string(NowMs() - kDeviceLifetimeMs),
                 std::to_string(kDeviceLifetimeMs)})
      .status();
}

absl::Status Devices::RemoveOfSession(uint64_t sdkappid, const std::string& user_id,
                                      const std::string& session_id) {
  return pool_
      ->Command({"EVAL", kSessionScript, "1", DevicesKey(sdkappid, user_id), session_id, "remove"})
      .status();
}

absl::Status Devices::SetBackground(uint64_t sdkappid, const std::string& user_id,
                                    const std::string& session_id, bool background) {
  return pool_
      ->Command({"EVAL", kSessionScript, "1", DevicesKey(sdkappid, user_id), session_id,
                 background ? "bg" : "fg"})
      .status();
}

absl::Status Devices::Remove(uint64_t sdkappid, const std::string& user_id,
                             const std::string& channel, const std::string& token) {
  return pool_->Command({"HDEL", DevicesKey(sdkappid, user_id), Field(channel, token)}).status();
}

absl::StatusOr<std::map<std::string, std::vector<Device>>> Devices::OfUsers(
    uint64_t sdkappid, const std::vector<std::string>& user_ids) {
  std::vector<std::vector<std::string>> reads;
  for (const auto& user : user_ids) reads.push_back({"HGETALL", DevicesKey(sdkappid, user)});
  std::map<std::string, std::vector<Device>> out;
  if (reads.empty()) return out;
  auto replies = pool_->Pipeline(reads);
  if (!replies.ok()) return replies.status();
  int64_t expired_before = NowMs() - kDeviceLifetimeMs;
  for (size_t u = 0; u < user_ids.size(); ++u) {
    if (!(*replies)[u].ok()) return (*replies)[u].status();
    const redis::Reply& all = *(*replies)[u];
    auto& devices = out[user_ids[u]];
    for (size_t i = 0; i + 1 < all.size(); i += 2) {
      Device d;
      if (Decode(all.element(i + 1), &d) && d.registered_ms >= expired_before) {
        devices.push_back(std::move(d));
      }
    }
  }
  return out;
}

}  // namespace parley::presence
