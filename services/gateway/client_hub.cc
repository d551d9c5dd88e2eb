#include "client_hub.h"

#include <nlohmann/json.hpp>

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"
#include "parley/presence/devices.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"
#include "parley/rpc/client.h"
#include "parley/rpc/tls.h"

namespace parley::gateway {
namespace {

constexpr int32_t kBadPacket = 20001;
// The client-contract codes (docs/protocol.md), numbered after the Tencent
// client-SDK errors of the same meaning where there is one:
// a request other than login before the session logged in;
constexpr int32_t kNotLoggedIn = 6014;
// a second login on a connection (Tencent's "operation in progress");
constexpr int32_t kAlreadyLoggedIn = 6015;
// a frame with no request this server knows (a newer client, say);
constexpr int32_t kUnknownRequest = 6017;
// back off: faster than the app allows; the frame says how long to wait.
constexpr int32_t kTooFast = 7008;
// How long events after a gap wait for the missing one before it is read
// from storage, and how many may wait.
constexpr auto kGapWait = std::chrono::milliseconds(30);
constexpr size_t kMaxAhead = 64;
// How often queued timeline-head checks go out: one call per app each time.
constexpr auto kHeadCheckInterval = std::chrono::milliseconds(250);
constexpr int kMaxHeadsPerCall = 1000;
constexpr int32_t kInternal = 20005;
constexpr int kMaxFailedLogins = 3;
// Sends a client may have waiting behind the one in flight.
constexpr size_t kMaxQueuedSends = 256;

std::string HubKey(uint64_t sdkappid, const std::string& user) {
  return absl::StrCat(sdkappid, "\n", user);
}

std::string NewSessionId() {
  std::string raw(12, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  return absl::BytesToHexString(raw);
}

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

metrics::Gauge& SessionsGauge() {
  static auto& gauge = metrics::Registry::Default().GetGauge(
      "parley_gateway_sessions", "logged-in client sessions on this instance");
  return gauge;
}

}  // namespace

// --- EventFrame --------------------------------------------------------------

const std::string& EventFrame::Encoded(bool binary) {
  if (binary) {
    if (binary_.empty()) {
      // ServerFrame{event}: the event as a length-delimited field.
      google::protobuf::io::StringOutputStream stream(&binary_);
      google::protobuf::io::CodedOutputStream out(&stream);
      out.WriteTag(google::protobuf::internal::WireFormatLite::MakeTag(
          v1::ServerFrame::kEventFieldNumber,
          google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
      out.WriteVarint32(static_cast<uint32_t>(event_.ByteSizeLong()));
      event_.SerializeWithCachedSizes(&out);
    }
    return binary_;
  }
  if (json_.empty()) json_ = absl::StrCat("{\"event\":", protojson::Print(event_), "}");
  return json_;
}

// --- ClientHub ---------------------------------------------------------------

ClientHub::ClientHub(ClientOptions options, std::shared_ptr<v1::AuthService::StubInterface> auth,
                     std::shared_ptr<v1::MessageService::StubInterface> messages,
                     redis::Pool* redis, redis::PoolOptions stream_connection)
    : options_(std::move(options)),
      auth_(std::move(auth)),
      messages_(std::move(messages)),
      redis_(redis),
      sends_(messages_.get(), {.deadline = options_.rpc_deadline}),
      presence_(redis),
      stream_connection_(std::move(stream_connection)) {}

ClientHub::~ClientHub() {
  Stop();
  blocking_.join();  // let queued presence removals finish (the destructor would drop them)
}

std::shared_ptr<http::WsHandler> ClientHub::Accept(std::shared_ptr<http::WsConnection> connection,
                                                   const http::Request& request) {
  if (!running_) return nullptr;
  auto session = std::make_shared<ClientSession>(this, std::move(connection), request.remote_ip);
  std::lock_guard lock(gaps_mu_);
  login_deadlines_.emplace_back(std::chrono::steady_clock::now() + options_.login_deadline,
                                session);
  return session;
}

void ClientHub::CheckLoginDeadlines(std::chrono::steady_clock::time_point now) {
  std::vector<std::weak_ptr<ClientSession>> expired;
  {
    std::lock_guard lock(gaps_mu_);
    while (!login_deadlines_.empty() && login_deadlines_.front().first <= now) {
      expired.push_back(std::move(login_deadlines_.front().second));
      login_deadlines_.pop_front();
    }
  }
  for (auto& weak : expired) {
    if (auto session = weak.lock()) session->OnLoginDeadline();
  }
}

void ClientHub::Start() {
  // Where reading starts, fixed before any session can register: an event
  // pushed to a session that logs in right away lands after this point, and
  // is not taken for a leftover of a previous life of this gateway.
  if (auto newest = presence_.NewestStreamId(options_.gateway_id); newest.ok()) {
    stream_start_id_ = *newest;
  }
  // Alive before the first session registers, so routes to it are used.
  (void)presence_.HeartbeatGateway(options_.gateway_id, 15);
  running_ = true;
  consumer_ = std::thread([this] { ConsumeStream(); });
  gap_watcher_ = std::thread([this] { WatchGaps(); });
}

void ClientHub::SetGroupMessages(std::shared_ptr<v1::GroupMessageService::StubInterface> stub) {
  group_messages_ = stub;
  groups_ = std::make_unique<GroupRouter>(
      options_.gateway_id, &presence_, std::move(stub), options_.rpc_deadline,
      [this](uint64_t sdkappid, const std::string& user, GroupEventFrame& frame) {
        for (auto& s : SessionsOf(sdkappid, user)) s->OnGroupEvent(frame);
      },
      [this](uint64_t sdkappid, const std::string& user) {
        std::lock_guard lock(mu_);
        return sessions_.count(HubKey(sdkappid, user)) > 0;
      });
}

void ClientHub::SetGroupService(std::shared_ptr<v1::GroupService::StubInterface> stub) {
  group_service_ = std::move(stub);
  room_state_ = std::make_unique<liveroom::Rooms>(redis_);
  rooms_ = std::make_unique<RoomRouter>(options_.gateway_id, &presence_, room_state_.get(),
                                        options_.room_batch);
}

void ClientHub::WatchGap(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(gaps_mu_);
  gaps_.push_back(session);
}

void ClientHub::CheckTimelineHead(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(gaps_mu_);
  head_checks_.push_back(session);
}

void ClientHub::CheckQueuedHeads() {
  std::vector<std::weak_ptr<ClientSession>> queued;
  {
    std::lock_guard lock(gaps_mu_);
    queued.swap(head_checks_);
  }
  // Calls of at most kMaxHeadsPerCall sessions, each of one app.
  std::map<uint64_t, std::vector<std::vector<std::shared_ptr<ClientSession>>>> calls;
  for (auto& weak : queued) {
    auto session = weak.lock();
    if (!session) continue;
    auto& app_calls = calls[session->sdkappid()];
    if (app_calls.empty() || app_calls.back().size() == kMaxHeadsPerCall) app_calls.emplace_back();
    app_calls.back().push_back(std::move(session));
  }
  for (auto& [sdkappid, app_calls] : calls) {
    for (auto& sessions : app_calls) {
      rpc::Caller gateway = rpc::ServiceCaller(sdkappid, rpc::kGatewayIdentity);
      auto call = rpc::NewAsyncCall<v1::GetTimelineHeadsRequest, v1::GetTimelineHeadsResponse>(
          &gateway, options_.rpc_deadline);
      for (const auto& session : sessions) call->request.add_user_ids(session->user_id());
      messages_->async()->GetTimelineHeads(
          call->context.get(), &call->request, &call->response,
          [call, sessions = std::move(sessions)](grpc::Status status) {
            int expected = static_cast<int>(sessions.size());
            if (!status.ok() || call->response.max_seqs_size() != expected) {
              // The next heartbeat asks again.
              log::Warn("timeline_head_check_failed",
                        {{"sessions", expected}, {"error", status.error_message()}});
              return;
            }
            for (size_t i = 0; i < sessions.size(); ++i) {
              sessions[i]->OnTimelineHead(call->response.max_seqs(static_cast<int>(i)));
            }
          });
    }
  }
}

void ClientHub::WatchGaps() {
  auto last_head_check = std::chrono::steady_clock::now();
  auto last_room_tick = last_head_check;
  while (running_) {
    std::this_thread::sleep_for(kGapWait / 3);
    if (std::chrono::steady_clock::now() - last_head_check >= kHeadCheckInterval) {
      last_head_check = std::chrono::steady_clock::now();
      CheckQueuedHeads();
      CheckLoginDeadlines(last_head_check);
    }
    if (rooms_) rooms_->FlushDue(std::chrono::steady_clock::now());
    // Room presence refreshes and counts: Redis, off this thread, one at a time.
    if (rooms_ && std::chrono::steady_clock::now() - last_room_tick >= options_.room_tick &&
        !ticking_rooms_.exchange(true)) {
      last_room_tick = std::chrono::steady_clock::now();
      RunBlocking([this] {
        rooms_->Tick();
        ticking_rooms_ = false;
      });
    }
    // Group gap reads are RPCs: off this thread, which also watches the
    // sessions' gaps and login deadlines, and one pass at a time.
    if (groups_ && !filling_group_gaps_.exchange(true)) {
      RunBlocking([this] {
        groups_->FillGaps(std::chrono::steady_clock::now(), kGapWait);
        filling_group_gaps_ = false;
      });
    }
    std::vector<std::weak_ptr<ClientSession>> watched;
    {
      std::lock_guard lock(gaps_mu_);
      watched.swap(gaps_);
    }
    auto now = std::chrono::steady_clock::now();
    std::vector<std::weak_ptr<ClientSession>> still;
    for (auto& weak : watched) {
      auto session = weak.lock();
      if (session && session->CheckGap(now)) still.push_back(std::move(weak));
    }
    std::lock_guard lock(gaps_mu_);
    gaps_.insert(gaps_.end(), std::make_move_iterator(still.begin()),
                 std::make_move_iterator(still.end()));
  }
}

void ClientHub::Stop() {
  if (!running_.exchange(false)) return;
  consumer_.join();
  gap_watcher_.join();
  std::vector<std::shared_ptr<ClientSession>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, sessions] : sessions_) {
      for (auto& [id, weak] : sessions) {
        if (auto s = weak.lock()) all.push_back(s);
      }
    }
  }
  for (auto& s : all) s->Kick("server_shutdown");
}

size_t ClientHub::session_count() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (auto& [key, sessions] : sessions_) n += sessions.size();
  return n;
}

