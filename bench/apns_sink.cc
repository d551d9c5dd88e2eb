// An APNs stand-in fast enough to measure the push service's sending rate
// (bench/push_bench.sh offline); the tests' Python stand-in answers about
// 3,000 requests a second on this box, less than the rate to measure.
//
// HTTP/2 over TLS (ALPN h2) through libnghttp2 and OpenSSL, one thread per
// connection. Like Apple it checks every request: POST /3/device/<token>,
// apns-topic, apns-push-type, and "authorization: bearer <JWT>" whose ES256
// signature verifies with the key, whose kid and iss are the expected key
// and team. A JWT is verified once and then remembered (Apple too takes one
// token for an hour). Answers 200 with an apns-id, or 403 {"reason": ...}.
//
//   parley-apns-sink --cert C --key K --jwt-key P8 --key-id ID --team-id T
//                    --topic BUNDLE --out DIR
//
// Writes DIR/port once listening, DIR/count (requests accepted) every
// 100 ms, and on SIGTERM DIR/received: "<token> <ms since epoch>" per
// accepted request.
#include <nghttp2/nghttp2.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string cert, key, jwt_key, key_id, team_id, topic, out;
};

Options options;
EVP_PKEY* jwt_public = nullptr;
std::atomic<bool> stopping{false};
std::atomic<int64_t> accepted{0};
std::atomic<int64_t> refused{0};

std::mutex received_mu;
std::vector<std::pair<std::string, int64_t>> received;

std::mutex verified_mu;
std::set<std::string> verified;  // JWTs already checked

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Base64UrlDecode(const std::string& in) {
  std::string b64 = in;
  for (char& c : b64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (b64.size() % 4) b64 += '=';
  std::string out(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return "";
  size_t pad = 0;
  for (size_t i = b64.size(); i > 0 && b64[i - 1] == '='; --i) ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// "" when the JWT is Apple-valid for our key, else the reason APNs gives.
std::string CheckJwt(const std::string& jwt) {
  {
    std::lock_guard lock(verified_mu);
    if (verified.count(jwt)) return "";
  }
  size_t a = jwt.find('.');
  size_t b = a == std::string::npos ? a : jwt.find('.', a + 1);
  if (b == std::string::npos) return "InvalidProviderToken";
  auto header = nlohmann::json::parse(Base64UrlDecode(jwt.substr(0, a)), nullptr, false);
  auto claims = nlohmann::json::parse(Base64UrlDecode(jwt.substr(a + 1, b - a - 1)), nullptr, false);
  if (!header.is_object() || !claims.is_object() || header.value("alg", "") != "ES256" ||
      header.value("kid", "") != options.key_id || claims.value("iss", "") != options.team_id ||
      !claims.contains("iat") || !claims["iat"].is_number_integer()) {
    return "InvalidProviderToken";
  }
  if (claims["iat"].get<int64_t>() < NowMs() / 1000 - 3600) return "ExpiredProviderToken";
  std::string raw = Base64UrlDecode(jwt.substr(b + 1));
  if (raw.size() != 64) return "InvalidProviderToken";
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::string signed_part = jwt.substr(0, b);
  bool ok = der_len > 0 &&
            EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, jwt_public) == 1 &&
            EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                             reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  if (!ok) return "InvalidProviderToken";
  std::lock_guard lock(verified_mu);
  verified.insert(jwt);
  return "";
}

struct Stream {
  std::map<std::string, std::string> headers;
  std::string body;
  std::string answer;  // the response body, alive while it is sent
  size_t answer_sent = 0;
};

struct Connection {
  SSL* ssl = nullptr;
  nghttp2_session* session = nullptr;
  std::map<int32_t, Stream> streams;
};

ssize_t SendData(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
  auto* c = static_cast<Connection*>(user);
  int n = SSL_write(c->ssl, data, static_cast<int>(length));
  return n <= 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : n;
}

int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    static_cast<Connection*>(user)->streams[frame->hd.stream_id];
  }
  return 0;
}

int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* c = static_cast<Connection*>(user);
  auto it = c->streams.find(frame->hd.stream_id);
  if (it != c->streams.end()) {
    it->second.headers[std::string(reinterpret_cast<const char*>(name), namelen)] =
        std::string(reinterpret_cast<const char*>(value), valuelen);
  }
  return 0;
}

int OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
           void* user) {
  auto* c = static_cast<Connection*>(user);
  auto it = c->streams.find(stream_id);
  if (it != c->streams.end() && it->second.body.size() < 8192) {
    it->second.body.append(reinterpret_cast<const char*>(data), len);
  }
  return 0;
}

