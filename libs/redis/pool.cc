#include "parley/redis/pool.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace parley::redis {

std::string Reply::element(size_t i) const {
  if (i >= size()) return "";
  const redisReply* e = reply_->element[i];
  return e->str ? std::string(e->str, e->len) : std::string();
}

absl::StatusOr<PoolOptions> Pool::ParseAddress(const std::string& address) {
  PoolOptions options;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &options.port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad Redis address '", address, "'"));
  }
  options.host = address.substr(0, colon);
  return options;
}

absl::StatusOr<redisContext*> Pool::Connect() { return OpenConnection(options_); }

absl::StatusOr<redisContext*> OpenConnection(const PoolOptions& options_) {
  timeval tv{static_cast<time_t>(options_.timeout.count() / 1000),
             static_cast<suseconds_t>((options_.timeout.count() % 1000) * 1000)};
  redisContext* context = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
  if (context == nullptr || context->err) {
    std::string why = context ? context->errstr : "out of memory";
    if (context) redisFree(context);
    return absl::UnavailableError(absl::StrCat("cannot connect to Redis: ", why));
  }
  redisSetTimeout(context, tv);
  if (!options_.password.empty()) {
    auto* reply = static_cast<redisReply*>(redisCommand(context, "AUTH %s", options_.password.c_str()));
    bool ok = reply && reply->type != REDIS_REPLY_ERROR;
    if (reply) freeReplyObject(reply);
    if (!ok) {
      redisFree(context);
      return absl::PermissionDeniedError("Redis AUTH failed");
    }
  }
  return context;
}

absl::StatusOr<std::unique_ptr<Pool>> Pool::Create(PoolOptions options) {
  std::unique_ptr<Pool> pool(new Pool(std::move(options)));
  absl::MutexLock lock(&pool->mu_);
  for (int i = 0; i < std::max(1, pool->options_.size); ++i) {
    auto context = pool->Connect();
    if (!context.ok()) return context.status();
    pool->idle_.push_back(*context);
  }
  return pool;
}

Pool::~Pool() {
  absl::MutexLock lock(&mu_);
  for (redisContext* c : idle_) {
    if (c) redisFree(c);
  }
}

redisContext* Pool::Acquire(absl::Status* status) {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty(); };
  if (!mu_.AwaitWithTimeout(absl::Condition(&available), absl::FromChrono(options_.timeout))) {
    *status = absl::UnavailableError("no free Redis connection");
    return nullptr;
  }
  redisContext* context = idle_.back();
  idle_.pop_back();
  if (context == nullptr) {
    // Reconnect outside the idle list; a failure puts the empty slot back.
    mu_.Unlock();
    auto connected = Connect();
    mu_.Lock();
    if (!connected.ok()) {
      idle_.push_back(nullptr);
      *status = connected.status();
      return nullptr;
    }
    context = *connected;
  }
  return context;
}

void Pool::Release(redisContext* context) {
  absl::MutexLock lock(&mu_);
  idle_.push_back(context);
}

absl::StatusOr<Reply> Pool::Command(const std::vector<std::string>& args) {
  absl::Status status;
  redisContext* context = Acquire(&status);
  if (context == nullptr) return status;
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto* raw = static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data()));
  if (raw == nullptr) {
    std::string why = context->errstr;
    redisFree(context);
    Release(nullptr);
    return absl::UnavailableError(absl::StrCat("Redis I/O error: ", why));
  }
  Release(context);
  Reply reply(raw);
  if (reply.type() == REDIS_REPLY_ERROR) return absl::InternalError(reply.str());
  return reply;
}

absl::StatusOr<std::vector<absl::StatusOr<Reply>>> Pool::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<absl::StatusOr<Reply>> replies;
  if (commands.empty()) return replies;
  absl::Status status;
  redisContext* context = Acquire(&status);
  if (context == nullptr) return status;
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    redisAppendCommandArgv(context, static_cast<int>(args.size()), argv.data(), lengths.data());
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context, &raw) != REDIS_OK || raw == nullptr) {
      std::string why = context->errstr;
      redisFree(context);
      Release(nullptr);
      return absl::UnavailableError(absl::StrCat("Redis I/O error: ", why));
    }
    Reply reply(static_cast<redisReply*>(raw));
    if (reply.type() == REDIS_REPLY_ERROR) {
      replies.push_back(absl::InternalError(reply.str()));
    } else {
      replies.push_back(std::move(reply));
    }
  }
  Release(context);
  return replies;
}

}  // namespace parley::redis
