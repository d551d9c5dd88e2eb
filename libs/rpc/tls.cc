#include "parley/rpc/tls.h"

#include <fstream>
#include <mutex>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "parley/rpc/access.h"

namespace parley::rpc {
namespace {

TlsSettings& Settings() {
  static TlsSettings settings;
  return settings;
}

std::string PathOf(const std::string& file) { return absl::StrCat(Settings().dir, "/", file); }

// One provider for the process: every channel and the server share it, so
// the files are watched once.
std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider() {
  static std::once_flag once;
  static std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider;
  std::call_once(once, [] {
    const auto& s = Settings();
    provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        PathOf(s.name + ".key"), PathOf(s.name + ".crt"), PathOf("ca.crt"),
        static_cast<unsigned>(s.refresh_seconds));
  });
  return provider;
}

std::string Value(const grpc::string_ref& ref) { return std::string(ref.data(), ref.size()); }

// Runs inline on every incoming call, after the TLS handshake verified the
// client certificate: the call's method (":path") against the access table.
class AccessProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit AccessProcessor(std::vector<AccessRule> rules) : rules_(std::move(rules)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata* response) override {
    std::string method;
    if (auto it = auth_metadata.find(":path"); it != auth_metadata.end()) method = Value(it->second);
    std::string peer;
    if (context != nullptr) {
      auto names = context->FindPropertyValues("x509_common_name");
      if (!names.empty()) peer = Value(names.front());
    }
    if (Allowed(rules_, peer, method)) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat(peer.empty() ? "this caller" : peer, " may not call ",
                                     method.empty() ? "this method" : method));
  }

 private:
  std::vector<AccessRule> rules_;
};

bool Readable(const std::string& path) {
  std::ifstream in(path);
  return in.good() && in.peek() != std::ifstream::traits_type::eof();
}

}  // namespace

std::string Identity(const std::string& name) { return absl::StrCat(kIdentityPrefix, name); }

absl::Status InitTls(TlsSettings settings) {
  if (settings.dir.empty()) {
    return absl::FailedPreconditionError(
        "PARLEY_TLS_DIR is not set: internal gRPC is mutual TLS and needs this process's "
        "certificate (scripts/tls-certs makes a cluster CA and certificates)");
  }
  if (settings.refresh_seconds <= 0) settings.refresh_seconds = 60;
  Settings() = std::move(settings);
  for (const auto& file : {std::string("ca.crt"), Settings().name + ".crt",
                           Settings().name + ".key"}) {
    if (!Readable(PathOf(file))) {
      return absl::FailedPreconditionError(
          absl::StrCat("TLS file ", PathOf(file), " is missing or empty"));
    }
  }
  return absl::OkStatus();
}

const TlsSettings& Tls() { return Settings(); }

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(Provider());
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  // The server's chain is checked against ca.crt and its name against the
  // identity the channel asked for (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG).
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const std::string& service) {
  grpc::experimental::TlsServerCredentialsOptions options(Provider());
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  auto credentials = grpc::experimental::TlsServerCredentials(options);
  credentials->SetAuthMetadataProcessor(std::make_shared<AccessProcessor>(AccessRules(service)));
  return credentials;
}

std::string PeerIdentity(const grpc::ServerContext& context) {
  auto auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return "";
  // Parley's certificates carry the identity as common name and DNS name.
  auto names = auth->FindPropertyValues("x509_common_name");
  if (names.empty()) return "";
  return std::string(names.front().data(), names.front().size());
}

}  // namespace parley::rpc