void ClientHub::Register(const std::shared_ptr<ClientSession>& session) {
  std::lock_guard lock(mu_);
  sessions_[HubKey(session->sdkappid(), session->user_id())][session->session_id()] = session;
  SessionsGauge().Add(1);
}

void ClientHub::RunBlocking(std::function<void()> work) {
  boost::asio::post(blocking_, std::move(work));
}

void ClientHub::Unregister(const ClientSession& session) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(HubKey(session.sdkappid(), session.user_id()));
  if (it == sessions_.end()) return;
  if (it->second.erase(session.session_id())) SessionsGauge().Add(-1);
  if (!it->second.empty()) return;
  sessions_.erase(it);
  if (groups_) {
    // Off mu_: the router takes its lock, then asks under it whether the
    // user logged in here again meanwhile (then it keeps their routes).
    RunBlocking([this, app = session.sdkappid(), user = session.user_id()] {
      groups_->Detach(app, user);
    });
  }
}

std::vector<std::shared_ptr<ClientSession>> ClientHub::SessionsOf(
    uint64_t sdkappid, const std::string& user_id, const std::string* only_session) {
  std::vector<std::shared_ptr<ClientSession>> sessions;
  std::lock_guard lock(mu_);
  auto it = sessions_.find(HubKey(sdkappid, user_id));
  if (it == sessions_.end()) return sessions;
  for (auto& [id, weak] : it->second) {
    if (only_session && id != *only_session) continue;
    if (auto s = weak.lock()) sessions.push_back(std::move(s));
  }
  return sessions;
}

void ClientHub::DispatchEvent(uint64_t sdkappid, const std::string& user_id,
                              const v1::TimelineEvent& event) {
  auto targets = SessionsOf(sdkappid, user_id);
  if (targets.empty()) return;
  EventFrame frame(event);
  for (auto& s : targets) s->OnEvent(frame);
}

void ClientHub::Dispatch(const presence::StreamEntry& entry) {
  if (entry.type == "kick") {
    for (auto& s : SessionsOf(entry.sdkappid, entry.user_id, &entry.session_id)) {
      s->Kick(entry.payload);
    }
    return;
  }
  if (entry.type == "group") {
    v1::GroupEvent event;
    if (!event.ParseFromString(entry.payload)) return;
    if (event.live_room()) {
      if (rooms_) rooms_->OnEvent(entry.sdkappid, event);
    } else if (groups_) {
      groups_->OnEvent(entry.sdkappid, std::move(event));
    }
    return;
  }
  if (entry.type != "events") return;
  google::protobuf::Arena arena;  // the events' many small parts go at once
  auto* batch = google::protobuf::Arena::CreateMessage<v1::GatewayEvents>(&arena);
  auto* event = google::protobuf::Arena::CreateMessage<v1::TimelineEvent>(&arena);
  if (!batch->ParseFromString(entry.payload)) return;
  for (const auto& delivery : batch->deliveries()) {
    if (event->ParseFromString(delivery.event())) {
      DispatchEvent(entry.sdkappid, delivery.user_id(), *event);
    }
  }
}

