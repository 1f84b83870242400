#include "core/cluster/redis_connection.hpp"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "cluster";
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr std::chrono::milliseconds kConnectTimeout{5000};

RedisReply copy_reply(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::string;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::status;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::error;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(copy_reply(r->element[i]));
      break;
    default:
      out.type = RedisReply::Type::nil;
      break;
  }
  return out;
}

std::string context_error(const redisAsyncContext* c, const char* fallback) {
  return c != nullptr && c->errstr[0] != '\0' ? std::string(c->errstr) : std::string(fallback);
}

}  // namespace

// What hiredis carries for one command until its reply (or its failure) comes back.
struct RedisConnection::Pending {
  RedisConnection* owner;
  ReplyHandler handler;
};

void RedisConnection::ContextFree::operator()(redisAsyncContext* c) const {
  redisAsyncFree(c);
}

RedisConnection::RedisConnection(uv_loop_t* loop, config::RedisEndpoint endpoint, std::string name)
    : loop_(loop), endpoint_(std::move(endpoint)), name_(std::move(name)), dialer_(loop),
      retry_(loop), connect_deadline_(loop) {}

RedisConnection::~RedisConnection() {
  closing_ = true;
  context_.reset();  // hiredis answers what is pending with null; nobody is called
}

void RedisConnection::subscribe(std::vector<std::string> channels, MessageHandler handler) {
  channels_ = std::move(channels);
  on_message_ = std::move(handler);
}

void RedisConnection::start() {
  if (running_) return;
  running_ = true;
  connect();
}

void RedisConnection::stop() {
  running_ = false;
  retry_.stop();
  connect_deadline_.stop();
  dialer_.abandon();
  if (redisAsyncContext* c = context_.release()) {
    c->data = nullptr;
    redisAsyncFree(c);  // pending commands get null
  }
  up_ = false;
}

void RedisConnection::connect() {
  dialer_.resolve(
      endpoint_.host, endpoint_.port, {},
      [this](std::vector<SockAddr> addresses) {
        if (addresses.empty()) return lost("'" + endpoint_.host + "' has no address");
        connect_to(addresses.front().ip());
      },
      [this](const DialFailure& failure) {
        lost("cannot resolve '" + failure.host + "': " + uv_error_text(failure.uv_code));
      });
}

void RedisConnection::connect_to(const std::string& ip) {
  redisAsyncContext* c = redisAsyncConnect(ip.c_str(), endpoint_.port);
  if (c == nullptr) return lost("out of memory");
  if (c->err != 0) {
    std::string why = context_error(c, "connect failed");
    redisAsyncFree(c);
    return lost(why);
  }
  if (redisLibuvAttach(c, loop_) != REDIS_OK) {
    redisAsyncFree(c);
    return lost("cannot attach to the event loop");
  }
  c->data = this;
  redisAsyncSetConnectCallback(c, &RedisConnection::on_connected);
  redisAsyncSetDisconnectCallback(c, &RedisConnection::on_disconnected);
  context_.reset(c);
  // hiredis has no timeouts of its own: an address that never answers, or a server that
  // accepts and never replies, would hang here. The deadline covers the handshake too.
  connect_deadline_.start(kConnectTimeout, [this] { lost("no answer within 5 s"); });
}

void RedisConnection::on_connected(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisConnection*>(c->data);
  if (self == nullptr || self->closing_) return;
  guard_callback("redis connect", [&] {
    if (status != REDIS_OK) {
      self->context_.release();  // hiredis frees a context whose connect failed
      self->lost(context_error(c, "connect failed"));
      return;
    }
    self->handshake();
  });
}

void RedisConnection::on_disconnected(const redisAsyncContext* c, int status) {
  auto* self = static_cast<RedisConnection*>(c->data);
  if (self == nullptr || self->closing_) return;
  guard_callback("redis disconnect", [&] {
    self->context_.release();  // hiredis frees it after this callback
    self->lost(status == REDIS_OK ? std::string("connection closed")
                                  : context_error(c, "connection lost"));
  });
}

