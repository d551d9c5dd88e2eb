// The wire format of Tencent's third-party callbacks (compat reference §6.1):
// the URL's query parameters, the Sign, the JSON body and how a
// before-callback's answer is read. Pure functions; see callback_service.h
// for the sending.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "parley/v1/callback.pb.h"

namespace parley::callback {

// lowercase hex SHA-256 of token + request_time (plain concatenation).
std::string Sign(const std::string& token, int64_t request_time);

// `base_url` plus SdkAppid, CallbackCommand, contenttype, ClientIP and
// OptPlatform; with a token also RequestTime and Sign.
std::string CallbackUrl(const std::string& base_url, uint64_t sdkappid,
                        const std::string& command, const std::string& opt_platform,
                        const std::string& client_ip, const std::string& token,
                        int64_t request_time);

// The payload (a JSON object) with CallbackCommand and EventTime (ms) first.
// INVALID_ARGUMENT when the payload is not a JSON object.
absl::StatusOr<std::string> CallbackBody(const std::string& command,
                                         const std::string& payload_json, int64_t event_time_ms);

// The verdict of a before-callback from the backend's answer. `answer` is
// empty when the call failed (timeout, connection, non-200): then the app's
// failure policy decides (refuse: 80003).
v1::BeforeResponse ReadBeforeAnswer(const std::optional<std::string>& answer,
                                    bool refuse_on_failure);

// An after-callback succeeded: HTTP 200 and a JSON object.
bool AfterAnswerOk(int http_status, const std::string& body);

}  // namespace parley::callback
