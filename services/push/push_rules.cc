#include "push_rules.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "jwt.h"
#include "parley/presence/devices.h"
#include "parley/redis/streams.h"

namespace parley::push {
namespace {

std::string StringField(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it != s.fields().end() && it->second.has_string_value() ? it->second.string_value() : "";
}

int64_t NumberField(const google::protobuf::Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it != s.fields().end() && it->second.has_number_value()
             ? static_cast<int64_t>(it->second.number_value())
             : 0;
}

const google::protobuf::Struct* StructField(const google::protobuf::Struct& s,
                                            const std::string& name) {
  auto it = s.fields().find(name);
  return it != s.fields().end() && it->second.has_struct_value() ? &it->second.struct_value()
                                                                 : nullptr;
}

}  // namespace

std::string BodyText(const google::protobuf::ListValue& body, std::string* sound,
                     std::string* ext) {
  std::string text;
  for (const auto& element : body.values()) {
    if (!element.has_struct_value()) continue;
    const auto& e = element.struct_value();
    std::string type = StringField(e, "MsgType");
    const google::protobuf::Struct* content = StructField(e, "MsgContent");
    static const google::protobuf::Struct kEmpty;
    const auto& c = content ? *content : kEmpty;
    std::string part;
    if (type == "TIMTextElem") {
      part = StringField(c, "Text");
    } else if (type == "TIMLocationElem") {
      part = "[Location]";
    } else if (type == "TIMFaceElem") {
      part = "[Expression]";
    } else if (type == "TIMImageElem") {
      part = "[Image]";
    } else if (type == "TIMSoundElem") {
      part = "[Voice]";
    } else if (type == "TIMFileElem") {
      part = "[File]";
    } else if (type == "TIMVideoFileElem") {
      part = "[Video]";
    } else if (type == "TIMRelayElem") {
      part = "[Chat History]";
    } else if (type == "TIMCustomElem") {
      part = StringField(c, "Desc");
      if (sound && sound->empty()) *sound = StringField(c, "Sound");
      if (ext && ext->empty()) *ext = StringField(c, "Ext");
    }
    text += part;
  }
  return text;
}

namespace {

// The rules both kinds share; `prefix` goes before the message's own text.
std::optional<v1::Notification> MakeNotification(const google::protobuf::Struct& info,
                                                 const google::protobuf::ListValue& body,
                                                 const std::string& default_title,
                                                 const std::string& prefix) {
  if (NumberField(info, "PushFlag") == 1) return std::nullopt;
  v1::Notification n;
  std::string sound, ext;
  std::string text = BodyText(body, &sound, &ext);
  std::string desc = StringField(info, "Desc");
  if (desc.empty() && text.empty()) return std::nullopt;
  n.set_body(desc.empty() ? prefix + text : desc);
  const auto* apns = StructField(info, "ApnsInfo");
  const auto* android = StructField(info, "AndroidInfo");
  std::string title = StringField(info, "Title");
  if (title.empty() && apns) title = StringField(*apns, "Title");
  n.set_title(title.empty() ? default_title : title);
  std::string info_ext = StringField(info, "Ext");
  n.set_ext(info_ext.empty() ? ext : info_ext);
  if (apns && !StringField(*apns, "Sound").empty()) sound = StringField(*apns, "Sound");
  n.set_sound(sound);
  if (apns) *n.mutable_apns_info() = *apns;
  if (android) *n.mutable_android_info() = *android;
  return n;
}

}  // namespace

std::optional<v1::Notification> MakeC2CNotification(const v1::C2CMessage& message) {
  auto n = MakeNotification(message.offline_push_info(), message.msg_body(),
                            message.from_account(), "");
  if (!n) return n;
  n->set_from_account(message.from_account());
  n->set_msg_key(message.msg_key());
  n->set_kind(1);
  return n;
}

bool PushesOffline(const v1::GroupEvent& event) {
  return event.kind() == v1::GroupEvent::KIND_MESSAGE && event.seq() != 0 && !event.live_room() &&
         event.message().is_system_msg() == 0;
}

std::optional<v1::Notification> MakeGroupNotification(const v1::GroupEvent& event,
                                                      const std::string& group_name) {
  if (!PushesOffline(event)) return std::nullopt;
  const auto& m = event.message();
  auto n = MakeNotification(m.offline_push_info(), m.msg_body(),
                            group_name.empty() ? event.group_id() : group_name,
                            m.from_account() + ": ");
  if (!n) return n;
  n->set_from_account(m.from_account());
  n->set_group_id(event.topic_id().empty() ? event.group_id() : event.topic_id());
  n->set_msg_key(absl::StrCat(event.topic_id().empty() ? event.group_id() : event.topic_id(), "_",
                              event.seq()));
  n->set_kind(2);
  return n;
}

std::string CredentialError(const v1::PushCredential& c) {
  if (!presence::IsPushChannel(c.channel())) {
    return "Channel must be APNs, FCM, Huawei, Xiaomi, OPPO, vivo or Honor";
  }
  if (c.ByteSizeLong() > 65536) return "the credential is larger than 64 KB";
  if (c.channel() == "APNs") {
    if (!c.environment().empty() && c.environment() != "production" &&
        c.environment() != "sandbox") {
      return "Environment must be production or sandbox";
    }
    if (c.bundle_id().empty()) return "BundleId (the apns-topic) is required";
    if (!c.certificate().empty()) {
      if (c.private_key().empty()) return "Certificate needs its PrivateKey (PEM)";
      return "";
    }
    if (c.key_id().size() != 10 || c.team_id().size() != 10) {
      return "KeyId and TeamId (10 characters each) are required for token auth";
    }
    if (!UsableKey(JwtAlg::kES256, c.private_key())) {
      return "PrivateKey must be the .p8 key (a P-256 EC private key in PEM)";
    }
    return "";
  }
  if (c.channel() == "FCM") {
    auto account = nlohmann::json::parse(c.service_account(), nullptr, false);
    if (!account.is_object()) return "ServiceAccount must be the service-account key file (JSON)";
    for (const char* field : {"project_id", "client_email", "private_key", "token_uri"}) {
      if (!account.contains(field) || !account[field].is_string() ||
          account[field].get<std::string>().empty()) {
        return std::string("ServiceAccount lacks ") + field;
      }
    }
    if (!UsableKey(JwtAlg::kRS256, account["private_key"].get<std::string>())) {
      return "ServiceAccount's private_key is not an RSA private key in PEM";
    }
    return "";
  }
  if (c.channel() == "Huawei" || c.channel() == "Honor") {
    if (c.app_id().empty() || c.app_secret().empty()) return "AppId and AppSecret are required";
    return "";
  }
  if (c.channel() == "Xiaomi") {
    if (c.app_secret().empty() || c.package_name().empty()) {
      return "AppSecret and PackageName are required";
    }
    return "";
  }
  if (c.channel() == "OPPO") {
    if (c.app_key().empty() || c.app_secret().empty()) return "AppKey and AppSecret are required";
    return "";
  }
  // vivo
  if (c.app_id().empty() || c.app_key().empty() || c.app_secret().empty()) {
    return "AppId, AppKey and AppSecret are required";
  }
  return "";
}

v1::CredentialInfo PublicInfo(const v1::PushCredential& c, int64_t update_time) {
  v1::CredentialInfo info;
  info.set_channel(c.channel());
  info.set_business_id(c.business_id());
  info.set_update_time(update_time);
  if (c.channel() == "APNs") {
    info.set_environment(c.environment().empty() ? "production" : c.environment());
    info.set_bundle_id(c.bundle_id());
    if (c.certificate().empty()) {
      info.set_key_id(c.key_id());
      info.set_team_id(c.team_id());
      info.set_auth("token");
    } else {
      info.set_auth("certificate");
    }
    return info;
  }
  if (c.channel() == "FCM") {
    auto account = nlohmann::json::parse(c.service_account(), nullptr, false);
    if (account.is_object()) {
      info.set_project_id(account.value("project_id", ""));
      info.set_client_email(account.value("client_email", ""));
    }
    info.set_auth("token");
    return info;
  }
  info.set_app_id(c.app_id());
  info.set_app_key(c.app_key());
  info.set_package_name(c.package_name());
  info.set_auth("secret");
  return info;
}

std::chrono::milliseconds ParseRetryAfter(const std::string& value) {
  if (value.empty()) return std::chrono::milliseconds(0);
  int64_t seconds = 0;
  for (char ch : value) {
    if (ch < '0' || ch > '9') return std::chrono::seconds(60);  // an HTTP date
    seconds = seconds * 10 + (ch - '0');
    if (seconds > 3600) return std::chrono::seconds(3600);
  }
  return std::chrono::seconds(seconds);
}

Outcome OutcomeOfStatus(long status) {
  if (status == 0 || status == 429 || status >= 500) return Outcome::kRetry;
  if (status >= 200 && status < 300) return Outcome::kSent;
  return Outcome::kRejected;
}

std::chrono::milliseconds RetryDelay(uint32_t attempts, std::chrono::milliseconds retry_after,
                                     std::chrono::milliseconds base,
                                     std::chrono::milliseconds max) {
  auto backoff = redis::Backoff(base, max, attempts);
  return std::max(backoff, retry_after);
}

bool VendorFailing(const SendResult& result) {
  return result.outcome == Outcome::kRetry &&
         (result.http_status == 0 || result.http_status >= 500);
}

std::chrono::milliseconds VendorBreaker::OpenFor(const std::string& vendor, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = states_.find(vendor);
  if (it == states_.end() || it->second.open_until_ms <= now_ms) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(it->second.open_until_ms - now_ms);
}

void VendorBreaker::Record(const std::string& vendor, bool failing, int64_t now_ms) {
  std::lock_guard lock(mu_);
  State& s = states_[vendor];
  if (!failing) {
    s = State();
    return;
  }
  if (s.open_until_ms > now_ms) return;  // sent before it opened
  if (s.tripped || ++s.failures >= threshold_) {
    s.tripped = true;
    s.failures = 0;
    s.open_until_ms = now_ms + cool_down_.count();
  }
}

}  // namespace parley::push
