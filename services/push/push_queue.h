// The offline push queue: at least once per device, from Redis.
//
// The push service appends a job per recipient who has a device that is not
// online (stream parley:push:queue, field "m": a PushJob). Workers of every
// parley-push replica read it through the consumer group "push", make the
// notification (push_rules.h), read the recipient's devices again (one may
// have come online), and send to each offline device through its vendor
// (vendors.h) with the app's credential for that channel and business ID.
// A worker takes up to `batch` jobs at a time: their reads are shared and
// their notifications sent at once (HTTP/2 streams). Then the jobs are
// acknowledged. Per device:
//   sent           -> metrics, Push.OfflinePush callback;
//   invalid token  -> the device is forgotten;
//   retry          -> (429, 5xx, no answer) the device's own job goes to the
//                     retry set parley:push:retry, due after RetryDelay
//                     (exponential, or Retry-After when longer), and back on
//                     the stream when due; after max_attempts (about an hour
//                     with the defaults) it goes to parley:push:dead;
//   rejected       -> (a permanent error, no credential) not retried.
// A vendor that is down only fills the retry set: other vendors' and other
// devices' jobs go on; after 20 failures in a row (no answer, 5xx) its
// circuit breaker skips it for 5 s at a time (VendorBreaker), so a vendor
// that does not answer does not hold up the batches it shares with others.
// A worker that dies leaves its jobs pending; another claims them after
// claim_idle. A trimmer drops acknowledged entries.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "credential_store.h"
#include "receive_opt_store.h"
#include "parley/callbacks/callbacks.h"
#include "parley/presence/devices.h"
#include "parley/presence/presence.h"
#include "parley/redis/pool.h"
#include "parley/redis/streams.h"
#include "all_member_store.h"
#include "parley/v1/auth.pb.h"
#include "parley/v1/group.pb.h"
#include "parley/v1/push.pb.h"
#include "vendors.h"

namespace parley::push {

// Keys are "<prefix>:queue", "<prefix>:retry" and "<prefix>:dead"; the
// prefix is "parley:push" unless a deployment (or a test cluster sharing
// Redis with others) sets its own.
inline constexpr char kDefaultQueuePrefix[] = "parley:push";
inline constexpr char kConsumerGroup[] = "push";

std::string QueueStream(const std::string& prefix);

// Recipients' unread counts, for the badge, in the order asked.
class BadgeSource {
 public:
  virtual ~BadgeSource() = default;
  virtual absl::StatusOr<std::vector<uint32_t>> Badges(uint64_t sdkappid,
                                                       const std::vector<std::string>& users) = 0;
};

// A group's members with their MsgFlag, a page at a time (the group service).
class MemberSource {
 public:
  virtual ~MemberSource() = default;
  virtual absl::StatusOr<v1::ListPushTargetsResponse> Page(uint64_t sdkappid,
                                                           const std::string& group_id,
                                                           const std::string& after,
                                                           uint32_t limit) = 0;
};

// The app's accounts, a page at a time (the auth service).
class AccountSource {
 public:
  virtual ~AccountSource() = default;
  virtual absl::StatusOr<v1::ListAccountsResponse> Page(uint64_t sdkappid, const std::string& after,
                                                        uint32_t limit) = 0;
};

struct PushQueueOptions {
  int workers = 8;
  uint32_t max_attempts = 18;  // 1 s doubling to 5 min: about an hour in all
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_max{300000};
  std::chrono::milliseconds claim_idle{60000};
  std::string consumer = "push";
  int64_t dead_max_count = 100000;
  std::string key_prefix = kDefaultQueuePrefix;
  uint32_t group_page_size = 500;  // members read per page of a group message's push
  // Jobs a worker reads at once: their reads are shared (one receive-option
  // query, one Redis round trip for devices and sessions, one badge call)
  // and their notifications go to the vendors at once.
  uint32_t batch = 64;
};

// Appends jobs in one round trip.
absl::Status EnqueueJobs(redis::Pool& redis, const std::string& stream,
                         const std::vector<v1::PushJob>& jobs);

class PushQueue {
 public:
  PushQueue(redis::Pool* redis, redis::PoolOptions reader_options, CredentialStore* credentials,
            ReceiveOptStore* receive_opts, const VendorHttp* http,
            std::map<std::string, std::unique_ptr<Vendor>> vendors, BadgeSource* badges,
            MemberSource* members,
            callbacks::CallbackClient* callbacks, PushQueueOptions options);
  ~PushQueue();  // stops and joins

  void Start();
  // All-member pushes' tasks run here too (before Start).
  void SetAllMember(AllMemberStore* store, AccountSource* accounts) {
    all_member_ = store;
    accounts_ = accounts;
  }

 private:
  // An entry of a batch: the commands that settle it (next pages, device
  // jobs, retries), acknowledged with them in one transaction; or, when it
  // could not be settled now (Redis or PostgreSQL away), left pending.
  struct Pending {
    std::string id;
    bool settled = true;
    std::vector<std::vector<std::string>> commands;
  };
  // A notification to one device, for the batch entry `entry`.
  struct Outgoing {
    v1::PushJob job;
    size_t entry;
  };

  void Work(int index);
  void MoveRetries();
  void Trim();
  void HandleBatch(const redis::StreamEntries& entries);
  // New one-to-one jobs: per app, one receive-option query, one read of the
  // recipients' devices and sessions, one badge call; a send per device that
  // is not online.
  void ExpandMessages(std::vector<std::pair<size_t, v1::PushJob>> messages,
                      std::vector<Pending>* batch, std::vector<Outgoing>* sends);
  // Every notification of the batch to its vendor at once, then each result.
  void SendAll(std::vector<Outgoing> sends, std::vector<Pending>* batch);
  void Settle(v1::PushJob job, const SendResult& result,
              std::vector<std::vector<std::string>>* commands);
  // One page of a group message's members: queues the next page and a job
  // per device that takes a notification.
  void HandleGroupPage(v1::PushJob job, std::vector<std::vector<std::string>>* commands);
  // One page of an all-member push's users: online sessions get the event
  // live (and their marker), offline devices a job each; then the next page.
  void HandleTaskPage(v1::PushJob job, std::vector<std::vector<std::string>>* commands);
  // Another try of `job` later (or the dead stream after max_attempts).
  void Retry(v1::PushJob job, const std::string& reason, std::chrono::milliseconds retry_after,
             std::vector<std::vector<std::string>>* commands);
  // The per-device job of `job`'s notification for `device`.
  static v1::PushJob DeviceJob(const v1::PushJob& job, const std::string& user,
                               const presence::Device& device,
                               const v1::Notification& notification);
  void Report(const v1::PushJob& job, const std::string& channel, int32_t code,
              const std::string& info);

  redis::Pool* redis_;
  redis::PoolOptions reader_options_;
  CredentialStore* credentials_;
  ReceiveOptStore* receive_opts_;
  const VendorHttp* http_;
  std::map<std::string, std::unique_ptr<Vendor>> vendors_;
  BadgeSource* badges_;
  MemberSource* members_;
  AllMemberStore* all_member_ = nullptr;
  AccountSource* accounts_ = nullptr;
  callbacks::CallbackClient* callbacks_;
  PushQueueOptions options_;
  presence::Presence presence_;
  presence::Devices devices_;
  VendorBreaker breaker_;
  std::string queue_, retry_, dead_;
  std::atomic<bool> running_{false};
  std::vector<std::thread> threads_;
};

}  // namespace parley::push
