#include "vendor_http.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace parley::push {
namespace {

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  // Vendors answer a few KB; anything past 64 KB is not read.
  size_t n = size * count;
  if (body->size() < 65536) body->append(data, std::min(n, 65536 - body->size()));
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string line(data, size * count);
  auto colon = line.find(':');
  if (colon != std::string::npos && headers->size() < 64) {
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    (*headers)[name] = value;
  }
  return size * count;
}

// A thread's multi handle (its connection cache) and idle easy handles.
struct Multi {
  CURLM* multi = nullptr;
  std::vector<CURL*> idle;
  Multi() {
    multi = curl_multi_init();
    if (multi != nullptr) {
      curl_multi_setopt(multi, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_MULTIPLEX));
      curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, kMaxHostConnections);
    }
  }
  ~Multi() {
    for (CURL* e : idle) curl_easy_cleanup(e);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }
  CURL* Take() {
    if (idle.empty()) return curl_easy_init();
    CURL* e = idle.back();
    idle.pop_back();
    curl_easy_reset(e);
    return e;
  }
  void Give(CURL* e) {
    if (idle.size() < 256) {
      idle.push_back(e);
    } else {
      curl_easy_cleanup(e);
    }
  }
};

// One transfer's state, alive until it is answered.
struct Transfer {
  const HttpRequest* request = nullptr;
  CURL* easy = nullptr;
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers{nullptr,
                                                                      &curl_slist_free_all};
  bool done = false;
};

void Configure(CURL* curl, const HttpRequest& request, const std::string& ca_file,
               Transfer* transfer, HttpResponse* response) {
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION,
                   request.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  // Wait for a connection that can take another stream rather than open a
  // new one: a batch to APNs shares one connection.
  curl_easy_setopt(curl, CURLOPT_PIPEWAIT, request.http2 ? 1L : 0L);
  if (!ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file.c_str());
  if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(request.client_cert_pem.data()),
                   request.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(request.client_key_pem.data()), request.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");
  transfer->headers.reset(headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response->body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &WriteHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response->headers);
  curl_easy_setopt(curl, CURLOPT_PRIVATE, transfer);
}

void Finish(CURL* curl, CURLcode code, HttpResponse* response) {
  curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &response->seconds);
  if (code != CURLE_OK) {
    response->error = curl_easy_strerror(code);
    response->status = 0;
    return;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
}

}  // namespace

void VendorHttp::GlobalInit() {
  static bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

VendorHttp::VendorHttp(std::string ca_file) : ca_file_(std::move(ca_file)) { GlobalInit(); }

HttpResponse VendorHttp::Send(const HttpRequest& request) const {
  return std::move(SendAll({&request}).front());
}

std::vector<HttpResponse> VendorHttp::SendAll(
    const std::vector<const HttpRequest*>& requests) const {
  thread_local Multi state;
  std::vector<HttpResponse> responses(requests.size());
  if (state.multi == nullptr) {
    for (auto& r : responses) r.error = "curl handle unavailable";
    return responses;
  }
  std::vector<Transfer> transfers(requests.size());
  size_t running = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    Transfer& t = transfers[i];
    t.request = requests[i];
    t.easy = state.Take();
    if (t.easy == nullptr) {
      responses[i].error = "curl handle unavailable";
      t.done = true;
      continue;
    }
    Configure(t.easy, *t.request, ca_file_, &t, &responses[i]);
    if (curl_multi_add_handle(state.multi, t.easy) != CURLM_OK) {
      responses[i].error = "curl could not take the request";
      state.Give(t.easy);
      t.easy = nullptr;
      t.done = true;
      continue;
    }
    ++running;
  }
  while (running > 0) {
    int still = 0;
    if (curl_multi_perform(state.multi, &still) != CURLM_OK) break;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(state.multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      size_t index = static_cast<size_t>(t - transfers.data());
      Finish(msg->easy_handle, msg->data.result, &responses[index]);
      t->done = true;
      --running;
    }
    if (running > 0) curl_multi_poll(state.multi, nullptr, 0, 100, nullptr);
  }
  for (size_t i = 0; i < transfers.size(); ++i) {
    Transfer& t = transfers[i];
    if (t.easy == nullptr) continue;
    curl_multi_remove_handle(state.multi, t.easy);
    if (!t.done) responses[i].error = "curl failed";
    state.Give(t.easy);
  }
  return responses;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    char* n = curl_easy_escape(nullptr, name.data(), static_cast<int>(name.size()));
    char* v = curl_easy_escape(nullptr, value.data(), static_cast<int>(value.size()));
    absl::StrAppend(&out, n ? n : "", "=", v ? v : "");
    curl_free(n);
    curl_free(v);
  }
  return out;
}

}  // namespace parley::push
