// AVChatRoom (live room) messages (docs/architecture.md, "Live rooms"):
// online only, never stored, with per-room frequency control by priority.
#include <chrono>

#include "absl/strings/str_cat.h"
#include "group_msg_service.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/metrics/metrics.h"
#include "parley/protojson/protojson.h"
#include "parley/rpc/client.h"

namespace parley::message {
void GroupMessageLogic::DeliverRoomTip(uint64_t sdkappid, const std::string& group,
                                       const v1::GroupTip& tip, int64_t now) {
  v1::GroupEvent event;
  event.set_group_id(group);
  event.set_kind(v1::GroupEvent::KIND_TIP);
  event.set_event_time(static_cast<uint32_t>(now));
  event.set_live_room(true);
  *event.mutable_tip() = tip;
  auto* m = event.mutable_message();
  m->set_group_id(group);
  m->set_from_account(tip.operator_account());
  m->set_msg_time_stamp(static_cast<uint32_t>(now));
  m->set_is_system_msg(1);
  *m->mutable_tip() = tip;
  v1::GroupDelivery delivery;
  delivery.set_group_id(group);
  delivery.set_dismissed(tip.type() == "GroupDismissed");
  event.SerializeToString(delivery.mutable_event());
  // At once, as group tips go: a ban's tip takes the banned out of the room
  // before the ban answers.
  grpc::Status delivered = deliverer_->DeliverGroupNow(sdkappid, delivery);
  if (!delivered.ok()) {
    log::Warn("room_tip_delivery_late", {{"sdkappid", sdkappid}, {"error", delivered.error_message()}});
  }
}

absl::StatusOr<v1::SendGroupResponse> GroupMessageLogic::SendRoom(const rpc::Caller& caller,
                                                                  const v1::MemberContext& context,
                                                                  v1::SendGroupRequest request,
                                                                  int64_t now) {
  static auto& delivered = metrics::Registry::Default().GetCounter(
      "parley_room_messages_total", "AVChatRoom messages delivered");
  static auto& dropped_total = metrics::Registry::Default().GetCounter(
      "parley_room_messages_dropped_total", "AVChatRoom messages dropped by frequency control");
  if (request.online_only_flag() == 1 || !request.send_msg_control().empty()) {
    return errors::Error(kGroupInvalidParam,
                         "OnlineOnlyFlag and SendMsgControl do not apply to an AVChatRoom");
  }
  if (request.need_read_receipt() != 0) {
    return errors::Error(kGroupInvalidParam, "an AVChatRoom takes no read receipts");
  }
  if (rooms_ == nullptr) return errors::Error(kGroupInternal, "live rooms are not available; retry");
  if (!caller.is_admin &&
      SenderMuted(context.role(), context.mute_until(), context.mute_all(), now)) {
    return errors::Error(kGroupSenderMuted, "you are muted in this room");
  }
  bool dropped = false;
  if (auto st = BeforeSend(caller, context, &request, &dropped); !st.ok()) return st;
  v1::SendGroupResponse response;
  response.set_msg_time(static_cast<uint32_t>(now));
  if (dropped) {
    response.set_msg_drop_reason("CallbackDropped");
    return response;
  }
  // The app admin's sends are never dropped for member traffic, and need
  // not come from someone in the room.
  int64_t now_ms = liveroom::NowMs();
  auto admitted = rooms_->Admit(caller.sdkappid, request.group_id(),
                                caller.is_admin ? "" : request.from_account(),
                                RoomPriorityClass(request.msg_priority()),
                                context.room_msg_rate_limit(), caller.is_admin, now_ms);
  if (!admitted.ok()) {
    log::Warn("room_admit_failed", {{"group", request.group_id()}});
    SendFailed(caller, context, request, admitted.status());
    return errors::Error(kGroupInternal, "live room state is unavailable; retry");
  }
  if (*admitted == liveroom::Admission::kNotInRoom) {
    return errors::Error(kGroupNoPermission, "you are not in this room: join it first");
  }
  if (*admitted == liveroom::Admission::kDropped) {
    dropped_total.Increment();
    response.set_msg_drop_reason("MsgFreqLimit");
    return response;
  }
  v1::GroupEvent event = MessageEvent(request, now);
  event.set_live_room(true);
  event.mutable_message()->set_msg_key(absl::StrCat("0_", request.random(), "_", now));
  Deliver(caller.sdkappid, event);
  delivered.Increment();
  if (context.room_recent_count() > 0) {
    std::string kept;
    event.message().SerializeToString(&kept);
    if (!rooms_->Remember(caller.sdkappid, request.group_id(), kept, context.room_recent_count(),
                          now_ms)
             .ok()) {
      log::Warn("room_recent_failed", {{"group", request.group_id()}});
    }
  }
  AfterSend(caller, context, request, 0, now);
  return response;
}

absl::StatusOr<v1::BroadcastMsgResponse> GroupMessageLogic::SendBroadcastMsg(
    const rpc::Caller& caller, const v1::BroadcastMsgRequest& request) {
  if (!caller.is_admin) return errors::Error(kGroupNoPermission, "app admins only");
  v1::SendGroupRequest send;
  send.set_from_account(request.from_account().empty() ? caller.identifier
                                                       : request.from_account());
  if (send.from_account().size() > 32) {
    return errors::Error(kGroupInvalidParam, "From_Account is invalid");
  }
  *send.mutable_msg_body() = request.msg_body();
  send.set_cloud_custom_data(request.cloud_custom_data());
  send.set_random(request.has_random() ? request.random() : random_());
  send.set_msg_priority("High");
  std::string body_json = protojson::Print(request.msg_body());
  if (auto st = CheckGroupBody(request.msg_body(), body_json.empty() ? "[]" : body_json,
                               request.cloud_custom_data());
      !st.ok()) {
    return st;
  }
  int64_t now = now_();
  // Every room of the app, a page at a time: one delivery per room.
  v1::BroadcastMsgResponse response;
  std::string after;
  for (;;) {
    v1::ListRoomsRequest list;
    list.set_after(after);
    list.set_limit(1000);
    v1::ListRoomsResponse rooms;
    rpc::Caller self = rpc::ServiceCaller(caller.sdkappid, "parley-message");
    auto ctx = rpc::NewContext(&self, std::chrono::milliseconds(3000));
    auto status = errors::FromGrpc(groups_->ListRooms(ctx.get(), list, &rooms));
    if (!status.ok()) {
      log::Warn("broadcast_rooms_failed", {{"sdkappid", caller.sdkappid}});
      return errors::Error(kGroupInternal, "could not list the rooms; retry");
    }
    for (const auto& room : rooms.group_id()) {
      send.set_group_id(room);
      v1::GroupEvent event = MessageEvent(send, now);
      event.set_live_room(true);
      event.mutable_message()->set_msg_key(absl::StrCat("0_", send.random(), "_", now));
      Deliver(caller.sdkappid, event);
      response.set_room_count(response.room_count() + 1);
    }
    if (rooms.group_id_size() < 1000) break;
    after = rooms.group_id(rooms.group_id_size() - 1);
  }
  return response;
}

}  // namespace parley::message
