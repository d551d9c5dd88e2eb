// A WebSocket client for end-to-end tests of the client protocol (JSON text
// frames). Reads take a timeout; a read that times out stays pending and the
// next call picks it up, so "nothing more arrives" can be asserted.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace parley::testing {

class WsClient {
 public:
  explicit WsClient(int port, const std::string& path = "/ws");
  ~WsClient();

  void SendText(const std::string& text);
  void SendBinary(const std::string& bytes);
  void Send(const nlohmann::json& frame) { SendText(frame.dump()); }

  // The next frame, or nullopt after `timeout_ms` (or when closed).
  std::optional<nlohmann::json> Next(int timeout_ms = 5000);
  // Sends a frame with `id` and returns the answer with that id; frames that
  // arrive first (pushes) are kept for NextEvent().
  nlohmann::json Call(const std::string& id, nlohmann::json frame, int timeout_ms = 5000);
  // As Call, but nullopt when no answer comes or the connection closes,
  // instead of failing the test: for worker threads, where Catch's
  // assertions must not run.
  std::optional<nlohmann::json> TryCall(const std::string& id, nlohmann::json frame,
                                        int timeout_ms = 5000);
  // Forgets frames read but not returned yet (events a load driver ignores).
  void ClearPending() { pending_.clear(); }
  // The next pushed timeline event ({"seq":..., "kind":..., ...}), or nullopt.
  std::optional<nlohmann::json> NextEvent(int timeout_ms = 5000);
  // The next pushed group event ({"GroupId":..., "Seq":..., "Kind":...}).
  std::optional<nlohmann::json> NextGroupEvent(int timeout_ms = 5000);
  // The next push whose frame has `key` (its value), or nullopt.
  std::optional<nlohmann::json> NextPush(const std::string& key, int timeout_ms = 5000);
  // The next frame as it came (binary protobuf frames), or nullopt.
  std::optional<std::string> NextBytes(int timeout_ms = 5000) { return ReadRaw(timeout_ms); }
  // The next kick frame's reason, or nullopt.
  std::optional<std::string> NextKick(int timeout_ms = 5000);

  // Logs in; returns the login answer (login_ack or error).
  nlohmann::json Login(uint64_t sdkappid, const std::string& user, const std::string& usersig,
                       const std::string& platform, std::optional<uint64_t> last_seq = {});
  // Sends a text message; returns the answer (send_ack or error).
  nlohmann::json SendText(const std::string& to, const std::string& text,
                          const std::string& client_msg_id = "");

  bool closed() const { return closed_; }
  // The close code the server sent (after closed()), 0 when none.
  int close_code() const { return close_code_; }

 private:
  std::optional<std::string> ReadRaw(int timeout_ms);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::deque<nlohmann::json> pending_;  // frames read but not yet returned
  bool closed_ = false;
  int close_code_ = 0;
  int next_id_ = 0;
};

// Seq of a pushed event (64-bit integers are JSON strings in protobuf's mapping).
uint64_t SeqOf(const nlohmann::json& event);

}  // namespace parley::testing