void ClientHub::ConsumeStream() {
  const std::string stream = presence::GatewayStream(options_.gateway_id);
  std::unique_ptr<redis::Pool> connection;
  std::string last_id = stream_start_id_;
  bool alive_ok = false;
  auto last_alive = std::chrono::steady_clock::now();
  while (running_) {
    // Without the alive key, push routes nothing here: set it before all else
    // and keep refreshing it.
    if (!alive_ok || std::chrono::steady_clock::now() - last_alive > std::chrono::seconds(5)) {
      alive_ok = presence_.HeartbeatGateway(options_.gateway_id, 15).ok();
      if (alive_ok) last_alive = std::chrono::steady_clock::now();
    }
    if (!connection) {
      auto pool = redis::Pool::Create(stream_connection_);
      if (!pool.ok()) {
        log::Warn("stream_connect_failed", {{"error", std::string(pool.status().message())}});
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      connection = std::move(*pool);
    }
    if (last_id.empty()) {
      // Redis was down at Start(): begin after the newest entry now.
      auto newest = presence_.NewestStreamId(options_.gateway_id);
      if (!newest.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      last_id = *newest;
    }
    auto reply =
        connection->Command({"XREAD", "COUNT", "512", "BLOCK", "1000", "STREAMS", stream, last_id});
    if (!reply.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    const redisReply* r = reply->raw();
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) continue;
    const redisReply* entries = r->element[0]->element[1];
    for (size_t i = 0; i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      last_id.assign(entry->element[0]->str, entry->element[0]->len);
      const redisReply* fields = entry->element[1];
      presence::StreamEntry parsed;
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        std::string name(fields->element[f]->str, fields->element[f]->len);
        std::string value(fields->element[f + 1]->str, fields->element[f + 1]->len);
        if (name == "type")
          parsed.type = value;
        else if (name == "app")
          parsed.sdkappid = std::strtoull(value.c_str(), nullptr, 10);
        else if (name == "user")
          parsed.user_id = value;
        else if (name == "session")
          parsed.session_id = value;
        else if (name == "payload")
          parsed.payload = value;
      }
      Dispatch(parsed);
    }
  }
}

// --- ClientSession -----------------------------------------------------------

ClientSession::ClientSession(ClientHub* hub, std::shared_ptr<http::WsConnection> connection,
                             std::string client_ip)
    : hub_(hub), connection_(std::move(connection)), client_ip_(std::move(client_ip)) {}

void ClientSession::SendFrame(const v1::ServerFrame& frame) {
  if (binary_) return connection_->Send(frame.SerializeAsString(), true);
  connection_->Send(protojson::Print(frame), false);
}

void ClientSession::SendError(const std::string& id, int32_t code, const std::string& info,
                              uint32_t retry_after_ms) {
  v1::ServerFrame frame;
  frame.set_id(id);
  frame.mutable_error()->set_error_code(code);
  frame.mutable_error()->set_error_info(info);
  if (retry_after_ms > 0) frame.mutable_error()->set_retry_after_ms(retry_after_ms);
  SendFrame(frame);
}

template <class Async, class Req, class Resp>
void ClientSession::CallForUser(
    Async* async, const std::string& id, Req request,
    void (Async::*method)(grpc::ClientContext*, const Req*, Resp*,
                          std::function<void(grpc::Status)>),
    std::type_identity_t<std::function<void(const Resp&, v1::ServerFrame*)>> fill,
    std::function<void()> after) {
  rpc::Caller caller;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kBadPacket, "log in first");
    caller = {sdkappid_, user_id_, false, platform_, client_ip_};
  }
  auto call = rpc::NewAsyncCall<Req, Resp>(&caller, hub_->options().rpc_deadline);
  call->request = std::move(request);  // the service acts for the caller, whatever it names
  (async->*method)(
      call->context.get(), &call->request, &call->response,
      [self = shared_from_this(), call, id, fill = std::move(fill),
       after = std::move(after)](grpc::Status status) {
        if (!status.ok()) {
          absl::Status error = errors::FromGrpc(status);
          self->SendError(id, errors::TencentCode(error, kInternal), std::string(error.message()));
        } else {
          v1::ServerFrame frame;
          frame.set_id(id);
          fill(call->response, &frame);
          self->SendFrame(frame);
        }
        if (after) after();
      });
}

void ClientSession::OnMessage(std::string data, bool binary) {
  v1::ClientFrame frame;
  if (data.size() > hub_->options().max_frame_bytes) {
    return SendError("", kBadPacket, "frame is larger than the limit");
  }
  if (binary) {
    if (!frame.ParseFromString(data)) {
      return SendError("", kBadPacket, "frame is not a valid ClientFrame");
    }
  } else if (auto st = protojson::Parse(data, &frame, {/*ignore_unknown_fields=*/true}); !st.ok()) {
    // A JSON object whose "id" is readable gets its answer with that id, so
    // the client's pending call completes (a field of the wrong type, say).
    std::string id;
    if (!protojson::TooDeep(data)) {
      auto json = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
      if (json.is_object() && json.contains("id") && json["id"].is_string()) {
        id = json["id"].get<std::string>();
      }
    }
    return SendError(id, kBadPacket, absl::StrCat("frame is not a valid ClientFrame: ", st.message()));
  }
  // PostgreSQL text holds no NUL; message bodies are stored as escaped JSON.
  if (std::string nul = protojson::FindNul(frame, {"body"}); !nul.empty()) {
    return SendError(frame.id(), kBadPacket, nul + " contains a NUL character");
  }
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kNew) binary_ = binary;  // answers follow the login's encoding
    if (frame.body_case() == v1::ClientFrame::BODY_NOT_SET) {
      return SendError(frame.id(), kUnknownRequest,
                       "no request this server knows: login, heartbeat, send, sync, recall, "
                       "edit, read, history, conversations, pin, api or logout");
    }
    if (state_ != State::kLive && frame.body_case() != v1::ClientFrame::kLogin) {
      // Nothing but a login keeps a connection that has not logged in: not
      // even heartbeats (the login deadline closes it).
      return SendError(frame.id(), kNotLoggedIn, "log in first");
    }
  }
  switch (frame.body_case()) {
    case v1::ClientFrame::kLogin:
      return HandleLogin(frame.id(), frame.login());
    case v1::ClientFrame::kHeartbeat: {
      v1::ServerFrame ack;
      ack.set_id(frame.id());
      ack.mutable_heartbeat_ack();
      SendFrame(ack);
      std::lock_guard lock(mu_);
      if (state_ != State::kLive || catching_up_) return;
      if (highest_seen_ > cursor_) return StartCatchUpLocked();  // a catch-up failed earlier
      // A push that never came (push down past its retries, or a message
      // service that died between storing and pushing) leaves no gap for
      // later events to reveal if it was the last one. Storage knows.
      hub_->CheckTimelineHead(shared_from_this());
      return;
    }
    case v1::ClientFrame::kSend:
      return HandleSend(frame.id(), frame.mutable_send());
    case v1::ClientFrame::kSync:
      return HandleSync(frame.id(), frame.sync());
    case v1::ClientFrame::kLogout: {
      {
        std::lock_guard lock(mu_);
        logged_out_ = true;
      }
      // The device takes no more notifications from the moment the logout
      // is acknowledged (the close handshake may take a while).
      hub_->RunBlocking([self = shared_from_this(), id = frame.id()] {
        // Offline from the ack on, not from the end of the close handshake.
        (void)self->hub_->presence().RemoveSession(self->sdkappid_, self->user_id_,
                                                   self->session_id_);
        self->ForgetDevice();
        v1::ServerFrame ack;
        ack.set_id(id);
        ack.mutable_logout_ack();
        self->SendFrame(ack);
        self->connection_->Close();
      });
      return;
    }
    case v1::ClientFrame::kRecall:
      return CallForUser(
          hub_->messages()->async(), frame.id(), frame.recall(), &v1::MessageService::StubInterface::async_interface::Recall,
          [](const auto&, v1::ServerFrame* out) { out->mutable_ack(); });
    case v1::ClientFrame::kEdit:
      return CallForUser(
          hub_->messages()->async(), frame.id(), frame.edit(), &v1::MessageService::StubInterface::async_interface::Modify,
          [](const auto&, v1::ServerFrame* out) { out->mutable_ack(); });
    case v1::ClientFrame::kRead:
      return CallForUser(
          hub_->messages()->async(), frame.id(), frame.read(), &v1::MessageService::StubInterface::async_interface::MarkRead,
          [](const auto&, v1::ServerFrame* out) { out->mutable_ack(); });
    case v1::ClientFrame::kHistory:
      return CallForUser(
          hub_->messages()->async(), frame.id(), frame.history(),
          &v1::MessageService::StubInterface::async_interface::GetRoamMessages,
          [](const auto& r, v1::ServerFrame* out) { *out->mutable_history() = r; });
    case v1::ClientFrame::kConversations:
      return CallForUser(
          hub_->messages()->async(), frame.id(), frame.conversations(),
          &v1::MessageService::StubInterface::async_interface::GetConversations,
          [](const auto& r, v1::ServerFrame* out) { *out->mutable_conversations() = r; });
    case v1::ClientFrame::kPin:
      return CallForUser(
          hub_->messages()->async(), frame.id(), frame.pin(),
          &v1::MessageService::StubInterface::async_interface::PinConversation,
          [](const auto&, v1::ServerFrame* out) { out->mutable_ack(); });
    case v1::ClientFrame::kApi:
      return HandleApi(frame.id(), frame.api());
    case v1::ClientFrame::kGroupSend:
      return HandleGroupSend(frame.id(), frame.mutable_group_send());
    case v1::ClientFrame::kGroupStates:
    case v1::ClientFrame::kGroupRange:
    case v1::ClientFrame::kGroupRead:
    case v1::ClientFrame::kGroupRanges:
      return HandleGroupFrame(frame);
    case v1::ClientFrame::kRoomJoin:
      return HandleRoomJoin(frame.id(), frame.room_join().group_id());
    case v1::ClientFrame::kRoomQuit:
      return HandleRoomQuit(frame.id(), frame.room_quit().group_id());
    case v1::ClientFrame::kTopics:
      return HandleTopics(frame.id(), frame.topics());
    case v1::ClientFrame::kPushToken:
      return HandlePushToken(frame.id(), frame.push_token());
    case v1::ClientFrame::kAppState:
      return HandleAppState(frame.id(), frame.app_state().background());
    case v1::ClientFrame::BODY_NOT_SET:  // answered above
      return;
  }
}

