#include "jwt.h"

#include <memory>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "absl/strings/escaping.h"

namespace parley::push {
namespace {

using PKey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PKey ReadKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return PKey(nullptr, &EVP_PKEY_free);
  return PKey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
}

bool KindFits(JwtAlg alg, EVP_PKEY* key) {
  if (alg == JwtAlg::kES256) {
    return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256;
  }
  return EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048;
}

}  // namespace

std::string Base64Url(const std::string& bytes) { return absl::WebSafeBase64Escape(bytes); }

bool UsableKey(JwtAlg alg, const std::string& pem_key) {
  PKey key = ReadKey(pem_key);
  return key && KindFits(alg, key.get());
}

absl::StatusOr<std::string> SignJwt(JwtAlg alg, const std::string& header_json,
                                    const std::string& claims_json, const std::string& pem_key) {
  PKey key = ReadKey(pem_key);
  if (!key || !KindFits(alg, key.get())) {
    return absl::InvalidArgumentError(alg == JwtAlg::kES256
                                          ? "the key is not a P-256 EC private key in PEM"
                                          : "the key is not an RSA private key in PEM");
  }
  std::string input = Base64Url(header_json) + "." + Base64Url(claims_json);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return absl::InternalError("signing failed");
  }
  signature.resize(length);
  if (alg == JwtAlg::kES256) {
    // OpenSSL gives DER (SEQUENCE of r, s); JWS wants r || s, 32 bytes each.
    const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
        d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())), &ECDSA_SIG_free);
    if (!sig) return absl::InternalError("signing failed");
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    std::string raw(64, '\0');
    if (BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32) != 32 ||
        BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) != 32) {
      return absl::InternalError("signing failed");
    }
    signature = std::move(raw);
  }
  return input + "." + Base64Url(signature);
}

}  // namespace parley::push
