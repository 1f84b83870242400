// One connection to Redis on the loop, through hiredis's asynchronous API and its libuv
// adapter: nothing here blocks. The host name is resolved by the Dialer (getaddrinfo on the
// libuv thread pool); hiredis then connects without blocking to the address found. After each
// connect the connection sends AUTH (when the URL has a password), SELECT and, for a
// subscriber connection, SUBSCRIBE, and only then reports itself up. A lost connection is
// retried with backoff (100 ms doubling to 5 s); each transition is reported once.
//
// Handlers never see hiredis types: replies are copied into RedisReply. A handler whose
// command did not get an answer (the connection was lost first) is called with null; none is
// called once the connection is destroyed. Loop-thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/transport/dialer.hpp"

struct redisAsyncContext;

namespace zlt {

struct RedisReply {
  enum class Type { string, status, integer, nil, array, error };
  Type type = Type::nil;
  std::string text;  // string, status, error
  long long integer = 0;
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::error; }
};

class RedisConnection {
 public:
  using ReplyHandler = std::function<void(const RedisReply* reply)>;
  using StateHandler = std::function<void(bool up, const std::string& why)>;
  using MessageHandler = std::function<void(const std::string& channel, const std::string& text)>;

  // `name` appears in log lines ("cluster store", "cluster events").
  RedisConnection(uv_loop_t* loop, config::RedisEndpoint endpoint, std::string name);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  void on_state(StateHandler handler) { on_state_ = std::move(handler); }
  // Makes this a subscriber connection: after every connect it subscribes to `channels` and
  // hands their messages to `handler`. Call before start().
  void subscribe(std::vector<std::string> channels, MessageHandler handler);

  void start();
  void stop();
  bool up() const { return up_; }

  // Sends a command (false, and no handler call, when the connection is not up).
  bool command(const std::vector<std::string>& args, ReplyHandler handler = {});

 private:
  struct Pending;
  struct ContextFree {
    void operator()(redisAsyncContext* c) const;
  };
  static void on_connected(const redisAsyncContext* c, int status);
  static void on_disconnected(const redisAsyncContext* c, int status);
  static void on_reply(redisAsyncContext* c, void* reply, void* privdata);
  static void on_message(redisAsyncContext* c, void* reply, void* privdata);

  void connect();
  void connect_to(const std::string& ip);
  void handshake();
  // The handshake is over: report the connection up (`what`: "connected to", "subscribed on").
  void became_up(const char* what);
  void lost(const std::string& why);
  void retry_later();
  bool send(const std::vector<std::string>& args, ReplyHandler handler);

  uv_loop_t* loop_;
  config::RedisEndpoint endpoint_;
  std::string name_;
  StateHandler on_state_;
  std::vector<std::string> channels_;
  MessageHandler on_message_;
  Dialer dialer_;
  Timer retry_;
  Timer connect_deadline_;
  std::chrono::milliseconds backoff_{100};
  std::unique_ptr<redisAsyncContext, ContextFree> context_;
  bool running_ = false;
  bool up_ = false;
  bool closing_ = false;  // destroying: replies reach no handler
  bool reported_down_ = false;
  std::string last_problem_;
};

}  // namespace zlt