void ClientSession::HandleGroupFrame(const v1::ClientFrame& frame) {
  auto* groups = hub_->group_messages();
  if (groups == nullptr) return SendError(frame.id(), kUnknownRequest, "groups are not served here");
  using Async = v1::GroupMessageService::StubInterface::async_interface;
  switch (frame.body_case()) {
    case v1::ClientFrame::kGroupStates:
      return CallForUser(groups->async(), frame.id(), frame.group_states(),
                         &Async::GetGroupStates,
                         [](const auto& r, v1::ServerFrame* out) { *out->mutable_group_states() = r; });
    case v1::ClientFrame::kGroupRange:
      return CallForUser(groups->async(), frame.id(), frame.group_range(), &Async::GetGroupRange,
                         [](const auto& r, v1::ServerFrame* out) { *out->mutable_group_range() = r; });
    case v1::ClientFrame::kGroupRead:
      return CallForUser(groups->async(), frame.id(), frame.group_read(), &Async::MarkGroupRead,
                         [](const auto&, v1::ServerFrame* out) { out->mutable_ack(); });
    case v1::ClientFrame::kGroupRanges:
      return CallForUser(groups->async(), frame.id(), frame.group_ranges(), &Async::GetGroupRanges,
                         [](const auto& r, v1::ServerFrame* out) { *out->mutable_group_ranges() = r; });
    default:
      return;
  }
}

void ClientSession::HandleTopics(const std::string& id, const v1::TopicsRequest& request) {
  auto* groups = hub_->group_service();
  auto* messages = hub_->group_messages();
  if (groups == nullptr || messages == nullptr) {
    return SendError(id, kUnknownRequest, "groups are not served here");
  }
  rpc::Caller caller;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kBadPacket, "log in first");
    caller = {sdkappid_, user_id_, false, platform_, client_ip_};
  }
  // The profiles (group service), then the unread counts (message service).
  auto profiles = rpc::NewAsyncCall<v1::GetTopicRequest, v1::GetTopicResponse>(
      &caller, hub_->options().rpc_deadline);
  profiles->request.set_group_id(request.group_id());
  *profiles->request.mutable_topic_id_list() = request.topic_id_list();
  groups->async()->GetTopic(
      profiles->context.get(), &profiles->request, &profiles->response,
      [self = shared_from_this(), id, caller, profiles, messages](grpc::Status status) {
        if (!status.ok()) {
          absl::Status error = errors::FromGrpc(status);
          return self->SendError(id, errors::TencentCode(error, kInternal),
                                 std::string(error.message()));
        }
        auto states = rpc::NewAsyncCall<v1::GetGroupStatesRequest, v1::GetGroupStatesResponse>(
            &caller, self->hub_->options().rpc_deadline);
        states->request.set_topics_of(profiles->request.group_id());
        messages->async()->GetGroupStates(
            states->context.get(), &states->request, &states->response,
            [self, id, profiles, states](grpc::Status status) {
              if (!status.ok()) {
                absl::Status error = errors::FromGrpc(status);
                return self->SendError(id, errors::TencentCode(error, kInternal),
                                       std::string(error.message()));
              }
              std::map<std::string, const v1::GroupState*> by_topic;
              for (const auto& s : states->response.groups()) by_topic[s.topic_id()] = &s;
              v1::ServerFrame frame;
              frame.set_id(id);
              auto* list = frame.mutable_topics();
              list->set_group_id(profiles->request.group_id());
              for (const auto& t : profiles->response.topic_and_self_info()) {
                auto* entry = list->add_topics();
                *entry->mutable_topic() = t;
                auto it = by_topic.find(t.topic_info().topic_id());
                if (it == by_topic.end()) continue;  // no events yet
                entry->set_max_seq(it->second->max_seq());
                entry->set_read_seq(it->second->read_seq());
                entry->set_unread(it->second->unread());
              }
              self->SendFrame(frame);
            });
      });
}

