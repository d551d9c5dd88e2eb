#include "parley/usersig/usersig.h"

#include <zlib.h>

#include <catch2/catch.hpp>

#include "parley/errors/errors.h"

namespace us = parley::usersig;
namespace errors = parley::errors;

namespace {

// Compat reference §1.6 (from huangjj27/TLSSigAPI, re-verified with Python).
const std::string kKey = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
constexpr uint64_t kAppId = 1400000000;
constexpr int64_t kTime = 1569910200;
constexpr int64_t kExpire = 15552000;
const std::string kSigNoBuf =
    "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwjDB4pTsxIKCzBQlK0MTAyiAyKRWFGQWpQLFTU1NjeCiJZm5YDEzS0tDA"
    "yOYaHFmOtBM54KsUqeUwGLLqPK8UndHryCL-Lx8-1RPy7Ty1AijMk9f30hLk0x-r3CvSFulWgAPYy*9";
const std::string kSigWithBuf =
    "eJw9zEELwiAcBfDv4jmGs1lu0GkRUd0chMeWbv2zDdEZg*i7J5a92-s9eC-UnHj2VBZViGQYLWIHqcYJOoic0El9MQYkqvIC-"
    "-Jd1GzAquCUUvLXCYZoq7LMMUnqnbKt78KvOB-u6Rr6AG299PTq3YP3bOvWR0HZcOO6sbMf7c5TLLXUtdgXwDbo-QEmHTZF";

int32_t CodeOf(const absl::Status& status) { return errors::TencentCode(status, -1); }

std::string Compress(const std::string& text, int level) {
  uLongf size = compressBound(text.size());
  std::string out(size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &size,
            reinterpret_cast<const Bytef*>(text.data()), text.size(), level);
  out.resize(size);
  return out;
}

}  // namespace

TEST_CASE("HMAC matches the published test vectors", "[usersig]") {
  CHECK(us::ComputeSig(kKey, "0", kAppId, kTime, kExpire, std::nullopt) ==
        "CpjuBdQs9ZwnuGAJR8onoOeI9fweX2vIMMY94iOJWJY=");
  CHECK(us::ComputeSig(kKey, "0", kAppId, kTime, kExpire, std::string("YWJj")) ==
        "bC3u5cuslSg8Ds7KY58mhSkTrxunrFu50dkdkCYH4i8=");
  CHECK(us::ComputeSig(kKey, "xiaojun", kAppId, kTime, kExpire, std::nullopt) ==
        "gOoeW13s19Fgyn8RwlEt/rLkw3wzLq9M+SqBbXTIfnQ=");
}

TEST_CASE("published UserSig strings decode and verify", "[usersig]") {
  auto doc = us::Decode(kSigNoBuf);
  REQUIRE(doc.ok());
  CHECK(doc->identifier == "0");
  CHECK(doc->sdkappid == kAppId);
  CHECK(doc->time == kTime);
  CHECK(doc->expire == kExpire);
  CHECK_FALSE(doc->userbuf_base64.has_value());
  CHECK(doc->sig_base64 == "CpjuBdQs9ZwnuGAJR8onoOeI9fweX2vIMMY94iOJWJY=");

  auto with_buf = us::Decode(kSigWithBuf);
  REQUIRE(with_buf.ok());
  CHECK(with_buf->userbuf_base64 == std::optional<std::string>("YWJj"));
  CHECK(with_buf->sig_base64 == "bC3u5cuslSg8Ds7KY58mhSkTrxunrFu50dkdkCYH4i8=");

  // Verified at a moment inside their validity window.
  CHECK(us::Verify(kSigNoBuf, kAppId, "0", kKey, kTime + 60).ok());
  CHECK(us::Verify(kSigWithBuf, kAppId, "0", kKey, kTime + 60).ok());
  CHECK(us::Verify(kSigNoBuf, kAppId, "0", kKey, kTime + kExpire).ok());
}

