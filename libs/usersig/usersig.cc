#include "parley/usersig/usersig.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "parley/errors/errors.h"

namespace parley::usersig {
namespace {

// A UserSig inflates to a few hundred bytes; refuse zip bombs early.
constexpr size_t kMaxInflatedBytes = 64 * 1024;
constexpr size_t kMaxUserSigChars = 16 * 1024;

absl::StatusOr<std::string> Inflate(absl::string_view compressed) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return absl::InternalError("inflateInit failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buffer[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (out.size() > kMaxInflatedBytes) rc = Z_DATA_ERROR;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0) break;  // truncated input
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return errors::Error(errors::kSigInvalid, "usersig is not a zlib stream");
  return out;
}

std::string Deflate(absl::string_view data, int level) {
  uLongf size = compressBound(data.size());
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size,
            reinterpret_cast<const Bytef*>(data.data()), data.size(), level);
  out.resize(size);
  return out;
}

// Reads an integer that issuers write as a JSON number (and, leniently, as a
// decimal string).
template <class T>
bool ReadInteger(const nlohmann::json& doc, const char* name, T* out) {
  auto it = doc.find(name);
  if (it == doc.end()) return false;
  if (it->is_number_unsigned()) {
    *out = it->get<T>();
    return true;
  }
  if (it->is_number_integer()) {
    *out = static_cast<T>(it->get<int64_t>());
    return true;
  }
  if (it->is_string()) return absl::SimpleAtoi(it->get<std::string>(), out);
  return false;
}

}  // namespace

std::string EncodeBase64Url(absl::string_view bytes) {
  std::string text = absl::Base64Escape(bytes);
  for (char& c : text) {
    if (c == '+') c = '*';
    else if (c == '/') c = '-';
    else if (c == '=') c = '_';
  }
  return text;
}

absl::StatusOr<std::string> DecodeBase64Url(absl::string_view text) {
  std::string standard(text);
  for (char& c : standard) {
    if (c == '*') c = '+';
    else if (c == '-') c = '/';
    else if (c == '_') c = '=';
  }
  std::string bytes;
  if (!absl::Base64Unescape(standard, &bytes)) {
    return errors::Error(errors::kSigInvalid, "usersig is not valid base64");
  }
  return bytes;
}

absl::StatusOr<SigDocument> Decode(absl::string_view usersig) {
  if (usersig.empty()) return errors::Error(errors::kSigEmpty, "usersig is empty");
  if (usersig.size() > kMaxUserSigChars) {
    return errors::Error(errors::kSigInvalid, "usersig is too long");
  }
  auto compressed = DecodeBase64Url(usersig);
  if (!compressed.ok()) return compressed.status();
  auto json_text = Inflate(*compressed);
  if (!json_text.ok()) return json_text.status();
  nlohmann::json doc = nlohmann::json::parse(*json_text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return errors::Error(errors::kSigInvalid, "usersig JSON is malformed");

  SigDocument out;
  auto identifier = doc.find("TLS.identifier");
  auto sig = doc.find("TLS.sig");
  if (identifier == doc.end() || !identifier->is_string() || sig == doc.end() ||
      !sig->is_string() || !ReadInteger(doc, "TLS.sdkappid", &out.sdkappid) ||
      !ReadInteger(doc, "TLS.time", &out.time) || !ReadInteger(doc, "TLS.expire", &out.expire)) {
    return errors::Error(errors::kSigInvalid, "usersig JSON lacks a required TLS field");
  }
  out.identifier = identifier->get<std::string>();
  out.sig_base64 = sig->get<std::string>();
  if (auto buf = doc.find("TLS.userbuf"); buf != doc.end()) {
    if (!buf->is_string()) return errors::Error(errors::kSigInvalid, "TLS.userbuf is not a string");
    out.userbuf_base64 = buf->get<std::string>();
  }
  return out;
}

std::string ComputeSig(absl::string_view key, absl::string_view identifier, uint64_t sdkappid,
                       int64_t time, int64_t expire,
                       const std::optional<std::string>& userbuf_base64) {
  std::string content = absl::StrCat("TLS.identifier:", identifier, "\n", "TLS.sdkappid:", sdkappid,
                                     "\n", "TLS.time:", time, "\n", "TLS.expire:", expire, "\n");
  if (userbuf_base64) absl::StrAppend(&content, "TLS.userbuf:", *userbuf_base64, "\n");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(content.data()), content.size(), mac, &mac_len);
  return absl::Base64Escape(absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

std::string Generate(absl::string_view key, uint64_t sdkappid, absl::string_view identifier,
                     int64_t now, const GenerateOptions& options) {
  std::optional<std::string> userbuf_b64;
  if (options.userbuf) userbuf_b64 = absl::Base64Escape(*options.userbuf);
  nlohmann::ordered_json doc;
  doc["TLS.ver"] = "2.0";
  doc["TLS.identifier"] = std::string(identifier);
  doc["TLS.sdkappid"] = sdkappid;
  doc["TLS.expire"] = options.expire;
  doc["TLS.time"] = now;
  if (userbuf_b64) doc["TLS.userbuf"] = *userbuf_b64;
  doc["TLS.sig"] = ComputeSig(key, identifier, sdkappid, now, options.expire, userbuf_b64);
  std::string json = doc.dump();
  if (options.spaced_json) {
    // json.dumps separators: ", " between members and ": " after keys.
    json.clear();
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      json += json.empty() ? "{" : ", ";
      json += nlohmann::json(it.key()).dump() + ": " + it.value().dump();
    }
    json += "}";
  }
  return EncodeBase64Url(Deflate(json, options.zlib_level));
}

absl::StatusOr<SigDocument> Verify(absl::string_view usersig, uint64_t sdkappid,
                                   absl::string_view identifier, absl::string_view key, int64_t now) {
  auto doc = Decode(usersig);
  if (!doc.ok()) return doc.status();
  if (doc->identifier != identifier) {
    return errors::Error(errors::kSigIdentifierMismatch,
                         "identifier does not match the usersig's identifier");
  }
  if (doc->sdkappid != sdkappid) {
    return errors::Error(errors::kSigSdkAppIdMismatch,
                         "sdkappid does not match the usersig's sdkappid");
  }
  if (now > doc->expires_at()) return errors::Error(errors::kSigExpired, "usersig expired");
  std::string expected =
      ComputeSig(key, doc->identifier, doc->sdkappid, doc->time, doc->expire, doc->userbuf_base64);
  if (expected.size() != doc->sig_base64.size() ||
      CRYPTO_memcmp(expected.data(), doc->sig_base64.data(), expected.size()) != 0) {
    return errors::Error(errors::kSigHmacMismatch,
                         "usersig signature does not match the app's secret key");
  }
  return doc;
}

}  // namespace parley::usersig