void ClientSession::HandlePushToken(const std::string& id, const v1::PushTokenRequest& request) {
  if (!request.token().empty()) {
    if (!presence::IsPushChannel(request.channel())) {
      return SendError(id, kBadPacket,
                       "channel must be APNs, FCM, Huawei, Xiaomi, OPPO, vivo or Honor");
    }
    if (request.token().size() > presence::kMaxPushTokenBytes) {
      return SendError(id, kBadPacket, "token is longer than 512 bytes");
    }
    for (unsigned char c : request.token()) {
      if (c < 0x21 || c > 0x7e) return SendError(id, kBadPacket, "token must be printable ASCII");
    }
  }
  presence::Device device;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kNotLoggedIn, "log in first");
    device = {request.channel(), request.token(), request.business_id(), platform_, session_id_,
              background_, 0};
  }
  hub_->RunBlocking([self = shared_from_this(), id, device, sdkappid = sdkappid_,
                     user = user_id_] {
    presence::Devices devices(self->hub_->presence().pool());
    absl::Status st = device.token.empty()
                          ? devices.RemoveOfSession(sdkappid, user, device.session_id)
                          : devices.Register(sdkappid, user, device);
    if (!st.ok()) {
      log::Warn("push_token_failed", {{"error", std::string(st.message())}});
      return self->SendError(id, kInternal, "the push token could not be recorded; retry");
    }
    v1::ServerFrame ack;
    ack.set_id(id);
    ack.mutable_ack();
    self->SendFrame(ack);
  });
}

void ClientSession::HandleAppState(const std::string& id, bool background) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kNotLoggedIn, "log in first");
    background_ = background;
  }
  hub_->RunBlocking([self = shared_from_this(), id, background, sdkappid = sdkappid_,
                     user = user_id_, session = session_id_] {
    auto& presence = self->hub_->presence();
    presence::Devices devices(presence.pool());
    auto before = presence::CurrentPushStatus(presence, sdkappid, user);
    if (auto st = devices.SetBackground(sdkappid, user, session, background); !st.ok()) {
      log::Warn("app_state_failed", {{"error", std::string(st.message())}});
      return self->SendError(id, kInternal, "the app state could not be recorded; retry");
    }
    // Going to the background can make the user PushOnline, and coming back
    // Online again: State.StateChange hears of it (Parley's actions).
    auto after = presence::CurrentPushStatus(presence, sdkappid, user);
    if (before.ok() && after.ok() && *before != *after) {
      (void)presence.RecordStateChange({sdkappid, user, background ? "Background" : "Foreground",
                                        "AppState", self->platform_, {}, NowMillis(), *after});
    }
    v1::ServerFrame ack;
    ack.set_id(id);
    ack.mutable_ack();
    self->SendFrame(ack);
  });
}

void ClientSession::OnGroupEvent(GroupEventFrame& frame) {
  std::lock_guard lock(mu_);
  if (state_ != State::kLive) return;
  connection_->Send(frame.Encoded(binary_), binary_);
}

void ClientSession::OnRoomEvent(GroupEventFrame& frame) {
  std::lock_guard lock(mu_);
  if (state_ != State::kLive || room_ != frame.event().group_id()) return;
  connection_->Send(frame.Encoded(binary_), binary_);
}

void ClientSession::OnRoomBatch(const std::string& group_id,
                                const std::shared_ptr<const std::string>& json,
                                const std::shared_ptr<const std::string>& binary) {
  std::lock_guard lock(mu_);
  if (state_ != State::kLive || room_ != group_id) return;
  connection_->Send(binary_ ? binary : json, binary_);
}

void ClientSession::OnRoomCount(const std::string& group_id, uint32_t count) {
  v1::ServerFrame frame;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive || room_ != group_id) return;
  }
  frame.mutable_room_count()->set_group_id(group_id);
  frame.mutable_room_count()->set_online_member_num(count);
  SendFrame(frame);
}

void ClientSession::OnRoomLeft(const std::string& group_id, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive || room_ != group_id) return;
    room_.clear();
  }
  if (reason != "banned" && reason != "dismissed") LeaveRoomLater(group_id, "Kicked");
  v1::ServerFrame frame;
  frame.mutable_room_left()->set_group_id(group_id);
  frame.mutable_room_left()->set_reason(reason);
  SendFrame(frame);
}

void ClientSession::LeaveRoomLater(const std::string& group_id, const std::string& reason) {
  hub_->RunBlocking([self = shared_from_this(), group_id, reason] {
    if (self->hub_->rooms()) {
      self->hub_->rooms()->Leave(self->sdkappid_, group_id, self->user_id_, self->session_id_);
    }
    if (auto* groups = self->hub_->group_service()) {
      rpc::Caller caller{self->sdkappid_, self->user_id_, false, self->platform_, self->client_ip_};
      auto call = rpc::NewAsyncCall<v1::RoomMemberRequest, v1::GroupEmpty>(
          &caller, self->hub_->options().rpc_deadline);
      call->request.set_group_id(group_id);
      call->request.set_reason(reason);
      groups->async()->LeaveRoom(call->context.get(), &call->request, &call->response,
                                 [call](grpc::Status) {});  // callbacks only: best effort
    }
  });
}

void ClientSession::HandleRoomJoin(const std::string& id, const std::string& group_id) {
  auto* groups = hub_->group_service();
  if (groups == nullptr || hub_->rooms() == nullptr) {
    return SendError(id, kUnknownRequest, "live rooms are not served here");
  }
  if (group_id.empty() || group_id.size() > 96) {
    return SendError(id, 10015, "groupId is missing or invalid");
  }
  rpc::Caller caller;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kNotLoggedIn, "log in first");
    if (room_busy_) {
      return SendError(id, kTooFast, "a room_join or room_quit of this session is in flight", 100);
    }
    room_busy_ = true;
    caller = {sdkappid_, user_id_, false, platform_, client_ip_};
  }
  auto call = rpc::NewAsyncCall<v1::RoomMemberRequest, v1::EnterRoomResponse>(
      &caller, hub_->options().rpc_deadline);
  call->request.set_group_id(group_id);
  groups->async()->EnterRoom(
      call->context.get(), &call->request, &call->response,
      [self = shared_from_this(), call, id, group_id](grpc::Status status) {
        if (!status.ok()) {
          absl::Status error = errors::FromGrpc(status);
          {
            std::lock_guard lock(self->mu_);
            self->room_busy_ = false;
          }
          return self->SendError(id, errors::TencentCode(error, kInternal),
                                 std::string(error.message()));
        }
        // Redis: off the gRPC callback thread.
        self->hub_->RunBlocking([self, call, id, group_id] {
          std::string previous;
          {
            std::lock_guard lock(self->mu_);
            if (self->state_ != State::kLive) {
              self->room_busy_ = false;
              // The group service counted this entry: its exit goes too.
              self->hub_->RunBlocking([self, group_id] { self->LeaveRoomLater(group_id, "LinkClose"); });
              return;
            }
            previous = self->room_;
          }
          // A session is in one room: the one it was in is left first.
          if (!previous.empty() && previous != group_id) {
            self->hub_->rooms()->Leave(self->sdkappid_, previous, self->user_id_,
                                       self->session_id_);
          }
          {
            std::lock_guard lock(self->mu_);
            self->room_ = group_id;  // events from here on reach the session
          }
          auto count = self->hub_->rooms()->Enter(self->sdkappid_, group_id, self->user_id_,
                                                  self->session_id_, self->weak_from_this());
          v1::ServerFrame frame;
          frame.set_id(id);
          if (!count.ok()) {
            {
              std::lock_guard lock(self->mu_);
              self->room_.clear();
              self->room_busy_ = false;
            }
            if (!previous.empty() && previous != group_id) self->LeaveRoomLater(previous, "JoinedOther");
            return self->SendError(id, kInternal, "the room could not be entered; retry");
          }
          auto* joined = frame.mutable_room_joined();
          joined->set_group_id(group_id);
          joined->set_online_member_num(*count);
          if (!previous.empty() && previous != group_id) {
            joined->set_left_group_id(previous);
            self->LeaveRoomLater(previous, "JoinedOther");
          }
          if (call->response.room_recent_count() > 0) {
            auto recent = self->hub_->room_state()->Recent(
                self->sdkappid_, group_id, call->response.room_recent_count(),
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
            if (recent.ok()) {
              for (const auto& bytes : *recent) {
                if (!joined->add_recent()->ParseFromString(bytes)) joined->mutable_recent()->RemoveLast();
              }
            }
          }
          {
            std::lock_guard lock(self->mu_);
            self->room_busy_ = false;
          }
          self->SendFrame(frame);
        });
      });
}