TEST_CASE("verification refuses with the reference's codes", "[usersig]") {
  SECTION("expired") {
    CHECK(CodeOf(us::Verify(kSigNoBuf, kAppId, "0", kKey, kTime + kExpire + 1).status()) ==
          errors::kSigExpired);
  }
  SECTION("another identifier") {
    CHECK(CodeOf(us::Verify(kSigNoBuf, kAppId, "1", kKey, kTime).status()) ==
          errors::kSigIdentifierMismatch);
  }
  SECTION("another app") {
    CHECK(CodeOf(us::Verify(kSigNoBuf, kAppId + 1, "0", kKey, kTime).status()) ==
          errors::kSigSdkAppIdMismatch);
  }
  SECTION("another key (forged)") {
    CHECK(CodeOf(us::Verify(kSigNoBuf, kAppId, "0", kKey + "x", kTime).status()) ==
          errors::kSigHmacMismatch);
  }
  SECTION("empty") { CHECK(CodeOf(us::Verify("", kAppId, "0", kKey, kTime).status()) == 70002); }
  SECTION("garbage, truncation and wrong payloads") {
    for (const std::string& bad :
         {std::string("not a sig"), kSigNoBuf.substr(0, 40), std::string("****"),
          us::EncodeBase64Url("plain bytes, not zlib"), us::EncodeBase64Url(Compress("[1,2]", 6)),
          us::EncodeBase64Url(Compress("{\"TLS.identifier\":\"0\"}", 6)),
          us::EncodeBase64Url(Compress("{not json", 6))}) {
      INFO(bad);
      CHECK(CodeOf(us::Verify(bad, kAppId, "0", kKey, kTime).status()) == errors::kSigInvalid);
    }
  }
  SECTION("a tampered field breaks the HMAC") {
    std::string json =
        "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"0\",\"TLS.sdkappid\":1400000000,"
        "\"TLS.expire\":99999999,\"TLS.time\":1569910200,"
        "\"TLS.sig\":\"CpjuBdQs9ZwnuGAJR8onoOeI9fweX2vIMMY94iOJWJY=\"}";
    auto forged = us::EncodeBase64Url(Compress(json, 6));
    CHECK(CodeOf(us::Verify(forged, kAppId, "0", kKey, kTime).status()) ==
          errors::kSigHmacMismatch);
  }
}

TEST_CASE("sigs from any official library layout and zlib level verify", "[usersig]") {
  int64_t now = 1700000000;
  for (int level = 0; level <= 9; ++level) {
    for (bool spaced : {false, true}) {
      us::GenerateOptions options;
      options.zlib_level = level;
      options.spaced_json = spaced;
      std::string sig = us::Generate(kKey, kAppId, "alice", now, options);
      INFO("level " << level << " spaced " << spaced);
      auto doc = us::Verify(sig, kAppId, "alice", kKey, now + 10);
      REQUIRE(doc.ok());
      CHECK(doc->expire == 180 * 86400);
    }
  }
  us::GenerateOptions with_buf;
  with_buf.userbuf = "abc";
  CHECK(us::Verify(us::Generate(kKey, kAppId, "0", now, with_buf), kAppId, "0", kKey, now).ok());
}

TEST_CASE("a numeric-string sdkappid is accepted", "[usersig]") {
  std::string sig = us::ComputeSig(kKey, "bob", kAppId, kTime, kExpire, std::nullopt);
  std::string json = "{\"TLS.ver\": \"2.0\", \"TLS.identifier\": \"bob\", \"TLS.sdkappid\": "
                     "\"1400000000\", \"TLS.expire\": 15552000, \"TLS.time\": 1569910200, "
                     "\"TLS.sig\": \"" + sig + "\"}";
  CHECK(us::Verify(us::EncodeBase64Url(Compress(json, 9)), kAppId, "bob", kKey, kTime).ok());
}

TEST_CASE("the base64 variant swaps exactly + / =", "[usersig]") {
  std::string bytes = "\xfb\xff\xbf";  // standard base64 "+/+/"
  CHECK(us::EncodeBase64Url(bytes) == "*-*-");
  CHECK(us::EncodeBase64Url("a") == "YQ__");
  CHECK(*us::DecodeBase64Url("YQ__") == "a");
  CHECK(*us::DecodeBase64Url("*-*-") == bytes);
}
