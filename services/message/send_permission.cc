#include "send_permission.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "parley/errors/errors.h"
#include "parley/rpc/client.h"

namespace parley::message {
namespace {

constexpr int64_t kEntrySeconds = 60;
constexpr size_t kMaxEntries = 500000;

std::string UserKey(uint64_t sdkappid, const std::string& user) {
  return absl::StrCat("u ", sdkappid, " ", user);
}
std::string AppKey(uint64_t sdkappid) { return absl::StrCat("a ", sdkappid); }

}  // namespace

int32_t SendPermission::Code(const v1::CheckSendPermissionResponse& facts, bool sender_is_admin) {
  if (sender_is_admin && facts.admin_send_any()) return 0;
  // Tencent's codes: 20007 blocked by the recipient; 20009 friends neither
  // way; 20010 the sender is not in the recipient's list; 20011 the reverse.
  if (facts.recipient_blocked_sender()) return 20007;
  if (facts.check_friendship()) {
    if (!facts.sender_has_recipient() && !facts.recipient_has_sender()) return 20009;
    if (!facts.recipient_has_sender()) return 20010;
    if (!facts.sender_has_recipient()) return 20011;
  }
  return 0;
}

SendPermission::SendPermission(std::shared_ptr<v1::RelationshipService::StubInterface> relationship,
                               Clock now, std::function<bool()> caching)
    : relationship_(std::move(relationship)), now_(std::move(now)), caching_(std::move(caching)) {}

bool SendPermission::FreshLocked(const Entry& entry, uint64_t sdkappid,
                                 const std::string& from, const std::string& to,
                                 int64_t now) const {
  if (entry.expires_at <= now || entry.version <= valid_from_) return false;
  for (const std::string& k : {UserKey(sdkappid, from), UserKey(sdkappid, to), AppKey(sdkappid)}) {
    auto it = changed_.find(k);
    if (it != changed_.end() && it->second >= entry.version) return false;
  }
  return true;
}

absl::StatusOr<int32_t> SendPermission::Check(uint64_t sdkappid, const std::string& from,
                                              const std::string& to, bool sender_is_admin) {
  std::string key = absl::StrCat(sdkappid, "\n", from, "\n", to);
  int64_t now = now_();
  uint64_t fill_version = 0;
  {
    std::lock_guard lock(mu_);
    auto it = pairs_.find(key);
    if (it != pairs_.end() && FreshLocked(it->second, sdkappid, from, to, now)) {
      return Code(it->second.facts, sender_is_admin);
    }
    fill_version = ++version_;
  }
  fetches_.fetch_add(1);
  rpc::Caller caller = rpc::ServiceCaller(sdkappid, "parley-message");
  auto context = rpc::NewContext(&caller);
  v1::CheckSendPermissionRequest request;
  request.set_from_account(from);
  request.set_to_account(to);
  v1::CheckSendPermissionResponse facts;
  grpc::Status status = relationship_->CheckSendPermission(context.get(), request, &facts);
  if (!status.ok()) return errors::FromGrpc(status);
  if (caching_()) {
    std::lock_guard lock(mu_);
    if (pairs_.size() >= kMaxEntries) pairs_.clear();
    pairs_[key] = {facts, fill_version, now + kEntrySeconds};
  }
  return Code(facts, sender_is_admin);
}

void SendPermission::OnChange(const std::string& message) {
  std::lock_guard lock(mu_);
  if (changed_.size() >= kMaxEntries) {  // forget the detail: everything is stale
    changed_.clear();
    valid_from_ = ++version_;
    pairs_.clear();
  }
  // "u <sdkappid> <user>" (user IDs may contain spaces) or "a <sdkappid>".
  std::vector<std::string> parts = absl::StrSplit(message, absl::MaxSplits(' ', 2));
  if (parts.size() == 3 && parts[0] == "u") {
    changed_[absl::StrCat("u ", parts[1], " ", parts[2])] = ++version_;
  } else if (parts.size() == 2 && parts[0] == "a") {
    changed_[absl::StrCat("a ", parts[1])] = ++version_;
  } else {
    valid_from_ = ++version_;  // unknown: be safe
  }
}

void SendPermission::InvalidateAll() {
  std::lock_guard lock(mu_);
  valid_from_ = ++version_;
  pairs_.clear();
  changed_.clear();
}

}  // namespace parley::message
