// All-member push over REST (all_member_push/*) and the login catch-up.
// Delivery of a task runs in the offline push queue (push_queue.cc,
// HandleTaskPage).
#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "all_member_rules.h"
#include "parley/errors/errors.h"
#include "parley/log/log.h"
#include "parley/redis/streams.h"
#include "push_service.h"

namespace parley::push {
namespace {

constexpr int32_t kBadBody = 90002;
constexpr int32_t kBadFrom = 90008;

bool ValidUserId(const std::string& user) { return !user.empty() && user.size() <= 32; }

absl::Status CheckAccounts(const google::protobuf::RepeatedPtrField<std::string>& users) {
  if (users.empty()) return errors::Error(kBadField, "To_Account is empty");
  if (static_cast<size_t>(users.size()) > kMaxAccountsPerCall) {
    return errors::Error(kTooManyAccounts, "at most 100 accounts a call");
  }
  for (const auto& u : users) {
    if (!ValidUserId(u)) return errors::Error(kBadField, "an account is empty or longer than 32 bytes");
  }
  return absl::OkStatus();
}

template <class Items>
absl::Status CheckItems(const Items& items) {
  if (items.empty()) return errors::Error(kBadField, "no accounts given");
  if (static_cast<size_t>(items.size()) > kMaxAccountsPerCall) {
    return errors::Error(kTooManyAccounts, "at most 100 accounts a call");
  }
  for (const auto& item : items) {
    if (!ValidUserId(item.to_account())) {
      return errors::Error(kBadField, "To_Account is empty or longer than 32 bytes");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckBody(const google::protobuf::ListValue& body) {
  if (body.values().empty()) return errors::Error(kBadBody, "MsgBody is empty");
  for (const auto& element : body.values()) {
    if (!element.has_struct_value()) return errors::Error(kBadBody, "a MsgBody element is not an object");
    const auto& fields = element.struct_value().fields();
    auto type = fields.find("MsgType");
    auto content = fields.find("MsgContent");
    if (type == fields.end() || !type->second.has_string_value() || content == fields.end() ||
        !content->second.has_struct_value()) {
      return errors::Error(kBadBody, "a MsgBody element lacks MsgType or MsgContent");
    }
  }
  if (body.ByteSizeLong() > 12 * 1024) return errors::Error(kBadBody, "MsgBody is over 12 KB");
  return absl::OkStatus();
}

std::string NewTaskId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  return absl::BytesToHexString(std::string(reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

std::string MarkerKey(uint64_t sdkappid, const std::string& user) {
  return absl::StrCat("parley:{", sdkappid, "}:bcast:", user);
}

// Set while a stored all-member push may be pending for someone: a login
// reads PostgreSQL for pending pushes only when it exists.
std::string ActiveKey(uint64_t sdkappid) {
  return absl::StrCat("parley:{", sdkappid, "}:bcast_active");
}

// Keeps KEYS[1] alive at least ARGV[1] ms more (never shortens it).
const char kKeepAliveScript[] = R"lua(
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 1
)lua";

std::set<std::string> NamesOf(const std::map<int, std::string>& names) {
  std::set<std::string> out;
  for (const auto& [index, name] : names) out.insert(name);
  return out;
}

}  // namespace

// Raises KEYS[1] to ARGV[1] (never lowers it), for ARGV[2] ms.
const char kRaiseMarkerScript[] = R"lua(
local now = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > now then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
)lua";

std::string BroadcastMarkerKey(uint64_t sdkappid, const std::string& user) {
  return MarkerKey(sdkappid, user);
}

absl::StatusOr<v1::ImPushResponse> PushLogic::ImPush(const rpc::Caller& caller,
                                                     const v1::ImPushRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (all_member_ == nullptr) return errors::Error(kInternalError, "all-member push is not served here");
  std::string from = request.from_account().empty() ? caller.identifier : request.from_account();
  if (!ValidUserId(from)) return errors::Error(kBadFrom, "From_Account is invalid");
  if (auto st = CheckBody(request.msg_body()); !st.ok()) return st;
  int64_t life = request.has_msg_life_time() ? request.msg_life_time() : 0;
  if (life < 0 || life > kMaxBroadcastLifeSeconds) {
    return errors::Error(kLifeTimeTooLarge, "MsgLifeTime is 0 to 604800 seconds");
  }
  auto names = all_member_->AttrNames(caller.sdkappid);
  if (!names.ok()) return errors::Error(kInternalError, "the attribute names could not be read; retry");
  if (auto st = CheckCondition(request.condition(), NamesOf(*names)); !st.ok()) return st;

  // One push a second and a day's allowance per app, across replicas.
  redis::Pool* redis = presence_->pool();
  int64_t now_ms = redis::NowMillis();
  std::string second = absl::StrCat("parley:{", caller.sdkappid, "}:impush:s:", now_ms / 1000);
  std::string day = absl::StrCat("parley:{", caller.sdkappid, "}:impush:d:", now_ms / 86400000);
  auto this_second = redis->Pipeline({{"INCR", second}, {"EXPIRE", second, "2"}});
  if (!this_second.ok() || !(*this_second)[0].ok()) {
    return errors::Error(kInternalError, "the push could not be counted; retry");
  }
  if ((*this_second)[0]->integer() > 1) {
    return errors::Error(kPushTooFrequent, "at most one all-member push a second");
  }
  auto today = redis->Pipeline({{"INCR", day}, {"EXPIRE", day, "172800"}});
  if (!today.ok() || !(*today)[0].ok()) {
    return errors::Error(kInternalError, "the push could not be counted; retry");
  }
  if ((*today)[0]->integer() > all_member_daily_limit_) {
    return errors::Error(kDailyLimit, absl::StrCat("at most ", all_member_daily_limit_,
                                                   " all-member pushes a day"));
  }

  PushTask task;
  task.task_id = NewTaskId();
  task.created_ms = now_ms;
  task.expires_ms = now_ms + life * 1000;
  auto* m = &task.message;
  m->set_task_id(task.task_id);
  m->set_from_account(from);
  uint32_t random = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof(random));
  m->set_msg_random(request.has_msg_random() ? request.msg_random() : random);
  m->set_msg_time_stamp(static_cast<uint32_t>(now_ms / 1000));
  *m->mutable_msg_body() = request.msg_body();
  m->set_cloud_custom_data(request.cloud_custom_data());
  if (request.has_offline_push_info()) *m->mutable_offline_push_info() = request.offline_push_info();
  task.condition = request.condition();
  if (life > 0) {
    // Before the task exists: a login that can see the task sees the key.
    auto kept = redis->Command({"EVAL", kKeepAliveScript, "1", ActiveKey(caller.sdkappid),
                                std::to_string(life * 1000)});
    if (!kept.ok()) return errors::Error(kInternalError, "the push could not be stored; retry");
  }
  auto created = all_member_->CreateTask(caller.sdkappid, task);
  if (!created.ok()) return errors::Error(kInternalError, "the push could not be stored; retry");
  v1::PushJob job;
  job.set_sdkappid(caller.sdkappid);
  job.set_task_id(task.task_id);
  job.set_queued_ms(now_ms);
  if (auto st = offline_->Push({job}); !st.ok()) {
    log::Error("impush_not_queued", {{"sdkappid", caller.sdkappid}, {"task", task.task_id}});
    return errors::Error(kInternalError, "the push could not be queued; retry");
  }
  log::Info("impush", {{"sdkappid", caller.sdkappid}, {"task", task.task_id}, {"life", life}});
  v1::ImPushResponse response;
  response.set_task_id(task.task_id);
  return response;
}

absl::StatusOr<v1::AllMemberEmpty> PushLogic::SetAttrName(const rpc::Caller& caller,
                                                          const v1::AttrNames& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (request.attr_names().empty()) return errors::Error(kBadField, "AttrNames is empty");
  auto names = ParseAttrNames(request);
  if (!names.ok()) return names.status();
  if (all_member_ == nullptr || !all_member_->SetAttrNames(caller.sdkappid, *names).ok()) {
    return errors::Error(kInternalError, "the attribute names could not be stored; retry");
  }
  return v1::AllMemberEmpty();
}

absl::StatusOr<v1::AttrNames> PushLogic::GetAttrName(const rpc::Caller& caller,
                                                     const v1::AllMemberEmpty&) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (all_member_ == nullptr) return errors::Error(kInternalError, "not served here");
  auto names = all_member_->AttrNames(caller.sdkappid);
  if (!names.ok()) return errors::Error(kInternalError, "the attribute names could not be read; retry");
  v1::AttrNames response;
  for (const auto& [index, name] : *names) (*response.mutable_attr_names())[std::to_string(index)] = name;
  return response;
}

absl::StatusOr<v1::GetAttrResponse> PushLogic::GetAttr(const rpc::Caller& caller,
                                                       const v1::AccountsRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckAccounts(request.to_account()); !st.ok()) return st;
  if (all_member_ == nullptr) return errors::Error(kInternalError, "not served here");
  auto attrs = all_member_->Attrs(caller.sdkappid, {request.to_account().begin(), request.to_account().end()});
  if (!attrs.ok()) return errors::Error(kInternalError, "the attributes could not be read; retry");
  v1::GetAttrResponse response;
  for (const auto& user : request.to_account()) {
    auto* item = response.add_user_attrs();
    item->set_to_account(user);
    for (const auto& [name, value] : (*attrs)[user]) (*item->mutable_attrs())[name] = value;
  }
  return response;
}

absl::StatusOr<v1::AllMemberEmpty> PushLogic::SetAttr(const rpc::Caller& caller,
                                                      const v1::SetAttrRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckItems(request.user_attrs()); !st.ok()) return st;
  if (all_member_ == nullptr) return errors::Error(kInternalError, "not served here");
  auto names = all_member_->AttrNames(caller.sdkappid);
  if (!names.ok()) return errors::Error(kInternalError, "the attribute names could not be read; retry");
  std::set<std::string> known = NamesOf(*names);
  for (const auto& item : request.user_attrs()) {
    if (item.attrs().empty()) return errors::Error(kBadField, "Attrs is empty");
    for (const auto& [name, value] : item.attrs()) {
      if (!known.count(name)) {
        return errors::Error(kBadAttribute, "an attribute im_set_attr_name did not set");
      }
      if (value.empty() || value.size() > 50) {
        return errors::Error(kBadAttribute, "an attribute value is empty or longer than 50 bytes");
      }
    }
  }
  if (!all_member_->SetAttrs(caller.sdkappid, request).ok()) {
    return errors::Error(kInternalError, "the attributes could not be stored; retry");
  }
  return v1::AllMemberEmpty();
}

