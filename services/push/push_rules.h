// The pure rules of offline push: what a message shows on a device, which
// credentials are acceptable, and what a vendor's answer means. No I/O.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "parley/v1/message.pb.h"
#include "parley/v1/push.pb.h"

namespace parley::push {

// The notification a one-to-one message makes for its recipient, or nullopt
// when it makes none: OfflinePushInfo.PushFlag 1, or nothing to show (a
// message of a TIMCustomElem alone, with no Desc anywhere). Text: the
// OfflinePushInfo Desc, else the elements' text (reference §4: a Text's
// text, "[Location]", "[Expression]", "[Image]", "[Voice]", "[File]",
// "[Video]", "[Chat History]", a custom element's Desc). Title: Title, else
// ApnsInfo.Title, else the sender. The badge is set later (unread count).
std::optional<v1::Notification> MakeC2CNotification(const v1::C2CMessage& message);
// A group message's notification: as above, with the group's name (the
// topic's, for a topic) as the default title and "<sender>: " before the
// text. Tips, recalls and live-room messages make none.
std::optional<v1::Notification> MakeGroupNotification(const v1::GroupEvent& event,
                                                      const std::string& group_name);
// Whether a group event is a stored message that notifies.
bool PushesOffline(const v1::GroupEvent& event);

// The text of a message body for a notification ("" when it has none).
std::string BodyText(const google::protobuf::ListValue& body, std::string* sound,
                     std::string* ext);

// Every error a credential has for its channel ("" when it is fine). Checks
// the keys parse (without saying anything of their content).
std::string CredentialError(const v1::PushCredential& credential);
// What get_credentials shows: no secret.
v1::CredentialInfo PublicInfo(const v1::PushCredential& credential, int64_t update_time);

// What a vendor's answer means for the notification.
enum class Outcome {
  kSent,
  kRetry,         // 429, 5xx, no answer, an expired vendor access token
  kInvalidToken,  // the device token is gone: forget the device
  kRejected,      // permanent: bad payload, bad credential; not retried
};

struct SendResult {
  Outcome outcome = Outcome::kRejected;
  int http_status = 0;
  std::string reason;  // the vendor's reason ("Unregistered", "UNAVAILABLE", ...)
  std::chrono::milliseconds retry_after{0};  // Retry-After, when the vendor gave one
};

// Retry-After in seconds (or an HTTP date, which counts as 60 s); 0 when absent.
std::chrono::milliseconds ParseRetryAfter(const std::string& value);
// An HTTP status not otherwise explained: 429 and 5xx retry, no answer
// retries, other 4xx are rejected.
Outcome OutcomeOfStatus(long status);

// When to try a failed device again: exponential from `base` to `max` (1 s
// and 5 min by default), or the vendor's Retry-After when longer.
std::chrono::milliseconds RetryDelay(uint32_t attempts, std::chrono::milliseconds retry_after,
                                     std::chrono::milliseconds base = std::chrono::seconds(1),
                                     std::chrono::milliseconds max = std::chrono::minutes(5));

// Whether a result says the vendor itself is failing (no answer, 5xx), as
// opposed to this one notification's fate.
bool VendorFailing(const SendResult& result);

// A circuit breaker per vendor. After `threshold` sends in a row that found
// the vendor failing, it is skipped for `cool_down`: its notifications go to
// the retry set at once instead of holding up the batches they share with
// other vendors' (a vendor that does not answer takes a timeout per send).
// After the cool-down one batch's sends go through; one more failure opens
// it again at once, a success closes it. Thread-safe.
class VendorBreaker {
 public:
  VendorBreaker(int threshold = 20,
                std::chrono::milliseconds cool_down = std::chrono::seconds(5))
      : threshold_(threshold), cool_down_(cool_down) {}
  // How much longer `vendor` is skipped (0: send to it).
  std::chrono::milliseconds OpenFor(const std::string& vendor, int64_t now_ms);
  void Record(const std::string& vendor, bool failing, int64_t now_ms);

 private:
  struct State {
    int failures = 0;
    bool tripped = false;  // opened, and not yet closed by a success
    int64_t open_until_ms = 0;
  };
  int threshold_;
  std::chrono::milliseconds cool_down_;
  std::mutex mu_;
  std::map<std::string, State> states_;
};

}  // namespace parley::push
