#include "parley/redis/subscriber.h"

#include <poll.h>

#include <chrono>

namespace parley::redis {

Subscriber::Subscriber(PoolOptions options, std::string channel, OnMessage on_message,
                       std::function<void()> on_reset)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      on_message_(std::move(on_message)),
      on_reset_(std::move(on_reset)) {}

Subscriber::~Subscriber() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Subscriber::Start() { thread_ = std::thread([this] { Run(); }); }

void Subscriber::Run() {
  while (!stopping_) {
    auto context = OpenConnection(options_);
    if (context.ok()) {
      Listen(*context);
      redisFree(*context);
      if (subscribed_.exchange(false)) on_reset_();
    }
    for (int i = 0; i < 10 && !stopping_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

void Subscriber::Listen(redisContext* context) {
  const char* argv[] = {"SUBSCRIBE", channel_.c_str()};
  size_t lens[] = {9, channel_.size()};
  if (redisAppendCommandArgv(context, 2, argv, lens) != REDIS_OK) return;
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context, &done) != REDIS_OK) return;
  }
  // Poll with a short timeout so Stop is noticed; hiredis' own read timeout
  // would poison the connection.
  while (!stopping_) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(context, &raw) != REDIS_OK) return;
    if (raw == nullptr) {
      pollfd pfd{context->fd, POLLIN, 0};
      int ready = poll(&pfd, 1, 200);
      if (ready < 0) return;
      if (ready > 0 && redisBufferRead(context) != REDIS_OK) return;
      continue;
    }
    Reply reply(static_cast<redisReply*>(raw));
    if (reply.size() < 3) continue;
    std::string kind = reply.element(0);
    if (kind == "subscribe") {
      subscribed_ = true;
      on_reset_();  // anything published before now was missed
    } else if (kind == "message") {
      on_message_(reply.element(2));
    }
  }
}

}  // namespace parley::redis
