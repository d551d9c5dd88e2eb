#include "group_context_cache.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "parley/delivery/topics.h"
#include "parley/errors/errors.h"
#include "parley/rpc/client.h"

namespace parley::message {
namespace {

// A topic's contexts live in its community's entry, so one announcement of
// the community (any tip, topic changes included) drops them all.
std::string Key(uint64_t sdkappid, const std::string& group) {
  std::string_view community = delivery::CommunityOf(group);
  return absl::StrCat(sdkappid, " ", community.empty() ? group : std::string(community));
}

std::string MemberKey(const std::string& group, const std::string& user) {
  return delivery::CommunityOf(group).empty() ? user : absl::StrCat(group, "\n", user);
}

}  // namespace

GroupContextCache::GroupContextCache(std::shared_ptr<v1::GroupService::StubInterface> groups,
                                     Clock now, std::function<bool()> caching)
    : groups_(std::move(groups)), now_(std::move(now)), caching_(std::move(caching)) {}

std::string GroupContextCache::Announcement(uint64_t sdkappid, const std::string& group) {
  return absl::StrCat("g ", Key(sdkappid, group));
}

void GroupContextCache::OnChange(const std::string& message) {
  if (message.rfind("g ", 0) != 0) return;
  cache_.Erase(message.substr(2));
}

absl::StatusOr<v1::MemberContext> GroupContextCache::Get(uint64_t sdkappid,
                                                         const std::string& group,
                                                         const std::string& user) {
  std::string key = Key(sdkappid, group);
  bool caching = caching_();
  int64_t now = now_();
  std::shared_ptr<const Members> cached;
  if (caching) {
    if (auto hit = cache_.Get(key, now)) {
      cached = *hit;
      if (auto it = cached->find(MemberKey(group, user)); it != cached->end()) return it->second;
    }
  }
  uint64_t ticket = cache_.Ticket();
  v1::MemberContextRequest request;
  request.set_group_id(group);
  request.set_user_id(user);
  v1::MemberContext context;
  rpc::Caller self = rpc::ServiceCaller(sdkappid, "parley-message");
  auto call = rpc::NewContext(&self, std::chrono::milliseconds(3000));
  grpc::Status status = groups_->GetMemberContext(call.get(), request, &context);
  if (!status.ok()) return errors::FromGrpc(status);
  if (caching) {
    auto members = std::make_shared<Members>();
    if (cached && cached->size() < kMaxMembersPerEntry) *members = *cached;
    (*members)[MemberKey(group, user)] = context;
    cache_.PutIfUnchanged(key, std::move(members), now + kTtlSeconds, ticket);
  }
  return context;
}

}  // namespace parley::message
