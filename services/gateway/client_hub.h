// The client WebSocket side of a gateway instance (protocol: docs/protocol.md).
//
// ClientHub knows the live sessions of this instance, consumes this
// instance's Redis stream (parley:gw:<id>, fed by the push service and by
// kicks) and hands each entry to the sessions it is for. It marks the
// instance alive in Redis; if the instance dies its sessions are dropped from
// presence and clients reconnect elsewhere, resuming by timeline seq.
//
// ClientSession runs one connection: login, heartbeats, sends, sync, and
// in-order, exactly-once delivery of the user's timeline: it forwards an
// event only when its seq is the next one and fetches any gap from the
// message service first.
#pragma once

#include <atomic>
#include <deque>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parley/http/server.h"
#include "parley/presence/presence.h"
#include "parley/ratelimit/ratelimit.h"
#include "parley/redis/pool.h"
#include "parley/v1/push.grpc.pb.h"
#include "parley/v1/auth.grpc.pb.h"
#include "parley/v1/client.pb.h"
#include "parley/v1/group_message.grpc.pb.h"
#include "parley/v1/message.grpc.pb.h"
#include "parley/v1/push.pb.h"
#include "group_router.h"
#include "parley/liveroom/liveroom.h"
#include "parley/v1/group.grpc.pb.h"
#include "room_router.h"
#include "rest_api.h"
#include "send_batcher.h"

namespace parley::gateway {

struct ClientOptions {
  std::string gateway_id;
  uint32_t heartbeat_interval_seconds = 30;
  size_t max_frame_bytes = 64 * 1024;
  std::chrono::milliseconds rpc_deadline{3000};
  // A connection that has not logged in by then is closed (close code 4001).
  std::chrono::milliseconds login_deadline{10000};
  // How often rooms' presence is refreshed and changed online counts are
  // pushed (room_count frames).
  std::chrono::milliseconds room_tick{5000};
  // Room messages are gathered this long into one room_events frame per
  // session (0: each goes alone, at once).
  std::chrono::milliseconds room_batch{100};
};

// WebSocket close codes the gateway sends (docs/protocol.md).
inline constexpr uint16_t kCloseLoginTimeout = 4001;

class ClientSession;

// A timeline event as a ServerFrame, encoded at most once per encoding
// however many of the user's sessions it goes to. Not thread-safe: one
// dispatch uses it.
class EventFrame {
 public:
  explicit EventFrame(const v1::TimelineEvent& event) : event_(event) {}
  const v1::TimelineEvent& event() const { return event_; }
  // The frame {"event": ...} as JSON text, or as protobuf bytes.
  const std::string& Encoded(bool binary);

 private:
  const v1::TimelineEvent& event_;
  std::string json_;
  std::string binary_;
};

class ClientHub {
 public:
  ClientHub(ClientOptions options, std::shared_ptr<v1::AuthService::StubInterface> auth,
            std::shared_ptr<v1::MessageService::StubInterface> messages, redis::Pool* redis,
            redis::PoolOptions stream_connection);
  ~ClientHub();

  // For http::ServerOptions::ws_accept.
  std::shared_ptr<http::WsHandler> Accept(std::shared_ptr<http::WsConnection> connection,
                                          const http::Request& request);
  // Starts consuming this instance's stream and marking it alive.
  void Start();
  // Kicks every session ("server_shutdown") and stops consuming.
  void Stop();

  size_t session_count();
  // The REST routes sessions may call for their user (ApiCall frames).
  void SetApi(const RestApi* api) { api_ = api; }
  const RestApi* api() const { return api_; }

  // Used by sessions.
  const ClientOptions& options() const { return options_; }
  v1::AuthService::StubInterface* auth() { return auth_.get(); }
  v1::MessageService::StubInterface* messages() { return messages_.get(); }
  // Group delivery and the group_* frames; without it, none (tests).
  void SetGroupMessages(std::shared_ptr<v1::GroupMessageService::StubInterface> stub);
  v1::GroupMessageService::StubInterface* group_messages() { return group_messages_.get(); }
  GroupRouter* groups() { return groups_.get(); }
  // AVChatRooms (room_join, room_quit); without it, none (tests).
  void SetGroupService(std::shared_ptr<v1::GroupService::StubInterface> stub);
  v1::GroupService::StubInterface* group_service() { return group_service_.get(); }
  // All-member pushes a user missed, sent after login; without it, none.
  void SetPush(std::shared_ptr<v1::PushService::StubInterface> stub) { push_ = std::move(stub); }
  v1::PushService::StubInterface* push() { return push_.get(); }
  RoomRouter* rooms() { return rooms_.get(); }
  liveroom::Rooms* room_state() { return room_state_.get(); }
  SendBatcher& sends() { return sends_; }
  presence::Presence& presence() { return presence_; }
  void Register(const std::shared_ptr<ClientSession>& session);
  void Unregister(const ClientSession& session);
  // Runs blocking work (Redis presence writes) off gRPC callback threads and
  // WebSocket strands, in submission order per caller.
  void RunBlocking(std::function<void()> work);
  // Watches a session holding events that arrived ahead of a gap; it
  // fetches the gap from storage unless the gap fills within kGapWait.
  void WatchGap(const std::shared_ptr<ClientSession>& session);
  // Reads the session's latest timeline seq from storage soon, together with
  // other sessions' (one call per app), and hands it to OnTimelineHead.
  void CheckTimelineHead(const std::shared_ptr<ClientSession>& session);