void ClientSession::HandleRoomQuit(const std::string& id, const std::string& group_id) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kNotLoggedIn, "log in first");
    if (room_busy_) {
      return SendError(id, kTooFast, "a room_join or room_quit of this session is in flight", 100);
    }
    if (group_id.empty() || room_ != group_id) {
      return SendError(id, 10007, "this session is not in that room");
    }
    room_.clear();
  }
  LeaveRoomLater(group_id, "Quit");
  v1::ServerFrame ack;
  ack.set_id(id);
  ack.mutable_ack();
  SendFrame(ack);
}

void ClientSession::HandleApi(const std::string& id, const v1::ApiCall& call) {
  if (call.service() == "group_open_http_svc" && call.command() == "send_group_msg") {
    // Group sends are sends: the session's send rate, and one at a time, so
    // a client's messages are stored in the order it sent them.
    GroupSendJob job = [self = shared_from_this(), id, call](std::function<void()> done) {
      self->RunApi(id, call, std::move(done));
    };
    if (QueueGroupSend(id, std::move(job))) DispatchNextGroupSend();
    return;
  }
  RunApi(id, call, nullptr);
}

void ClientSession::HandleGroupSend(const std::string& id, v1::SendGroupRequest* send) {
  auto* groups = hub_->group_messages();
  if (groups == nullptr) return SendError(id, kUnknownRequest, "groups are not served here");
  GroupSendJob job = [self = shared_from_this(), id, groups,
                      request = std::move(*send)](std::function<void()> done) {
    using Async = v1::GroupMessageService::StubInterface::async_interface;
    self->CallForUser(
        groups->async(), id, request, &Async::SendGroup,
        [](const v1::SendGroupResponse& r, v1::ServerFrame* out) {
          *out->mutable_group_send_ack() = r;
        },
        std::move(done));
  };
  if (QueueGroupSend(id, std::move(job))) DispatchNextGroupSend();
}

bool ClientSession::QueueGroupSend(const std::string& id, GroupSendJob job) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) {
      SendError(id, kBadPacket, "log in first");
      return false;
    }
    int64_t retry_after_ms = 0;
    if (!send_bucket_.Take(sends_per_second_, NowMillis(), &retry_after_ms)) {
      SendError(id, kTooFast,
                absl::StrCat("more than ", sends_per_second_, " sends per second; retry after ",
                             retry_after_ms, " ms"),
                retry_after_ms);
      return false;
    }
    if (group_send_queue_.size() >= kMaxQueuedSends) {
      SendError(id, kTooFast, "256 sends are waiting for their ack; retry after 100 ms", 100);
      return false;
    }
    group_send_queue_.push_back(std::move(job));
    if (group_send_in_flight_) return false;
    group_send_in_flight_ = true;
  }
  return true;
}

void ClientSession::DispatchNextGroupSend() {
  GroupSendJob next;
  {
    std::lock_guard lock(mu_);
    if (group_send_queue_.empty() || state_ == State::kClosed) {
      group_send_in_flight_ = false;
      return;
    }
    next = std::move(group_send_queue_.front());
    group_send_queue_.pop_front();
  }
  next([self = shared_from_this()] { self->DispatchNextGroupSend(); });
}

void ClientSession::RunApi(const std::string& id, const v1::ApiCall& call,
                           std::function<void()> after) {
  rpc::Caller caller;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) {
      SendError(id, kBadPacket, "log in first");
      if (after) after();
      return;
    }
    caller = {sdkappid_, user_id_, false, platform_, client_ip_};
  }
  std::string body = protojson::Print(call.body());
  auto done = [self = shared_from_this(), id, after](RouteResult result) {
    if (!result.status.ok()) {
      self->SendError(id, errors::TencentCode(result.status, kInternal),
                      std::string(result.status.message()));
    } else {
      v1::ServerFrame frame;
      frame.set_id(id);
      if (!protojson::Parse(result.json, frame.mutable_api_result()->mutable_body()).ok()) {
        self->SendError(id, kInternal, "the answer could not be encoded");
      } else {
        self->SendFrame(frame);
      }
    }
    if (after) after();
  };
  const RestApi* api = hub_->api();
  if (api == nullptr || !api->CallForUser(caller, call.service(), call.command(), body, done)) {
    SendError(id, kBadPacket,
              absl::StrCat("unknown command ", call.service(), "/", call.command(),
                           " (sns/* and profile/* are available)"));
    if (after) after();
  }
}

void ClientSession::HandleLogin(const std::string& id, const v1::LoginRequest& login) {
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kNew) {
      return SendError(id, kAlreadyLoggedIn,
                       state_ == State::kLive ? "already logged in" : "a login is in progress");
    }
    if (login.sdkappid() == 0 || login.user_id().empty()) {
      return SendError(id, kBadPacket, "login needs sdkappid and user_id");
    }
    if (login.usersig().empty()) return SendError(id, errors::kSigEmpty, "usersig is empty");
    if (!presence::IsKnownPlatform(login.platform())) {
      return SendError(id, kBadPacket, "platform is one of iPhone, Android, iPad, Web, PC, Mac");
    }
    state_ = State::kLoggingIn;
  }
  auto call = rpc::NewAsyncCall<v1::AuthenticateRequest, v1::AuthenticateResponse>(
      nullptr, hub_->options().rpc_deadline);
  call->request.set_sdkappid(login.sdkappid());
  call->request.set_identifier(login.user_id());
  call->request.set_usersig(login.usersig());
  call->request.set_import_account(true);
  hub_->auth()->async()->Authenticate(
      call->context.get(), &call->request, &call->response,
      [self = shared_from_this(), call, id, login](grpc::Status status) {
        if (status.ok()) {
          // Presence is written with blocking Redis calls: not on this thread.
          return self->hub_->RunBlocking(
              [self, id, login, call] { self->CompleteLogin(id, login, call->response); });
        }
        absl::Status error = errors::FromGrpc(status);
        bool give_up = false;
        {
          std::lock_guard lock(self->mu_);
          if (self->state_ == State::kClosed) return;
          self->state_ = State::kNew;
          give_up = ++self->failed_logins_ >= kMaxFailedLogins;
        }
        self->SendError(id, errors::TencentCode(error, kInternal), std::string(error.message()));
        if (give_up) self->connection_->Close();
      });
}

