#include "core/transport/ws_server.hpp"

#include <fcntl.h>
#include <libwebsockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <unordered_map>

#include "core/common/ascii.hpp"
#include "core/protocol/message.hpp"
#include "core/protocol/utf8.hpp"
#include "core/runtime/callback_guard.hpp"
#include "core/runtime/fd_limit.hpp"
#include "core/runtime/log.hpp"
#include "core/runtime/log_throttle.hpp"
#include "core/transport/lws_context.hpp"
#include "core/transport/tls_client.hpp"
#include "core/transport/ws_codec.hpp"
#include "core/transport/ws_guard.hpp"

namespace zlt {

static_assert(Chunk::kFrameHeadroom >= LWS_PRE, "chunk headroom must cover LWS_PRE");

namespace {

constexpr const char* kSubprotocol = "zlayer-tunnel.v1";
constexpr int kMaxWritesPerWriteable = 16;
constexpr std::chrono::milliseconds kCloseGrace{5000};
constexpr auto kWriteClose = static_cast<lws_write_protocol>(4);  // lws's LWS_WRITE_CLOSE
constexpr int kAcceptsPerWakeup = 64;
// Without a spare descriptor the listener is not watched for this long when accept runs out
// of descriptors (or memory), instead of waking up for the same connection again and again.
constexpr std::chrono::milliseconds kAcceptPause{250};

// Text messages are ignored by the protocol, but a peer that floods them is misbehaving.
class TextBudget {
 public:
  bool take(std::uint64_t now_ms) {
    tokens_ = std::min(kBurst, tokens_ + static_cast<double>(now_ms - last_ms_) * kPerMs);
    last_ms_ = now_ms;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  static constexpr double kBurst = 100.0;
  static constexpr double kPerMs = 0.01;  // 10 per second
  double tokens_ = kBurst;
  std::uint64_t last_ms_ = 0;
};

std::string header(lws* wsi, lws_token_indexes token) {
  int len = lws_hdr_total_length(wsi, token);
  if (len <= 0) return {};
  std::string s(static_cast<std::size_t>(len) + 1, '\0');
  int n = lws_hdr_copy(wsi, s.data(), len + 1, token);
  if (n < 0) return {};
  s.resize(static_cast<std::size_t>(n));
  return s;
}

// Turns away a connection that libwebsockets never saw: an HTTP 503 whose status line says why
// (clients print it), then close. A TLS listener cannot answer in plain text; it just closes.
void refuse_socket(int fd, const std::string& reason, bool tls) {
  // Read what the client already sent: closing with unread bytes resets the connection, and
  // the client could lose the answer.
  char sink[4096];
  for (int i = 0; i < 4 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  if (!tls) {
    const std::string body = reason + "\n";
    const std::string response = "HTTP/1.1 503 " + reason +
                                 "\r\nContent-Type: text/plain\r\nContent-Length: " +
                                 std::to_string(body.size()) +
                                 "\r\nConnection: close\r\nRetry-After: 10\r\n\r\n" + body;
    (void)::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (iequals_ascii(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

class ServerConnection;

// Per-wsi storage that libwebsockets allocates and zeroes; it cannot own anything.
struct Pss {
  ServerConnection* conn;
  struct HttpExchange* http;
};

struct HttpExchange {
  HttpRequest request;
  HttpResponse response;
  bool responded = false;
};

class ServerConnection final : public Channel {
 public:
  ServerConnection(lws* wsi, WsServer::Impl* owner, std::string peer)
      : wsi_(wsi), owner_(owner), peer_(std::move(peer)) {}

  void set_events(ChannelEvents* events) override { events_ = events; }
  void send(ChunkPtr message) override;
  std::size_t queued_bytes() const override { return queued_; }
  void pause_receive(bool paused) override;
  void close(std::uint16_t code, std::string_view reason) override;
  std::string peer_address() const override { return peer_; }

  int on_receive(const std::uint8_t* in, std::size_t len);
  int on_writeable();
  void on_peer_close(const std::uint8_t* in, std::size_t len);
  // The peer broke RFC 6455 (found by its WsGuard): fail the WebSocket with the violation's
  // close code.
  void fail_protocol(const ws::Violation& violation);
  // lws has closed the connection; tell the session (once).
  void on_closed();
  // The server is going away: no more events, and the connection is dropped.
  void detach() { events_ = nullptr; }
  lws* wsi() const { return wsi_; }

 private:
  int fail(std::uint16_t code, const std::string& reason);
  void request_writable();

  lws* wsi_;
  WsServer::Impl* owner_;
  std::string peer_;
  ChannelEvents* events_ = nullptr;
  std::deque<ChunkPtr> queue_;
  std::size_t queued_ = 0;  // real bytes (footprints) of queue_
  bool above_high_ = false;
  bool writable_requested_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
  std::uint16_t close_code_ = close_code::kNormal;
  std::string close_reason_;
  std::string local_failure_;
  std::string protocol_failure_;
  std::uint16_t peer_close_code_ = 0;
  std::string peer_close_reason_;
  ChunkPtr rx_;
  bool in_message_ = false;
  bool message_is_binary_ = false;
  TextBudget text_budget_;
  Timer close_deadline_;
};

struct WsServer::Impl final : WsGuard::Events {
  struct Listener {
    Impl* owner = nullptr;
    int fd = -1;
    SockAddr address;
    UvHandle<uv_poll_t> poll;
    Timer resume;  // restarts watching after a pause for lack of descriptors
  };

  WsServer* self = nullptr;
  Handler* handler = nullptr;
  Options options;
  LwsContext* lws_ctx = nullptr;
  lws_vhost* vhost = nullptr;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::unordered_map<ServerConnection*, std::unique_ptr<ServerConnection>> connections;
  std::unordered_map<lws*, std::unique_ptr<Timer>> handshakes;  // adopted, not yet upgraded
  SslCtxPtr tls_context;  // wss: the guards do TLS, libwebsockets sees plaintext
  struct Guarded {
    std::unique_ptr<WsGuard> guard;
    lws* wsi = nullptr;  // null once libwebsockets is done with the connection
  };
  std::unordered_map<WsGuard*, Guarded> guards;  // every accepted connection
  std::unordered_map<lws*, WsGuard*> guard_of;
  Admission admission;
  Stats stats;
  LogThrottle refusal_log;
  LogThrottle eviction_log;
  LogThrottle accept_error_log;
  // A descriptor held in reserve: when accept fails for lack of descriptors, giving it up lets
  // the listener take the waiting connection and close it, instead of waking up for it again
  // and again.
  int spare_fd = -1;
  bool out_of_fds = false;  // in an episode of accept failing for lack of descriptors
  std::uint64_t refused_this_episode = 0;

  ~Impl();
  void close_listeners();
  void watch(Listener& l);
  void accept_ready(Listener& l);
  // accept failed with `error` (EMFILE and kin); false: stop accepting for now.
  bool accept_failed(Listener& l, int error);
  Status adopt(int fd);
  void evict(lws* wsi);
  std::uint64_t now_ms() const { return uv_now(lws_ctx->loop()); }
  void handshake_done(lws* wsi) { handshakes.erase(wsi); }
  void wsi_destroyed(lws* wsi);
  // The real peer ("1.2.3.4:5"): libwebsockets itself only sees the guard's socketpair.
  std::string peer_for(lws* wsi) const;
  void on_guard_violation(WsGuard& guard, const ws::Violation& violation) override;
  void on_guard_closed(WsGuard& guard) override;
  int confirm_upgrade(lws* wsi, const char* upgrade);
  int established(lws* wsi, Pss* pss);
  void closed(ServerConnection* conn);
  int http_request(lws* wsi, Pss* pss, const char* uri);
  int http_body(Pss* pss, const void* in, std::size_t len);
  int http_respond(lws* wsi, Pss* pss);
  int http_writeable(lws* wsi, Pss* pss);
  void http_done(Pss* pss);
  void log_connections_dropped();
};

namespace {

WsServer::Impl* impl_of(lws* wsi) {
  LwsContext* ctx = LwsContext::of(wsi);
  return ctx != nullptr ? static_cast<WsServer::Impl*>(ctx->owner(wsi)) : nullptr;
}

int dispatch_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* pss = static_cast<Pss*>(user);
  WsServer::Impl* impl = impl_of(wsi);
  switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
      if (impl == nullptr) return -1;
      return impl->confirm_upgrade(wsi, static_cast<const char*>(in));
    case LWS_CALLBACK_ESTABLISHED:
      if (impl == nullptr || pss == nullptr) return -1;
      return impl->established(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
      if (pss == nullptr || pss->conn == nullptr) return -1;
      return pss->conn->on_receive(static_cast<const std::uint8_t*>(in), len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (pss == nullptr || pss->conn == nullptr) return -1;
      return pss->conn->on_writeable();
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (pss != nullptr && pss->conn != nullptr)
        pss->conn->on_peer_close(static_cast<const std::uint8_t*>(in), len);
      return 0;
    case LWS_CALLBACK_CLOSED:
      if (pss != nullptr && pss->conn != nullptr) {
        ServerConnection* conn = pss->conn;
        pss->conn = nullptr;
        conn->on_closed();
        if (impl != nullptr) impl->closed(conn);
      }
      return 0;
    case LWS_CALLBACK_HTTP:
      if (impl == nullptr || pss == nullptr) return -1;
      return impl->http_request(wsi, pss, static_cast<const char*>(in));
    case LWS_CALLBACK_HTTP_BODY:
      if (impl == nullptr || pss == nullptr || pss->http == nullptr) return -1;
      return impl->http_body(pss, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (impl == nullptr || pss == nullptr || pss->http == nullptr) return -1;
      return impl->http_respond(wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
      if (impl == nullptr || pss == nullptr || pss->http == nullptr) return -1;
      return impl->http_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED_HTTP:
      if (impl != nullptr && pss != nullptr) impl->http_done(pss);
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      if (impl != nullptr) impl->handshake_done(wsi);
      if (impl != nullptr) impl->wsi_destroyed(wsi);
      if (pss != nullptr && pss->http != nullptr && impl != nullptr) impl->http_done(pss);
      if (LwsContext* ctx = LwsContext::of(wsi)) ctx->forget(wsi);
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

// -1 makes libwebsockets close the connection whose callback failed; nobody else is affected.
int server_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  return guard_callback(
      "websocket server", [&] { return dispatch_callback(wsi, reason, user, in, len); },
      [] { return -1; });
}

// One protocol serves both the HTTP side and the WebSocket: an upgrade without a subprotocol
// binds to protocols[0], so the tunnel protocol must be that entry for the gate to see it.
lws_protocols kProtocols[] = {
    {kSubprotocol, server_callback, sizeof(Pss), 65536, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

}  // namespace

// ---- ServerConnection ----

void ServerConnection::request_writable() {
  if (writable_requested_ || closed_) return;
  writable_requested_ = true;
  lws_callback_on_writable(wsi_);
}

void ServerConnection::send(ChunkPtr message) {
  if (closed_ || close_requested_) return;
  queued_ += message->footprint();
  queue_.push_back(std::move(message));
  if (queued_ >= high_water()) above_high_ = true;
  request_writable();
}

void ServerConnection::pause_receive(bool paused) {
  if (closed_) return;
  lws_rx_flow_control(wsi_, paused ? 0 : (1 | LWS_RXFLOW_REASON_FLAG_PROCESS_NOW));
}

void ServerConnection::close(std::uint16_t code, std::string_view reason) {
  if (closed_ || close_requested_) return;
  close_requested_ = true;
  close_code_ = code;
  close_reason_ = std::string(proto::clip_utf8(reason, 123));  // a close frame carries <= 125 bytes
  request_writable();
  // A peer that stops reading must not keep the connection forever.
  close_deadline_.attach(owner_->lws_ctx->loop());
  close_deadline_.start(kCloseGrace, [this] {
    if (!closed_) lws_set_timeout(wsi_, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
  });
}

int ServerConnection::fail(std::uint16_t code, const std::string& reason) {
  local_failure_ = reason;
  const std::string_view clipped = proto::clip_utf8(reason, 123);
  lws_close_reason(wsi_, static_cast<lws_close_status>(code),
                   reinterpret_cast<unsigned char*>(const_cast<char*>(clipped.data())),
                   clipped.size());
  return -1;
}

int ServerConnection::on_receive(const std::uint8_t* in, std::size_t len) {
  if (closed_) return -1;
  const bool complete = lws_is_final_fragment(wsi_) && lws_remaining_packet_payload(wsi_) == 0;
  if (!in_message_) {
    in_message_ = true;
    message_is_binary_ = lws_frame_is_binary(wsi_) != 0;
    if (!message_is_binary_ && !text_budget_.take(uv_now(owner_->lws_ctx->loop())))
      return fail(close_code::kPolicyViolation, "text message flood");
  }
  if (!message_is_binary_) {  // text messages are ignored (docs/PROTOCOL.md §1)
    if (complete) in_message_ = false;
    return 0;
  }
  std::span<const std::uint8_t> message;
  if (complete && !rx_) {
    message = {in, len};  // the whole message arrived at once: no copy
  } else {
    if (!rx_) rx_ = acquire_chunk(0);
    if (rx_->size() + len > proto::kMaxMessageSize)
      return fail(close_code::kMessageTooBig, "message too big");
    std::memcpy(rx_->base() + rx_->size(), in, len);
    rx_->set_range(0, rx_->size() + len);
    if (!complete) return 0;
    message = rx_->span();
  }
  in_message_ = false;
  if (events_ != nullptr) events_->on_channel_message(message);
  rx_.reset();
  return 0;
}

int ServerConnection::on_writeable() {
  writable_requested_ = false;
  if (closed_) return -1;
  for (int n = 0; !queue_.empty() && n < kMaxWritesPerWriteable; ++n) {
    if (n > 0 && lws_send_pipe_choked(wsi_)) break;
    ChunkPtr c = std::move(queue_.front());
    queue_.pop_front();
    queued_ -= c->footprint();
    // lws writes the frame header into the LWS_PRE bytes in front; a partial socket write is
    // buffered by lws, which then holds back WRITEABLE until it has flushed.
    int written = lws_write(wsi_, c->data(), c->size(), LWS_WRITE_BINARY);
    if (written < static_cast<int>(c->size())) {
      local_failure_ = "write failed";
      return -1;
    }
  }
  if (above_high_ && queued_ <= low_water()) {
    above_high_ = false;
    if (events_ != nullptr) events_->on_channel_drain();
  }
  if (!queue_.empty()) {
    request_writable();
  } else if (close_requested_) {
    local_failure_ = close_reason_.empty() ? "closed" : "closed: " + close_reason_;
    // The close frame is written here: a WRITEABLE callback that returns -1 makes
    // libwebsockets 4.1 drop the socket without sending the frame lws_close_reason prepared,
    // and the peer would never learn the code. lws writes close frames itself with
    // LWS_WRITE_CLOSE (4), which is no longer in the public enum.
    std::uint8_t frame[LWS_PRE + 128];
    frame[LWS_PRE] = static_cast<std::uint8_t>(close_code_ >> 8);
    frame[LWS_PRE + 1] = static_cast<std::uint8_t>(close_code_ & 0xff);
    std::memcpy(frame + LWS_PRE + 2, close_reason_.data(), close_reason_.size());
    lws_write(wsi_, frame + LWS_PRE, 2 + close_reason_.size(), kWriteClose);
    return -1;
  }
  return 0;
}

void ServerConnection::on_peer_close(const std::uint8_t* in, std::size_t len) {
  if (len >= 2) {
    peer_close_code_ = static_cast<std::uint16_t>(in[0] << 8 | in[1]);
    peer_close_reason_.assign(reinterpret_cast<const char*>(in) + 2, len - 2);
  } else {
    peer_close_code_ = 1005;  // no status code present
  }
}

void ServerConnection::fail_protocol(const ws::Violation& violation) {
  if (closed_) return;
  ZLT_LOG(warn, "ws-server").field("server", owner_->options.name).field("peer", peer_)
      << "protocol error: " << violation.reason << " (closing with " << violation.close_code
      << ")";
  if (protocol_failure_.empty()) protocol_failure_ = "protocol error: " + violation.reason;
  close(violation.close_code, violation.reason);
}

void ServerConnection::on_closed() {
  closed_ = true;
  close_deadline_.stop();
  queue_.clear();
  queued_ = 0;
  rx_.reset();
  if (events_ == nullptr) return;
  std::string why;
  if (!protocol_failure_.empty()) {
    why = protocol_failure_;
  } else if (peer_close_code_ != 0) {
    why = "closed by peer (" + std::to_string(peer_close_code_) +
          (peer_close_reason_.empty() ? "" : " " + peer_close_reason_) + ")";
  } else if (!local_failure_.empty()) {
    why = local_failure_;
  } else {
    why = "connection lost";
  }
  ChannelEvents* events = events_;
  events_ = nullptr;
  events->on_channel_closed(make_error(Errc::connection, why));
}

// ---- WsServer::Impl ----

WsServer::Impl::~Impl() {
  close_listeners();
  if (spare_fd >= 0) ::close(spare_fd);
  handshakes.clear();
  lws_ctx->forget_owner(this);
  for (auto& [raw, conn] : connections) {
    conn->detach();
    if (auto* pss = static_cast<Pss*>(lws_wsi_user(conn->wsi()))) pss->conn = nullptr;
  }
  connections.clear();
  guard_of.clear();
  guards.clear();
  if (vhost != nullptr) lws_vhost_destroy(vhost);
}

void WsServer::Impl::close_listeners() {
  for (auto& l : listeners) {
    l->resume.stop();
    l->poll.reset();
    if (l->fd >= 0) ::close(l->fd);
    l->fd = -1;
  }
  listeners.clear();
}

void WsServer::Impl::watch(Listener& l) {
  uv_poll_start(l.poll.get(), UV_READABLE,
                guarded_lambda<"control listener">([](uv_poll_t* h, int status, int) {
                  auto* listener = static_cast<Listener*>(h->data);
                  if (listener != nullptr && status >= 0) listener->owner->accept_ready(*listener);
                }));
}

void WsServer::Impl::accept_ready(Listener& l) {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) return;
      if (accept_failed(l, error)) continue;
      return;
    }
    if (out_of_fds) {
      out_of_fds = false;
      ZLT_LOG(info, "ws-server").field("server", options.name)
          << "accepting on " << l.address.to_string() << " again; " << refused_this_episode
          << " connection(s) were refused for lack of file descriptors";
    }
    (void)adopt(fd);
  }
}

bool WsServer::Impl::accept_failed(Listener& l, int error) {
  if (error == ECONNABORTED || error == EPROTO || error == EPERM) {
    // That connection is gone from the queue; the next one may be fine.
    if (auto left_out = accept_error_log.allow(now_ms()))
      ZLT_LOG(info, "ws-server").field("server", options.name)
          << "accept on " << l.address.to_string() << ": " << std::strerror(error)
          << LogThrottle::left_out_note(*left_out);
    return true;
  }
  if (error == EMFILE || error == ENFILE) {
    if (!out_of_fds) {
      // Once per episode: the listener may fail like this thousands of times a second.
      out_of_fds = true;
      refused_this_episode = 0;
      ZLT_LOG(warn, "ws-server").field("server", options.name)
          << "accept on " << l.address.to_string() << ": " << std::strerror(error)
          << " (descriptor limit " << raise_fd_limit().soft
          << "); refusing new connections until descriptors are free";
    }
    if (spare_fd >= 0) {
      ::close(spare_fd);
      spare_fd = -1;
      int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        refuse_socket(fd, "server out of file descriptors", options.tls_cert.has_value());
        ++stats.refused_no_fd;
        ++refused_this_episode;
      }
      spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd >= 0 && spare_fd >= 0) return true;
    }
  } else if (auto left_out = accept_error_log.allow(now_ms())) {
    ZLT_LOG(warn, "ws-server").field("server", options.name)
        << "accept on " << l.address.to_string() << ": " << std::strerror(error)
        << LogThrottle::left_out_note(*left_out);
  }
  // Nothing to make room with: stop watching for a moment rather than wake up for the same
  // connection again and again.
  uv_poll_stop(l.poll.get());
  Listener* listener = &l;
  l.resume.start(kAcceptPause, [this, listener] {
    if (spare_fd < 0) spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (listener->poll) watch(*listener);
  });
  return false;
}

Status WsServer::Impl::adopt(int fd) {
  const SockAddr peer_address = peer_of(fd);
  std::string peer = peer_address.to_string();
  const std::string source = source_of(peer_address);
  Admission::Decision decision = admission.decide(source);
  if (!decision.admit) {
    ++stats.refused;
    if (auto left_out = refusal_log.allow(now_ms()))
      ZLT_LOG(info, "ws-server").field("server", options.name).field("peer", peer)
          << "connection refused: " << decision.refusal << LogThrottle::left_out_note(*left_out);
    refuse_socket(fd, decision.refusal, options.tls_cert.has_value());
    return make_error(Errc::connection, "connection from " + peer + " refused: " + decision.refusal);
  }
  if (decision.evict != nullptr) evict(static_cast<lws*>(decision.evict));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  WsGuard::Options guard_options;
  guard_options.control_path = options.control_path;
  guard_options.tls = tls_context.get();
  guard_options.max_message_size = proto::kMaxMessageSize;
  auto made = WsGuard::create(lws_ctx->loop(), fd, std::move(guard_options), this);
  if (!made) return made.take_error();
  WsGuard* guard = made->get();
  guards[guard].guard = std::move(*made);
  lws* wsi = lws_adopt_socket_vhost(vhost, guard->lws_fd());  // closes that fd on failure
  if (wsi == nullptr) {
    guards.erase(guard);
    return make_error(Errc::connection, "cannot adopt the connection from " + peer);
  }
  guards[guard].wsi = wsi;
  guard_of[wsi] = guard;
  lws_ctx->set_owner(wsi, this);
  admission.add(wsi, source);
  auto timer = std::make_unique<Timer>(lws_ctx->loop());
  timer->start(options.handshake_timeout, [this, wsi, peer] {
    ZLT_LOG(info, "ws-server").field("server", options.name).field("peer", peer)
        << "upgrade not completed within " << options.handshake_timeout.count() << " ms; dropped";
    handshakes.erase(wsi);  // destroys this timer's owner after the callback copy returns
    // Synchronously: an asynchronous kill scheduled from outside a libwebsockets callback
    // is never carried out on the libuv loop, and the connection would stay open.
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_SYNC);
  });
  handshakes[wsi] = std::move(timer);
  return {};
}

void WsServer::Impl::evict(lws* wsi) {
  const std::string source = admission.source_of(wsi);
  admission.remove(wsi);
  ++stats.evicted;
  if (auto left_out = eviction_log.allow(now_ms()))
    ZLT_LOG(info, "ws-server").field("server", options.name).field("source", source)
        << "unauthenticated connection from " << source
        << " closed to make room for a newcomer (connection caps reached)"
        << LogThrottle::left_out_note(*left_out);
  auto* pss = static_cast<Pss*>(lws_wsi_user(wsi));
  if (pss != nullptr && pss->conn != nullptr) {
    pss->conn->close(close_code::kTryAgainLater, "server busy: too many unauthenticated connections");
    return;
  }
  handshakes.erase(wsi);
  // Synchronously, as for the handshake deadline (we are not inside a libwebsockets callback).
  lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_SYNC);
}

int WsServer::Impl::confirm_upgrade(lws* wsi, const char* upgrade) {
  std::string path = header(wsi, WSI_TOKEN_GET_URI);
  std::string proto = header(wsi, WSI_TOKEN_PROTOCOL);
  int status = 0;
  if (upgrade == nullptr || !has_token(upgrade, "websocket")) {
    status = HTTP_STATUS_BAD_REQUEST;
  } else if (path != options.control_path) {
    status = HTTP_STATUS_NOT_FOUND;
  } else if (!proto.empty() && !has_token(proto, kSubprotocol)) {
    status = HTTP_STATUS_BAD_REQUEST;  // a subprotocol we do not speak
  }
  if (status == 0) return 0;
  ZLT_LOG(debug, "ws-server").field("server", options.name).field("path", path)
      << "upgrade refused with HTTP " << status;
  if (lws_return_http_status(wsi, static_cast<unsigned int>(status), nullptr) != 0) return -1;
  return lws_http_transaction_completed(wsi) != 0 ? -1 : 1;
}

void WsServer::Impl::wsi_destroyed(lws* wsi) {
  admission.remove(wsi);
  auto it = guard_of.find(wsi);
  if (it == guard_of.end()) return;
  if (auto g = guards.find(it->second); g != guards.end()) g->second.wsi = nullptr;
  guard_of.erase(it);
}

std::string WsServer::Impl::peer_for(lws* wsi) const {
  auto it = guard_of.find(wsi);
  return it != guard_of.end() ? it->second->peer() : peer_of(lws_get_socket_fd(wsi)).to_string();
}

void WsServer::Impl::on_guard_violation(WsGuard& guard, const ws::Violation& violation) {
  auto it = guards.find(&guard);
  lws* wsi = it != guards.end() ? it->second.wsi : nullptr;
  auto* pss = wsi != nullptr ? static_cast<Pss*>(lws_wsi_user(wsi)) : nullptr;
  if (pss != nullptr && pss->conn != nullptr) {
    pss->conn->fail_protocol(violation);
    return;
  }
  // Frames before the upgrade has completed: there is no WebSocket to carry a close frame.
  ZLT_LOG(warn, "ws-server").field("server", options.name).field("peer", guard.peer())
      << "protocol error: " << violation.reason << " (before the upgrade completed; dropped)";
  if (wsi != nullptr) lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_SYNC);
}

void WsServer::Impl::on_guard_closed(WsGuard& guard) {
  auto it = guards.find(&guard);
  if (it == guards.end()) return;
  if (it->second.wsi != nullptr) guard_of.erase(it->second.wsi);
  guards.erase(it);  // destroys the guard, which is returning from its last call
}

int WsServer::Impl::established(lws* wsi, Pss* pss) {
  handshakes.erase(wsi);
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
  std::string peer = peer_for(wsi);
  auto guarded = guard_of.find(wsi);
  if (guarded == guard_of.end() || !guarded->second->carries_frames()) {
    // Only a connection that opened with the upgrade has its frames checked.
    ZLT_LOG(info, "ws-server").field("server", options.name).field("peer", peer)
        << "upgrade after another request on the same connection refused";
    return -1;
  }
  auto conn = std::make_unique<ServerConnection>(wsi, this, peer);
  ServerConnection* raw = conn.get();
  connections.emplace(raw, std::move(conn));
  pss->conn = raw;
  ZLT_LOG(debug, "ws-server").field("server", options.name).field("peer", peer)
      << "websocket open";
  handler->on_ws_open(*raw);
  return 0;
}

void WsServer::Impl::closed(ServerConnection* conn) { connections.erase(conn); }

int WsServer::Impl::http_request(lws* wsi, Pss* pss, const char* uri) {
  auto exchange = std::make_unique<HttpExchange>();
  HttpRequest& req = exchange->request;
  if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
    req.method = "POST";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0) {
    req.method = "PUT";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0) {
    req.method = "DELETE";
  } else if (lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0) {
    req.method = "PATCH";
  } else {
    req.method = "GET";
  }
  req.path = uri != nullptr ? uri : "/";
  req.query = header(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  req.authorization = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
  req.peer = peer_for(wsi);
  // The HTTP side of the listener is not a way around the handshake deadline.
  handshakes.erase(wsi);
  pss->http = exchange.release();  // owned through pss until http_done
  std::string length = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  if (!length.empty() && length != "0" && (req.method == "POST" || req.method == "PUT" ||
                                           req.method == "PATCH"))
    return 0;  // the body follows in LWS_CALLBACK_HTTP_BODY
  return http_respond(wsi, pss);
}

int WsServer::Impl::http_body(Pss* pss, const void* in, std::size_t len) {
  auto& body = pss->http->request.body;
  if (body.size() + len > options.max_http_body) {
    pss->http->response = HttpResponse{413, "text/plain", "request body too large\n"};
    pss->http->responded = true;
    return 0;
  }
  body.append(static_cast<const char*>(in), len);
  return 0;
}

int WsServer::Impl::http_respond(lws* wsi, Pss* pss) {
  HttpExchange& ex = *pss->http;
  if (!ex.responded) {
    if (ex.request.method == "GET" && ex.request.path == "/healthz") {
      ex.response = HttpResponse{200, "text/plain", "ok"};
    } else if (ex.request.path == options.control_path) {
      ex.response = HttpResponse{426, "text/plain", "upgrade required\n"};
    } else {
      ex.response = handler->on_http(ex.request);
    }
    ex.responded = true;
  }
  lws_callback_on_writable(wsi);
  return 0;
}

int WsServer::Impl::http_writeable(lws* wsi, Pss* pss) {
  HttpExchange& ex = *pss->http;
  const HttpResponse& r = ex.response;
  std::vector<std::uint8_t> buf(LWS_PRE + 1024 + r.body.size());
  std::uint8_t* start = buf.data() + LWS_PRE;
  std::uint8_t* p = start;
  std::uint8_t* end = buf.data() + buf.size();
  if (lws_add_http_common_headers(wsi, static_cast<unsigned int>(r.status),
                                  r.content_type.c_str(), r.body.size(), &p, end) != 0 ||
      lws_finalize_write_http_header(wsi, start, &p, end) != 0)
    return -1;
  if (!r.body.empty()) {
    std::vector<std::uint8_t> body(LWS_PRE + r.body.size());
    std::memcpy(body.data() + LWS_PRE, r.body.data(), r.body.size());
    if (lws_write(wsi, body.data() + LWS_PRE, r.body.size(), LWS_WRITE_HTTP_FINAL) !=
        static_cast<int>(r.body.size()))
      return -1;
  }
  http_done(pss);
  return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
}

void WsServer::Impl::http_done(Pss* pss) {
  std::unique_ptr<HttpExchange> owned(pss->http);
  pss->http = nullptr;
}

// ---- WsServer ----

namespace {

// The one loader of the listener's certificate and key, at creation and at every reload.
Result<SslCtxPtr> load_server_tls(const std::string& cert, const std::string& key) {
  for (const auto* file : {&cert, &key})
    if (access(file->c_str(), R_OK) != 0)
      return make_error(Errc::config, "cannot read " + *file + ": " + std::strerror(errno));
  auto tls = TlsClient::server_context(cert, key);
  if (!tls)
    return make_error(Errc::config, "cannot create the TLS listener (check tls_cert/tls_key: " +
                                        cert + ", " + key + "): " + tls.error().message);
  return tls;
}

}  // namespace

Result<std::unique_ptr<WsServer>> WsServer::create(Runtime& runtime, Options options,
                                                   Handler* handler) {
  auto ctx = LwsContext::get(runtime);
  if (!ctx) return ctx.take_error();
  if (options.tls_cert.has_value() != options.tls_key.has_value())
    return make_error(Errc::config, "tls_cert and tls_key must be set together");

  std::unique_ptr<WsServer> server(new WsServer());
  server->options_ = options;
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.self = server.get();
  impl.handler = handler;
  impl.options = options;
  impl.lws_ctx = *ctx;
  impl.admission = Admission(options.limits);
  impl.spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

  // Vhost names must stay unique for the context's lifetime: a destroyed vhost lingers until
  // its connections are gone. Each loop thread has its own context, and all of them count here.
  static std::atomic<std::uint64_t> vhost_serial{0};
  lws_context_creation_info vi;
  std::memset(&vi, 0, sizeof vi);
  vi.vhost_name = (*ctx)->keep(impl.options.name + "-" + std::to_string(++vhost_serial));
  vi.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  vi.protocols = kProtocols;
  vi.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  vi.alpn = "http/1.1";
  vi.server_string = "zlayer-tunnel";
  if (options.tls_cert) {
    // TLS is the guards' (ws_guard.hpp): libwebsockets serves plaintext on their socketpairs.
    auto tls = load_server_tls(*options.tls_cert, *options.tls_key);
    if (!tls) return tls.take_error();
    impl.tls_context = std::move(*tls);
  }
  impl.vhost = lws_create_vhost((*ctx)->context(), &vi);
  if (impl.vhost == nullptr) return make_error(Errc::config, "cannot create the listener");
  return server;
}

WsServer::~WsServer() = default;

Result<SockAddr> WsServer::listen(std::string_view host, std::uint16_t port) {
  auto addr = resolve_listen_address(host, port);
  if (!addr) return addr.take_error();
  auto fd = listen_tcp(*addr);
  if (!fd) return fd.take_error();
  auto l = std::make_unique<Impl::Listener>();
  l->fd = *fd;
  l->address = local_of(*fd);
  int rc = l->poll.init(uv_poll_init, impl_->lws_ctx->loop(), *fd);
  if (rc != 0) {
    ::close(*fd);
    return make_error(Errc::connection, "poll " + l->address.to_string() + ": " +
                                            uv_error_text(rc));
  }
  l->owner = impl_.get();
  l->poll.set_data(l.get());
  l->resume.attach(impl_->lws_ctx->loop());
  impl_->watch(*l);
  SockAddr bound = l->address;
  impl_->listeners.push_back(std::move(l));
  return bound;
}

Status WsServer::adopt(int fd) { return impl_->adopt(fd); }

void WsServer::close_all() {
  impl_->close_listeners();
  std::vector<ServerConnection*> open;
  for (auto& [raw, conn] : impl_->connections) open.push_back(raw);
  for (auto* c : open) c->close(close_code::kGoingAway, "server shutting down");
}

Status WsServer::reload_tls(const std::string& cert, const std::string& key) {
  if (!tls()) return make_error(Errc::config, "this listener does not serve TLS");
  auto loaded = load_server_tls(cert, key);
  if (!loaded) return loaded.take_error();
  // Each live connection's SSL holds its own reference to the context it was accepted with,
  // so only handshakes from here on see the new certificate.
  impl_->tls_context = std::move(*loaded);
  options_.tls_cert = impl_->options.tls_cert = cert;
  options_.tls_key = impl_->options.tls_key = key;
  return {};
}

void WsServer::set_limits(Admission::Limits limits, std::chrono::milliseconds handshake_timeout) {
  impl_->admission.set_limits(limits);
  options_.limits = impl_->options.limits = limits;
  options_.handshake_timeout = impl_->options.handshake_timeout = handshake_timeout;
}

void WsServer::stop_accepting() { impl_->close_listeners(); }

std::size_t WsServer::connection_count() const { return impl_->connections.size(); }

void WsServer::authenticated(Channel& channel) {
  auto* conn = dynamic_cast<ServerConnection*>(&channel);
  if (conn != nullptr && impl_->connections.contains(conn))
    impl_->admission.authenticated(conn->wsi());
}

WsServer::Stats WsServer::stats() const {
  Stats s = impl_->stats;
  s.open = impl_->admission.open();
  s.pending = impl_->admission.pending();
  return s;
}

}  // namespace zlt
