// A fixed-size pool of synchronous hiredis connections.
//
// Command() sends one command with binary-safe arguments. A connection that
// fails (I/O error, timeout, server restart) is dropped and reopened on its
// next use, so callers see UNAVAILABLE once and the pool recovers by itself.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <hiredis/hiredis.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace parley::redis {

struct PoolOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string password;  // AUTH when not empty
  int size = 4;
  std::chrono::milliseconds timeout{2000};
};

// An owned reply. Accessors are safe on any reply type.
class Reply {
 public:
  explicit Reply(redisReply* reply) : reply_(reply, &freeReplyObject) {}
  int type() const { return reply_->type; }
  bool is_nil() const { return reply_->type == REDIS_REPLY_NIL; }
  long long integer() const { return reply_->type == REDIS_REPLY_INTEGER ? reply_->integer : 0; }
  std::string str() const {
    return reply_->str ? std::string(reply_->str, reply_->len) : std::string();
  }
  size_t size() const { return reply_->type == REDIS_REPLY_ARRAY ? reply_->elements : 0; }
  // Element i of an array reply as a string.
  std::string element(size_t i) const;
  // The hiredis reply, for nested replies (e.g. XREAD). Valid while this lives.
  const redisReply* raw() const { return reply_.get(); }

 private:
  std::shared_ptr<redisReply> reply_;
};

// One connection with the pool's timeout and AUTH; the caller frees it.
absl::StatusOr<redisContext*> OpenConnection(const PoolOptions& options);

class Pool {
 public:
  // Parses "host:port".
  static absl::StatusOr<PoolOptions> ParseAddress(const std::string& address);
  // Connects every slot; fails if the first connection fails.
  static absl::StatusOr<std::unique_ptr<Pool>> Create(PoolOptions options);
  ~Pool();

  // An error reply from Redis becomes INTERNAL with its text; I/O errors
  // become UNAVAILABLE.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  // Sends every command, then reads every reply: one round trip for all.
  // The outer status fails on I/O errors; each reply may be an error reply.
  absl::StatusOr<std::vector<absl::StatusOr<Reply>>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);

 private:
  explicit Pool(PoolOptions options) : options_(std::move(options)) {}
  absl::StatusOr<redisContext*> Connect();
  redisContext* Acquire(absl::Status* status);
  void Release(redisContext* context);

  PoolOptions options_;
  absl::Mutex mu_;
  std::vector<redisContext*> idle_ ABSL_GUARDED_BY(mu_);  // nullptr = reconnect
};

}  // namespace parley::redis