ssize_t ReadAnswer(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                   nghttp2_data_source* source, void*) {
  auto* s = static_cast<Stream*>(source->ptr);
  size_t n = std::min(length, s->answer.size() - s->answer_sent);
  std::memcpy(buf, s->answer.data() + s->answer_sent, n);
  s->answer_sent += n;
  if (s->answer_sent == s->answer.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

// "" when the request is one APNs takes, else its reason.
std::string Check(const Stream& s, std::string* token) {
  auto get = [&](const char* name) {
    auto it = s.headers.find(name);
    return it == s.headers.end() ? std::string() : it->second;
  };
  std::string path = get(":path");
  if (get(":method") != "POST" || path.rfind("/3/device/", 0) != 0) return "BadPath";
  *token = path.substr(10);
  if (token->empty()) return "MissingDeviceToken";
  if (get("apns-topic") != options.topic) return "BadTopic";
  if (get("apns-push-type").empty()) return "InvalidPushType";
  auto payload = nlohmann::json::parse(s.body, nullptr, false);
  if (!payload.is_object() || !payload.contains("aps")) return "PayloadEmpty";
  std::string auth = get("authorization");
  if (auth.rfind("bearer ", 0) != 0) return "MissingProviderToken";
  return CheckJwt(auth.substr(7));
}

int OnFrame(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* c = static_cast<Connection*>(user);
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    return 0;
  }
  auto it = c->streams.find(frame->hd.stream_id);
  if (it == c->streams.end()) return 0;
  Stream& s = it->second;
  std::string token;
  std::string reason = Check(s, &token);
  std::string status = "200";
  if (reason.empty()) {
    accepted.fetch_add(1);
    std::lock_guard lock(received_mu);
    received.emplace_back(token, NowMs());
  } else {
    refused.fetch_add(1);
    status = reason == "ExpiredProviderToken" || reason == "InvalidProviderToken" ||
                     reason == "MissingProviderToken"
                 ? "403"
                 : "400";
    s.answer = nlohmann::json({{"reason", reason}}).dump();
  }
  std::string apns_id = "00000000-0000-0000-0000-" + std::to_string(100000000000 + accepted.load());
  nghttp2_nv headers[] = {
      {(uint8_t*)":status", (uint8_t*)status.data(), 7, status.size(), NGHTTP2_NV_FLAG_NONE},
      {(uint8_t*)"apns-id", (uint8_t*)apns_id.data(), 7, apns_id.size(), NGHTTP2_NV_FLAG_NONE}};
  nghttp2_data_provider provider;
  provider.source.ptr = &s;
  provider.read_callback = ReadAnswer;
  nghttp2_submit_response(session, frame->hd.stream_id, headers, 2,
                          s.answer.empty() ? nullptr : &provider);
  return 0;
}

int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t, void* user) {
  static_cast<Connection*>(user)->streams.erase(stream_id);
  return 0;
}

void Serve(SSL_CTX* ctx, int fd) {
  Connection c;
  c.ssl = SSL_new(ctx);
  SSL_set_fd(c.ssl, fd);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  if (SSL_accept(c.ssl) == 1) SSL_get0_alpn_selected(c.ssl, &alpn, &alpn_len);
  if (alpn_len == 2 && std::memcmp(alpn, "h2", 2) == 0) {
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_send_callback(callbacks, SendData);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
    nghttp2_session_server_new(&c.session, callbacks, &c);
    nghttp2_session_callbacks_del(callbacks);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
    nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, settings, 1);
    std::vector<uint8_t> buf(65536);
    while (!stopping && nghttp2_session_send(c.session) == 0) {
      int n = SSL_read(c.ssl, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      if (nghttp2_session_mem_recv(c.session, buf.data(), static_cast<size_t>(n)) < 0) break;
    }
    nghttp2_session_del(c.session);
  }
  SSL_shutdown(c.ssl);
  SSL_free(c.ssl);
  close(fd);
}

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void*) {
  for (unsigned int i = 0; i < inlen; i += in[i] + 1u) {
    if (in[i] == 2 && i + 3 <= inlen && std::memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string*> flags = {
      {"--cert", &options.cert},       {"--key", &options.key},
      {"--jwt-key", &options.jwt_key}, {"--key-id", &options.key_id},
      {"--team-id", &options.team_id}, {"--topic", &options.topic},
      {"--out", &options.out}};
  for (int i = 1; i + 1 < argc; i += 2) {
    auto it = flags.find(argv[i]);
    if (it == flags.end()) {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
    *it->second = argv[i + 1];
  }
  for (const auto& [name, value] : flags) {
    if (value->empty()) {
      std::fprintf(stderr, "%s is required\n", name.c_str());
      return 2;
    }
  }
  FILE* key_file = std::fopen(options.jwt_key.c_str(), "r");
  if (key_file) {
    jwt_public = PEM_read_PrivateKey(key_file, nullptr, nullptr, nullptr);
    std::fclose(key_file);
  }
  if (jwt_public == nullptr) {
    std::fprintf(stderr, "cannot read the JWT key %s\n", options.jwt_key.c_str());
    return 1;
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    std::fprintf(stderr, "cannot load the TLS certificate or key\n");
    return 1;
  }
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);

  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::address_v4::loopback(), 0});
  int port = acceptor.local_endpoint().port();

  signal(SIGPIPE, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // threads inherit: only the waiter takes it

  std::thread([ctx, &acceptor] {
    for (;;) {
      boost::system::error_code ec;
      auto socket = acceptor.accept(ec);
      if (ec) continue;
      socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);
      std::thread(Serve, ctx, socket.release()).detach();
    }
  }).detach();
  std::thread([] {
    while (!stopping) {
      WriteFile(options.out + "/count",
                std::to_string(accepted.load()) + " " + std::to_string(refused.load()) + "\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }).detach();
  WriteFile(options.out + "/port", std::to_string(port) + "\n");

  int sig = 0;
  sigwait(&term, &sig);
  std::string all;
  {
    std::lock_guard lock(received_mu);
    for (const auto& [token, ms] : received) all += token + " " + std::to_string(ms) + "\n";
  }
  WriteFile(options.out + "/received", all);
  stopping = true;
  return 0;
}