 private:
  void ConsumeStream();
  void WatchGaps();
  void Dispatch(const presence::StreamEntry& entry);
  // Hands one event to the user's sessions here.
  void DispatchEvent(uint64_t sdkappid, const std::string& user_id, const v1::TimelineEvent& event);
  // The user's live sessions here (only `only_session`, when given).
  std::vector<std::shared_ptr<ClientSession>> SessionsOf(
      uint64_t sdkappid, const std::string& user_id, const std::string* only_session = nullptr);
  void CheckQueuedHeads();
  // Closes connections accepted longer than login_deadline ago that have not
  // logged in.
  void CheckLoginDeadlines(std::chrono::steady_clock::time_point now);

  ClientOptions options_;
  const RestApi* api_ = nullptr;
  std::shared_ptr<v1::AuthService::StubInterface> auth_;
  std::shared_ptr<v1::MessageService::StubInterface> messages_;
  std::shared_ptr<v1::GroupMessageService::StubInterface> group_messages_;
  std::unique_ptr<GroupRouter> groups_;
  std::atomic<bool> filling_group_gaps_{false};  // a FillGaps pass is queued or running
  std::shared_ptr<v1::GroupService::StubInterface> group_service_;
  std::shared_ptr<v1::PushService::StubInterface> push_;
  std::unique_ptr<liveroom::Rooms> room_state_;
  std::unique_ptr<RoomRouter> rooms_;
  std::atomic<bool> ticking_rooms_{false};  // a room Tick is queued or running
  redis::Pool* redis_;
  SendBatcher sends_;
  presence::Presence presence_;
  redis::PoolOptions stream_connection_;
  std::mutex mu_;
  // "<sdkappid>\n<user>" -> session id -> session
  std::map<std::string, std::map<std::string, std::weak_ptr<ClientSession>>> sessions_;
  std::atomic<bool> running_{false};
  std::string stream_start_id_;  // set by Start(); empty if Redis could not say
  std::thread consumer_;
  std::thread gap_watcher_;
  std::mutex gaps_mu_;
  std::vector<std::weak_ptr<ClientSession>> gaps_;
  std::vector<std::weak_ptr<ClientSession>> head_checks_;  // guarded by gaps_mu_
  // Connections waiting to log in, oldest first (one deadline for all, so
  // deadlines are in order). Guarded by gaps_mu_.
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::weak_ptr<ClientSession>>>
      login_deadlines_;
  // Last member: destroyed first, so queued work finishes while the rest lives.
  boost::asio::thread_pool blocking_{2};
};

class ClientSession : public http::WsHandler,
                      public RoomMember,
                      public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(ClientHub* hub, std::shared_ptr<http::WsConnection> connection,
                std::string client_ip);

  void OnMessage(std::string data, bool binary) override;
  void OnClose(bool timed_out) override;

  // An event from this user's timeline (any thread).
  void OnEvent(EventFrame& frame);
  // An event of one of the user's groups, in the group's seq order (any thread).
  void OnGroupEvent(GroupEventFrame& frame);
  // RoomMember: the session's AVChatRoom (any thread).
  void OnRoomEvent(GroupEventFrame& frame) override;
  void OnRoomBatch(const std::string& group_id, const std::shared_ptr<const std::string>& json,
                   const std::shared_ptr<const std::string>& binary) override;
  void OnRoomCount(const std::string& group_id, uint32_t count) override;
  void OnRoomLeft(const std::string& group_id, const std::string& reason) override;
  // Ends the session with a kick frame.
  void Kick(const std::string& reason);
  // Closes the connection unless it logged in (the hub's login deadline).
  void OnLoginDeadline();
  // Called by the hub's gap watcher: true while events are still held.
  bool CheckGap(std::chrono::steady_clock::time_point now);
  // The user's latest timeline seq, read from storage: anything after
  // cursor_ is fetched and forwarded.
  void OnTimelineHead(uint64_t max_seq);

  const std::string& session_id() const { return session_id_; }
  uint64_t sdkappid() const { return sdkappid_; }
  const std::string& user_id() const { return user_id_; }