void ClientSession::CompleteLogin(const std::string& id, const v1::LoginRequest& login,
                                  const v1::AuthenticateResponse& auth) {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kClosed) return;
    session_id_ = NewSessionId();
    sdkappid_ = login.sdkappid();
    user_id_ = login.user_id();
    platform_ = login.platform();
    if (auth.client_sends_per_second() > 0) sends_per_second_ = auth.client_sends_per_second();
  }
  auto& presence = hub_->presence();
  // Findable here before anyone can kick it: a later login's kick, which may
  // come right after the claim below, must find this session.
  hub_->Register(shared_from_this());
  // One session per platform class (unless "multi"): the newest login
  // replaces the older ones, atomically however many race.
  auto claimed = presence.ClaimSession(
      sdkappid_, user_id_,
      {session_id_, hub_->options().gateway_id, login.platform(), login.device_id(), NowSeconds()},
      auth.login_policy() != "multi");
  if (!claimed.ok()) {
    hub_->Unregister(*this);
    log::Error("login_presence_failed", {{"error", std::string(claimed.status().message())}});
    SendError(id, kInternal, "login could not be recorded; retry");
    connection_->Close();
    return;
  }
  std::vector<std::string> kicked_platforms = std::move(*claimed);
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kClosed) {  // closed while logging in: undo
      hub_->Unregister(*this);
      (void)presence.RemoveSession(sdkappid_, user_id_, session_id_);
      return;
    }
  }
  auto status = presence::CurrentPushStatus(presence, sdkappid_, user_id_);
  (void)presence.RecordStateChange({sdkappid_, user_id_, "Login", "Register", login.platform(),
                                    kicked_platforms, NowMillis(), status.value_or("")});
  // The user's groups route here from now on (before the ack: a group_states
  // call after it sees seqs from which pushes continue).
  if (auto* groups = hub_->groups()) groups->Attach(sdkappid_, user_id_);
  log::Info("login", {{"sdkappid", sdkappid_},
                      {"user", user_id_},
                      {"session", session_id_},
                      {"platform", login.platform()}});

  // The user's current seq decides where live delivery starts.
  rpc::Caller caller{sdkappid_, user_id_, false, platform_, client_ip_};
  auto call =
      rpc::NewAsyncCall<v1::SyncRequest, v1::SyncResponse>(&caller, hub_->options().rpc_deadline);
  call->request.set_after_seq(std::numeric_limits<int64_t>::max());  // head only
  hub_->messages()->async()->Sync(
      call->context.get(), &call->request, &call->response,
      [self = shared_from_this(), call, id, login](grpc::Status status) {
        std::lock_guard lock(self->mu_);
        if (self->state_ == State::kClosed) return;
        if (!status.ok()) {
          absl::Status error = errors::FromGrpc(status);
          self->SendError(id, errors::TencentCode(error, kInternal), std::string(error.message()));
          self->connection_->Close();
          return;
        }
        uint64_t max_seq = call->response.max_seq();
        self->state_ = State::kLive;
        self->connection_->MarkAuthenticated();  // off the pre-login limits
        self->cursor_ = login.has_last_seq() ? std::min(login.last_seq(), max_seq) : max_seq;
        self->highest_seen_ = std::max(self->highest_seen_, max_seq);
        v1::ServerFrame ack;
        ack.set_id(id);
        ack.mutable_login_ack()->set_session_id(self->session_id_);
        ack.mutable_login_ack()->set_max_seq(max_seq);
        ack.mutable_login_ack()->set_heartbeat_interval_seconds(
            self->hub_->options().heartbeat_interval_seconds);
        self->SendFrame(ack);
        if (self->highest_seen_ > self->cursor_) self->StartCatchUpLocked();
        if (self->hub_->push() != nullptr) {
          self->hub_->RunBlocking([self] { self->FetchBroadcasts(); });
        }
      });
}

void ClientSession::FetchBroadcasts() {
  rpc::Caller caller;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return;
    caller = {sdkappid_, user_id_, false, platform_, client_ip_};
  }
  auto call = rpc::NewAsyncCall<v1::PendingBroadcastsRequest, v1::PendingBroadcastsResponse>(
      &caller, hub_->options().rpc_deadline);
  hub_->push()->async()->GetPendingBroadcasts(
      call->context.get(), &call->request, &call->response,
      [self = shared_from_this(), call](grpc::Status status) {
        if (!status.ok()) {
          log::Warn("pending_broadcasts_failed", {{"error", status.error_message()}});
          return;
        }
        std::lock_guard lock(self->mu_);
        if (self->state_ != State::kLive) return;
        for (const auto& event : call->response.events()) self->ForwardLocked(event);
      });
}

void ClientSession::ForwardLocked(EventFrame& frame) {
  connection_->Send(frame.Encoded(binary_), binary_);
}

void ClientSession::ForwardLocked(const v1::TimelineEvent& event) {
  EventFrame frame(event);
  ForwardLocked(frame);
}

void ClientSession::OnEvent(EventFrame& frame) {
  const v1::TimelineEvent& event = frame.event();
  std::lock_guard lock(mu_);
  if (state_ != State::kLive) return;
  if (event.seq() == 0) return ForwardLocked(frame);  // online-only, never stored
  if (event.seq() <= cursor_) return;                 // already delivered
  highest_seen_ = std::max(highest_seen_, event.seq());
  if (catching_up_) return;  // the read in progress, or the next, brings it
  if (event.seq() == cursor_ + 1) {
    ForwardLocked(frame);
    cursor_ = event.seq();
    DrainAheadLocked();
    return;
  }
  // A gap: the missing events are most likely still on their way.
  if (ahead_.size() < kMaxAhead) {
    bool first = ahead_.empty();
    ahead_.emplace(event.seq(), event);
    if (first) {
      gap_since_ = std::chrono::steady_clock::now();
      hub_->WatchGap(shared_from_this());
    }
    return;
  }
  StartCatchUpLocked();  // too much waiting: fetch the gap in order
}

void ClientSession::DrainAheadLocked() {
  while (!ahead_.empty() && ahead_.begin()->first <= cursor_ + 1) {
    if (ahead_.begin()->first == cursor_ + 1) {
      ForwardLocked(ahead_.begin()->second);
      cursor_ = ahead_.begin()->first;
    }
    ahead_.erase(ahead_.begin());
  }
  if (!ahead_.empty()) gap_since_ = std::chrono::steady_clock::now();  // a new gap
}

bool ClientSession::CheckGap(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (state_ != State::kLive || ahead_.empty()) return false;
  if (catching_up_ || now - gap_since_ < kGapWait) return true;
  StartCatchUpLocked();  // storage has them, in order
  return false;
}

void ClientSession::OnTimelineHead(uint64_t max_seq) {
  std::lock_guard lock(mu_);
  if (state_ != State::kLive) return;
  highest_seen_ = std::max(highest_seen_, max_seq);
  if (highest_seen_ > cursor_ && !catching_up_) StartCatchUpLocked();
}

