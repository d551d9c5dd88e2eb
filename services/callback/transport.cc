#include "transport.h"

#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace parley::callback {
namespace {

// Percent-encodes a query value (RFC 3986 unreserved characters pass).
std::string Encode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

constexpr int32_t kCallbackFailed = 80003;

}  // namespace

std::string Sign(const std::string& token, int64_t request_time) {
  std::string input = absl::StrCat(token, request_time);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string CallbackUrl(const std::string& base_url, uint64_t sdkappid,
                        const std::string& command, const std::string& opt_platform,
                        const std::string& client_ip, const std::string& token,
                        int64_t request_time) {
  std::string url = absl::StrCat(base_url, base_url.find('?') == std::string::npos ? "?" : "&",
                                 "SdkAppid=", sdkappid, "&CallbackCommand=", Encode(command),
                                 "&contenttype=json&ClientIP=", Encode(client_ip),
                                 "&OptPlatform=", Encode(opt_platform));
  if (!token.empty()) {
    absl::StrAppend(&url, "&RequestTime=", request_time, "&Sign=", Sign(token, request_time));
  }
  return url;
}

absl::StatusOr<std::string> CallbackBody(const std::string& command,
                                         const std::string& payload_json, int64_t event_time_ms) {
  auto payload = nlohmann::ordered_json::parse(payload_json, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) {
    return absl::InvalidArgumentError("callback payload is not a JSON object");
  }
  nlohmann::ordered_json body;
  body["CallbackCommand"] = command;
  body["EventTime"] = event_time_ms;
  for (auto& [key, value] : payload.items()) {
    if (key != "CallbackCommand" && key != "EventTime") body[key] = std::move(value);
  }
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

v1::BeforeResponse ReadBeforeAnswer(const std::optional<std::string>& answer,
                                    bool refuse_on_failure) {
  v1::BeforeResponse response;
  response.set_asked(true);
  auto failed = [&](const std::string& why) {
    if (refuse_on_failure) {
      response.set_verdict(v1::BeforeResponse::REJECT);
      response.set_error_code(kCallbackFailed);
      response.set_error_info("the app's before-callback failed: " + why);
    } else {
      response.set_verdict(v1::BeforeResponse::ALLOW);
    }
    return response;
  };
  if (!answer) return failed("no answer");
  auto json = nlohmann::json::parse(*answer, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return failed("the answer is not a JSON object");
  response.set_response_json(*answer);
  auto code = json.find("ErrorCode");
  if (code == json.end() || !code->is_number_integer()) {
    return failed("the answer has no integer ErrorCode");
  }
  int64_t error_code = code->get<int64_t>();
  if (error_code == 0) {
    response.set_verdict(v1::BeforeResponse::ALLOW);
  } else if (error_code == 2) {
    response.set_verdict(v1::BeforeResponse::DROP);
  } else {
    response.set_verdict(v1::BeforeResponse::REJECT);
    response.set_error_code(static_cast<int32_t>(error_code));
    auto info = json.find("ErrorInfo");
    if (info != json.end() && info->is_string()) response.set_error_info(info->get<std::string>());
  }
  return response;
}

bool AfterAnswerOk(int http_status, const std::string& body) {
  if (http_status != 200) return false;
  auto json = nlohmann::json::parse(body, nullptr, false);
  return !json.is_discarded() && json.is_object();
}

}  // namespace parley::callback