 private:
  void HandleLogin(const std::string& id, const v1::LoginRequest& login);
  void HandleApi(const std::string& id, const v1::ApiCall& call);
  // Runs an api frame's command; `after` (may be empty) runs once answered.
  void RunApi(const std::string& id, const v1::ApiCall& call, std::function<void()> after);
  // A groupSend frame: SendGroup as this user, answered with group_send_ack.
  void HandleGroupSend(const std::string& id, v1::SendGroupRequest* send);
  // Group sends (groupSend frames and api send_group_msg) go out one at a
  // time per session, as one-to-one sends do. A job runs one and calls its
  // argument once answered. Queues one (true when none is in flight, so the
  // caller dispatches).
  using GroupSendJob = std::function<void(std::function<void()> done)>;
  bool QueueGroupSend(const std::string& id, GroupSendJob job);
  void DispatchNextGroupSend();
  // room_join and room_quit frames: one at a time per session.
  void HandleRoomJoin(const std::string& id, const std::string& group_id);
  void HandleRoomQuit(const std::string& id, const std::string& group_id);
  // Leaves `group_id` in Redis and tells the group service (exit and
  // member-state callbacks); off the caller's thread.
  void LeaveRoomLater(const std::string& group_id, const std::string& reason);
  // group_states, group_range and group_read frames.
  void HandleGroupFrame(const v1::ClientFrame& frame);
  // topics: get_topic's answer with each topic's unread count.
  void HandleTopics(const std::string& id, const v1::TopicsRequest& request);
  void HandlePushToken(const std::string& id, const v1::PushTokenRequest& request);
  void HandleAppState(const std::string& id, bool background);
  // Unregisters the push device this session registered (blocking: Redis).
  void ForgetDevice();
  // After login: the all-member pushes the user missed (seq-0 events).
  void FetchBroadcasts();
  void CompleteLogin(const std::string& id, const v1::LoginRequest& login,
                     const v1::AuthenticateResponse& auth);
  void HandleSend(const std::string& id, v1::SendRequest* send);
  void HandleSync(const std::string& id, const v1::SyncRequest& sync);
  // Calls an RPC (of the message service's MessageService or
  // GroupMessageService) as this user; `fill` puts the answer into the frame.
  template <class Async, class Req, class Resp>
  void CallForUser(Async* async, const std::string& id, Req request,
                   void (Async::*method)(grpc::ClientContext*, const Req*, Resp*,
                                         std::function<void(grpc::Status)>),
                   std::type_identity_t<std::function<void(const Resp&, v1::ServerFrame*)>> fill,
                   std::function<void()> after = nullptr);
  // Sends go to the message service one at a time per session, so a
  // client's messages are stored, and delivered, in the order it sent them.
  void DispatchNextSend();
  void SendFrame(const v1::ServerFrame& frame);
  void SendError(const std::string& id, int32_t code, const std::string& info,
                 uint32_t retry_after_ms = 0);
  // Fetches the timeline after cursor_ and forwards it; mu_ must be held.
  void StartCatchUpLocked();
  void ForwardLocked(EventFrame& frame);
  void ForwardLocked(const v1::TimelineEvent& event);
  // Forwards held events that now follow cursor_.
  void DrainAheadLocked();

  ClientHub* hub_;
  std::shared_ptr<http::WsConnection> connection_;
  std::atomic<bool> binary_{false};

  std::mutex mu_;
  enum class State { kNew, kLoggingIn, kLive, kClosed } state_ = State::kNew;
  int failed_logins_ = 0;
  std::string session_id_;
  uint64_t sdkappid_ = 0;
  std::string user_id_;
  std::string platform_;
  std::string client_ip_;
  std::string kick_reason_;  // set when the server ended the session
  bool logged_out_ = false;
  bool background_ = false;  // app_state: the app is in the background
  uint64_t cursor_ = 0;        // highest seq forwarded to the client
  uint64_t highest_seen_ = 0;  // highest seq announced by pushes
  bool catching_up_ = false;
  // Pushes of one user's events can overtake each other (two sends commit
  // in one order and reach push in the other). Events after a gap wait here
  // briefly instead of triggering a storage read at once.
  std::map<uint64_t, v1::TimelineEvent> ahead_;
  std::chrono::steady_clock::time_point gap_since_;
  // A list, not a deque: libstdc++'s deque allocates ~1 KB up front even
  // when empty, and almost every session's queue is empty.
  std::list<std::pair<std::string, v1::SendC2CRequest>> send_queue_;
  bool send_in_flight_ = false;
  std::list<GroupSendJob> group_send_queue_;
  bool group_send_in_flight_ = false;
  // The AVChatRoom this session is in ("" none), and whether a room_join
  // or room_quit is being handled.
  std::string room_;
  bool room_busy_ = false;
  // Sends per second this session may make (the app's setting, at login).
  int64_t sends_per_second_ = 50;
  ratelimit::TokenBucket send_bucket_;
};

}  // namespace parley::gateway