void ClientSession::StartCatchUpLocked() {
  catching_up_ = true;
  ahead_.clear();  // the read returns them, in order
  rpc::Caller caller{sdkappid_, user_id_, false, platform_, client_ip_};
  auto call =
      rpc::NewAsyncCall<v1::SyncRequest, v1::SyncResponse>(&caller, hub_->options().rpc_deadline);
  call->request.set_after_seq(cursor_);
  hub_->messages()->async()->Sync(
      call->context.get(), &call->request, &call->response,
      [self = shared_from_this(), call](grpc::Status status) {
        std::lock_guard lock(self->mu_);
        self->catching_up_ = false;
        if (self->state_ != State::kLive) return;
        if (!status.ok()) {
          log::Warn("catch_up_failed",
                    {{"session", self->session_id_}, {"error", status.error_message()}});
          return;  // retried on the next event or heartbeat
        }
        for (const auto& event : call->response.events()) {
          if (event.seq() <= self->cursor_) continue;
          self->ForwardLocked(event);
          self->cursor_ = event.seq();
        }
        self->highest_seen_ = std::max(self->highest_seen_, call->response.max_seq());
        if (self->highest_seen_ > self->cursor_ && call->response.events_size() > 0) {
          self->StartCatchUpLocked();
        }
      });
}

void ClientSession::HandleSend(const std::string& id, v1::SendRequest* send) {
  // The frame is done with: its parts move into the request.
  v1::SendC2CRequest r;
  r.set_sync_other_machine(1);
  r.set_to_account(std::move(*send->mutable_to()));
  r.set_client_msg_id(std::move(*send->mutable_client_msg_id()));
  if (send->random() != 0) r.set_msg_random(send->random());
  r.mutable_msg_body()->Swap(send->mutable_body());
  r.set_cloud_custom_data(std::move(*send->mutable_cloud_custom_data()));
  if (send->has_life_time()) r.set_msg_life_time(send->life_time());
  r.mutable_send_msg_control()->Swap(send->mutable_send_msg_control());
  if (send->has_offline_push_info()) r.mutable_offline_push_info()->Swap(send->mutable_offline_push_info());
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kLive) return SendError(id, kNotLoggedIn, "log in first");
    int64_t retry_after_ms = 0;
    if (!send_bucket_.Take(sends_per_second_, NowMillis(), &retry_after_ms)) {
      return SendError(id, kTooFast,
                       absl::StrCat("more than ", sends_per_second_,
                                    " sends per second; retry after ", retry_after_ms, " ms"),
                       retry_after_ms);
    }
    if (send_queue_.size() >= kMaxQueuedSends) {
      return SendError(id, kTooFast, "256 sends are waiting for their ack; retry after 100 ms",
                       100);
    }
    send_queue_.emplace_back(id, std::move(r));
    if (send_in_flight_) return;
    send_in_flight_ = true;
  }
  DispatchNextSend();
}

void ClientSession::DispatchNextSend() {
  std::pair<std::string, v1::SendC2CRequest> next;
  rpc::Caller caller;
  {
    std::lock_guard lock(mu_);
    if (send_queue_.empty()) {
      send_in_flight_ = false;
      return;
    }
    next = std::move(send_queue_.front());
    send_queue_.pop_front();
    // A session that ended sends nothing more (its queue stays as it is).
    if (state_ != State::kLive) return SendError(next.first, kBadPacket, "log in first");
    caller = {sdkappid_, user_id_, false, platform_, client_ip_};
  }
  hub_->sends().Send(caller, std::move(next.second),
                     [self = shared_from_this(),
                      id = std::move(next.first)](absl::StatusOr<v1::SendC2CResponse> response) {
                       if (!response.ok()) {
                         self->SendError(id, errors::TencentCode(response.status(), kInternal),
                                         std::string(response.status().message()));
                       } else {
                         v1::ServerFrame frame;
                         frame.set_id(id);
                         auto* ack = frame.mutable_send_ack();
                         ack->set_msg_key(response->msg_key());
                         ack->set_msg_seq(response->msg_seq());
                         ack->set_msg_time(response->msg_time());
                         ack->set_seq(response->sender_seq());
                         ack->set_duplicate(response->duplicate());
                         self->SendFrame(frame);
                       }
                       self->DispatchNextSend();
                     });
}

void ClientSession::HandleSync(const std::string& id, const v1::SyncRequest& sync) {
  CallForUser(
      hub_->messages()->async(), id, sync, &v1::MessageService::StubInterface::async_interface::Sync,
      [](const v1::SyncResponse& response, v1::ServerFrame* frame) {
        *frame->mutable_sync_result() = response;
      });
}

void ClientSession::ForgetDevice() {
  uint64_t sdkappid = 0;
  std::string user, session;
  {
    std::lock_guard lock(mu_);
    if (session_id_.empty()) return;
    sdkappid = sdkappid_;
    user = user_id_;
    session = session_id_;
  }
  (void)presence::Devices(hub_->presence().pool()).RemoveOfSession(sdkappid, user, session);
}

void ClientSession::Kick(const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kClosed) return;
    kick_reason_ = reason;
  }
  // Logged out by the server: the device's notifications end now. A gateway
  // shutting down keeps them (the client reconnects elsewhere).
  if (reason != "server_shutdown") {
    hub_->RunBlocking([self = shared_from_this()] { self->ForgetDevice(); });
  }
  v1::ServerFrame frame;
  frame.mutable_kick()->set_reason(reason);
  SendFrame(frame);
  connection_->Close();
  log::Info("kicked", {{"session", session_id_}, {"reason", reason}});
}

void ClientSession::OnLoginDeadline() {
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kLive || state_ == State::kClosed) return;
  }
  SendError("", kNotLoggedIn, "no login within the deadline");
  connection_->Close(kCloseLoginTimeout, "login timeout");
}

void ClientSession::OnClose(bool timed_out) {
  bool registered = false;
  bool drop_device = false;
  std::string action = "Disconnect";
  std::string reason = timed_out ? "TimeOut" : "LinkClose";
  {
    std::lock_guard lock(mu_);
    registered = !session_id_.empty() && state_ != State::kClosed;
    state_ = State::kClosed;
    if (logged_out_) {
      action = "Logout";
      reason = "Unregister";
    } else if (!kick_reason_.empty()) {
      action = "Logout";
      reason = "Kicked";
    }
    // Logging out or being logged out ends the device's notifications; a
    // lost connection or a gateway shutting down keeps them (PushOnline).
    drop_device = logged_out_ || (!kick_reason_.empty() && kick_reason_ != "server_shutdown");
  }
  if (!registered) return;
  std::string room;
  {
    std::lock_guard lock(mu_);
    room.swap(room_);
  }
  if (!room.empty()) LeaveRoomLater(room, "LinkClose");
  hub_->Unregister(*this);
  int64_t now = NowMillis();
  hub_->RunBlocking([self = shared_from_this(), action, reason, now, drop_device] {
    (void)self->hub_->presence().RemoveSession(self->sdkappid_, self->user_id_, self->session_id_);
    if (drop_device) self->ForgetDevice();  // again, in case the first try failed
    auto& presence = self->hub_->presence();
    auto status = presence::CurrentPushStatus(presence, self->sdkappid_, self->user_id_);
    (void)presence.RecordStateChange({self->sdkappid_, self->user_id_, action, reason,
                                      self->platform_, {}, now, status.value_or("")});
  });
  log::Info("disconnect", {{"sdkappid", sdkappid_},
                           {"user", user_id_},
                           {"session", session_id_},
                           {"action", action},
                           {"reason", reason}});
}

}  // namespace parley::gateway