absl::StatusOr<v1::AllMemberEmpty> PushLogic::RemoveAttr(const rpc::Caller& caller,
                                                         const v1::RemoveAttrRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckItems(request.user_attrs()); !st.ok()) return st;
  if (all_member_ == nullptr || !all_member_->RemoveAttrs(caller.sdkappid, request).ok()) {
    return errors::Error(kInternalError, "the attributes could not be removed; retry");
  }
  return v1::AllMemberEmpty();
}

absl::StatusOr<v1::GetTagResponse> PushLogic::GetTag(const rpc::Caller& caller,
                                                     const v1::AccountsRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckAccounts(request.to_account()); !st.ok()) return st;
  if (all_member_ == nullptr) return errors::Error(kInternalError, "not served here");
  auto tags = all_member_->Tags(caller.sdkappid, {request.to_account().begin(), request.to_account().end()});
  if (!tags.ok()) return errors::Error(kInternalError, "the tags could not be read; retry");
  v1::GetTagResponse response;
  for (const auto& user : request.to_account()) {
    auto* item = response.add_user_tags();
    item->set_to_account(user);
    for (const auto& tag : (*tags)[user]) item->add_tags(tag);
  }
  return response;
}

namespace {

absl::Status CheckUserTags(const v1::UserTagsRequest& request) {
  if (auto st = CheckItems(request.user_tags()); !st.ok()) return st;
  for (const auto& item : request.user_tags()) {
    if (item.tags().empty()) return errors::Error(kBadField, "Tags is empty");
    if (static_cast<size_t>(item.tags().size()) > kMaxConditionTags) {
      return errors::Error(kTooManyTags, "at most 10 tags per account a call");
    }
    for (const auto& tag : item.tags()) {
      if (auto st = CheckTag(tag); !st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::AllMemberEmpty> PushLogic::AddTag(const rpc::Caller& caller,
                                                     const v1::UserTagsRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckUserTags(request); !st.ok()) return st;
  if (all_member_ == nullptr) return errors::Error(kInternalError, "not served here");
  auto st = all_member_->AddTags(caller.sdkappid, request, kMaxTagsPerUser);
  if (absl::IsFailedPrecondition(st)) return errors::Error(kTooManyTags, "an account would have over 100 tags");
  if (!st.ok()) return errors::Error(kInternalError, "the tags could not be stored; retry");
  return v1::AllMemberEmpty();
}

absl::StatusOr<v1::AllMemberEmpty> PushLogic::RemoveTag(const rpc::Caller& caller,
                                                        const v1::UserTagsRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckUserTags(request); !st.ok()) return st;
  if (all_member_ == nullptr || !all_member_->RemoveTags(caller.sdkappid, request).ok()) {
    return errors::Error(kInternalError, "the tags could not be removed; retry");
  }
  return v1::AllMemberEmpty();
}

absl::StatusOr<v1::AllMemberEmpty> PushLogic::RemoveAllTags(const rpc::Caller& caller,
                                                            const v1::AccountsRequest& request) {
  if (auto st = RequireAdmin(caller); !st.ok()) return st;
  if (auto st = CheckAccounts(request.to_account()); !st.ok()) return st;
  if (all_member_ == nullptr ||
      !all_member_->RemoveAllTags(caller.sdkappid, {request.to_account().begin(),
                                                    request.to_account().end()}).ok()) {
    return errors::Error(kInternalError, "the tags could not be removed; retry");
  }
  return v1::AllMemberEmpty();
}

absl::StatusOr<v1::PendingBroadcastsResponse> PushLogic::GetPendingBroadcasts(
    const rpc::Caller& caller, const v1::PendingBroadcastsRequest&) {
  if (caller.is_admin || caller.identifier.empty()) {
    return errors::Error(kNeedsAdmin, "for a logged-in user's session only");
  }
  v1::PendingBroadcastsResponse response;
  if (all_member_ == nullptr) return response;
  redis::Pool* redis = presence_->pool();
  std::string key = MarkerKey(caller.sdkappid, caller.identifier);
  auto read = redis->Pipeline({{"GET", key}, {"EXISTS", ActiveKey(caller.sdkappid)}});
  if (!read.ok()) return read.status();
  for (const auto& reply : *read) {
    if (!reply.ok()) return reply.status();
  }
  // No stored push is pending for anyone: no PostgreSQL read at this login.
  if ((*read)[1]->integer() == 0) return response;
  const redis::Reply& marker = *(*read)[0];
  int64_t after = 0;
  if (!marker.is_nil()) after = std::strtoll(marker.str().c_str(), nullptr, 10);
  int64_t now = redis::NowMillis();
  auto tasks = all_member_->ActiveTasksAfter(caller.sdkappid, after, now);
  if (!tasks.ok()) return tasks.status();
  if (tasks->empty()) return response;
  std::optional<std::set<std::string>> tags;
  std::optional<std::map<std::string, std::string>> attrs;
  for (const auto& task : *tasks) {
    if (!EmptyCondition(task.condition)) {
      if (!tags) {
        auto t = all_member_->Tags(caller.sdkappid, {caller.identifier});
        auto a = all_member_->Attrs(caller.sdkappid, {caller.identifier});
        if (!t.ok() || !a.ok()) return absl::UnavailableError("tags unreadable");
        tags = (*t)[caller.identifier];
        attrs = (*a)[caller.identifier];
      }
      if (!ConditionMatches(task.condition, *tags, *attrs)) continue;
    }
    auto* event = response.add_events();
    event->set_kind(v1::TimelineEvent::KIND_BROADCAST);
    event->set_event_time(task.message.msg_time_stamp());
    *event->mutable_broadcast() = task.message;
  }
  // Had: none of these again (the marker lives as long as any task may).
  (void)redis->Command({"EVAL", kRaiseMarkerScript, "1", key, std::to_string(tasks->back().seq),
                        std::to_string(kMaxBroadcastLifeSeconds * 1000)});
  return response;
}

}  // namespace parley::push