void RedisConnection::handshake() {
  auto refuse_on_error = [this](const char* step) {
    return [this, step](const RedisReply* r) {
      if (r != nullptr && r->is_error()) lost(std::string(step) + " refused: " + r->text);
    };
  };
  if (endpoint_.password) send({"AUTH", *endpoint_.password}, refuse_on_error("AUTH"));
  if (endpoint_.db != 0) send({"SELECT", std::to_string(endpoint_.db)}, refuse_on_error("SELECT"));
  if (!channels_.empty()) {
    std::vector<const char*> argv{"SUBSCRIBE"};
    std::vector<std::size_t> lengths{9};
    for (const auto& ch : channels_) {
      argv.push_back(ch.c_str());
      lengths.push_back(ch.size());
    }
    // hiredis keeps `this` for the subscription and calls on_message for every message, and
    // once with null when the context is freed.
    redisAsyncCommandArgv(context_.get(), &RedisConnection::on_message, this,
                          static_cast<int>(argv.size()), argv.data(), lengths.data());
    return;
  }
  send({"PING"}, [this](const RedisReply* r) {
    if (r != nullptr && !r->is_error()) became_up("connected to");
  });
}

void RedisConnection::on_message(redisAsyncContext* c, void* reply, void* privdata) {
  (void)c;
  auto* self = static_cast<RedisConnection*>(privdata);
  if (self == nullptr || self->closing_ || reply == nullptr) return;
  guard_callback("redis message", [&] {
    RedisReply r = copy_reply(static_cast<const redisReply*>(reply));
    if (r.type != RedisReply::Type::array || r.elements.size() != 3) return;
    const std::string& kind = r.elements[0].text;
    if (kind == "subscribe") {
      if (static_cast<std::size_t>(r.elements[2].integer) == self->channels_.size() &&
          !self->up_)
        self->became_up("subscribed on");
    } else if (kind == "message" && self->on_message_) {
      self->on_message_(r.elements[1].text, r.elements[2].text);
    }
  });
}

bool RedisConnection::command(const std::vector<std::string>& args, ReplyHandler handler) {
  if (!up_) return false;
  return send(args, std::move(handler));
}

bool RedisConnection::send(const std::vector<std::string>& args, ReplyHandler handler) {
  if (!context_ || args.empty()) return false;
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  auto pending = std::make_unique<Pending>(Pending{this, std::move(handler)});
  if (redisAsyncCommandArgv(context_.get(), &RedisConnection::on_reply, pending.get(),
                            static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK)
    return false;
  pending.release();  // hiredis holds it until on_reply
  return true;
}

void RedisConnection::on_reply(redisAsyncContext* c, void* reply, void* privdata) {
  (void)c;
  std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
  if (pending->owner->closing_ || !pending->handler) return;
  guard_callback("redis reply", [&] {
    if (reply == nullptr) return pending->handler(nullptr);
    RedisReply r = copy_reply(static_cast<const redisReply*>(reply));
    pending->handler(&r);
  });
}

void RedisConnection::became_up(const char* what) {
  connect_deadline_.stop();
  up_ = true;
  backoff_ = std::chrono::milliseconds{100};
  reported_down_ = false;
  ZLT_LOG(info, kLog) << name_ << ": " << what << " redis " << endpoint_.host << ":"
                      << endpoint_.port;
  if (on_state_) on_state_(true, "");
}

void RedisConnection::lost(const std::string& why) {
  connect_deadline_.stop();
  if (redisAsyncContext* c = context_.release()) {
    c->data = nullptr;  // its disconnect callback is ours no more
    redisAsyncFree(c);  // inside a hiredis callback, hiredis frees it once that returns
  }
  const bool was_up = up_;
  up_ = false;
  if (was_up || !reported_down_) {
    ZLT_LOG(warn, kLog) << name_ << ": redis " << endpoint_.host << ":" << endpoint_.port
                        << " unavailable: " << why << "; retrying";
    reported_down_ = true;
    if (on_state_) on_state_(false, why);
  }
  retry_later();
}

void RedisConnection::retry_later() {
  if (!running_ || retry_.active()) return;
  retry_.start(backoff_, [this] { connect(); });
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
}

}  // namespace zlt
