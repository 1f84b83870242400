#include "core/transport/ws_client.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/common/bytes.hpp"
#include "core/protocol/utf8.hpp"
#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/http_proxy.hpp"
#include "core/transport/ws_handshake.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "ws-client";
// Frames bigger than this never wait in the read buffer (they are refused first), so after
// compaction there is always room for a whole frame.
constexpr std::size_t kMinReadSpace = proto::kMaxMessageSize + ws::kMaxHeaderSize;
static_assert(WsClient::kReadBufferSize >= 2 * kMinReadSpace);
// Bufs per uv_write: enough to hand the kernel a few MiB in one writev.
constexpr std::size_t kMaxWriteBatch = 128;
// Bufs per uv_try_write: what one sent message becomes after TLS, with room to spare.
constexpr std::size_t kTryWriteBufs = 8;

std::string format_duration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::string format_sockaddr(const sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = "";
  if (sa->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(sa);
    uv_ip6_name(a, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(sa);
  uv_ip4_name(a, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a->sin_port));
}

std::string close_text(std::uint16_t code, std::string_view reason) {
  std::string out = std::to_string(code);
  if (!reason.empty()) out += ": " + std::string(reason);
  return out;
}

}  // namespace

struct WsClient::ResolveReq {
  uv_getaddrinfo_t req{};
  WsClient* owner = nullptr;
};

struct WsClient::ConnectReq {
  uv_connect_t req{};
  WsClient* owner = nullptr;
};

// One uv_write: the chunks stay alive until libuv is done with their bytes.
struct WsClient::WriteReq {
  uv_write_t req{};
  WsClient* owner = nullptr;
  std::vector<ChunkPtr> chunks;
  std::vector<uv_buf_t> bufs;
};

// ---- construction, configuration ----

WsClient::WsClient(uv_loop_t* loop, WsClientOptions options, WsClientEvents* events)
    : loop_(loop),
      options_(std::move(options)),
      events_(events),
      ws_events_(events),
      max_message_(std::min(options_.max_message_size, proto::kMaxMessageSize)),
      connect_timer_(loop),
      close_timer_(loop),
      defer_timer_(loop),
      codec_(ws::Sender::server, max_message_) {
  in_ = std::make_unique<std::uint8_t[]>(kReadBufferSize);
  auto url = parse_url(options_.url);
  if (!url) {
    config_error_ = url.take_error();
    return;
  }
  url_ = std::move(*url);
  if (url_.scheme != "ws" && url_.scheme != "wss") {
    config_error_ = make_error(
        Errc::config, "invalid URL '" + url_.to_string() + "': expected a ws:// or wss:// URL");
    return;
  }
  if (options_.proxy) {
    auto proxy = parse_proxy_url(*options_.proxy);
    if (!proxy) {
      config_error_ = proxy.take_error();
      return;
    }
    proxy_url_ = std::move(*proxy);
  }
  if (auto st = check_extra_headers(options_.headers); !st) config_error_ = st.take_error();
}

WsClient::~WsClient() {
  for (Guard* g = guard_; g != nullptr; g = g->prev) g->dead = true;
  teardown();
}

std::string WsClient::url() const {
  return config_error_ ? options_.url : url_.to_string();
}

void WsClient::set_events(ChannelEvents* events) {
  events_ = events;
  ws_events_ = dynamic_cast<WsClientEvents*>(events);
}

std::string WsClient::peer_address() const {
  return peer_;
}

Error WsClient::with_url(Errc code, std::string message) const {
  return make_error(code, std::move(message) + " (" + url() + ")");
}

// ---- events out ----

bool WsClient::emit_open() {
  if (ws_events_ == nullptr) return true;
  Guard g(this);
  ws_events_->on_channel_open();
  return !g.dead;
}

bool WsClient::emit_message(std::span<const std::uint8_t> message) {
  ++stats_.messages_in;
  stats_.bytes_in += message.size();
  if (events_ == nullptr) return true;
  Guard g(this);
  events_->on_channel_message(message);
  return !g.dead;
}

bool WsClient::emit_drain() {
  if (events_ == nullptr) return true;
  Guard g(this);
  events_->on_channel_drain();
  return !g.dead;
}

// The terminal step: everything is released first, then the owner hears about it (and may
// destroy the object from inside the callback).
void WsClient::finish(Error why) {
  if (state_ == State::closed) return;
  const bool was_open = state_ == State::open || state_ == State::closing;
  state_ = State::closed;
  teardown();
  if (was_open) {
    ZLT_LOG(info, kLog).field("url", url()) << "closed: " << why.message;
  } else {
    ZLT_LOG(debug, kLog).field("url", url()) << "connection failed: " << why.message;
  }
  if (events_ != nullptr) events_->on_channel_closed(why);
}

void WsClient::teardown() {
  if (resolving_ != nullptr) {
    resolving_->owner = nullptr;
    uv_cancel(reinterpret_cast<uv_req_t*>(&resolving_->req));
    resolving_ = nullptr;
  }
  if (connecting_ != nullptr) {
    connecting_->owner = nullptr;  // closing the socket cancels it
    connecting_ = nullptr;
  }
  if (inflight_ != nullptr) {
    inflight_->owner = nullptr;
    inflight_ = nullptr;
  }
  tcp_.reset();
  reading_ = false;
  connect_timer_.stop();
  close_timer_.stop();
  defer_timer_.stop();
  deferred_ = 0;
  tls_.reset();
  pending_.clear();
  wire_.clear();
  pending_bytes_ = wire_bytes_ = inflight_bytes_ = 0;
  message_.reset();
}

void WsClient::defer(unsigned what) {
  deferred_ |= what;
  if (!defer_timer_.active()) defer_timer_.start(Timer::Ms{0}, [this] { on_deferred(); });
}

// For failures found inside a call from the owner (send, close), which must not call back
// into it: nothing is processed from here on, and the end is reported from the loop.
void WsClient::fail_later(Error why) {
  if (state_ == State::closed || deferred_error_) return;
  deferred_error_ = std::move(why);
  update_reading();
  defer(kFail);
}

void WsClient::on_deferred() {
  unsigned what = deferred_;
  deferred_ = 0;
  if (what & kFail) {
    Error e = std::move(*deferred_error_);
    deferred_error_.reset();
    finish(std::move(e));
    return;
  }
  if ((what & kKickoff) && !begin_resolve()) return;
  if ((what & kResume) && !paused_) {
    if (!process_inbound()) return;
    if (tls_ && state_ != State::closed && !pump_tls()) return;
    update_reading();
  }
}

// ---- connect ----

void WsClient::start() {
  if (state_ != State::idle) return;
  if (config_error_) {
    state_ = State::resolving;
    fail_later(*config_error_);
    return;
  }
  state_ = State::resolving;
  connect_timer_.start(options_.connect_timeout, [this] {
    finish(with_url(Errc::timeout,
                    "connect timeout after " + format_duration(options_.connect_timeout)));
  });
  defer(kKickoff);
}

bool WsClient::begin_resolve() {
  const Url& dest = proxy_url_ ? *proxy_url_ : url_;
  ZLT_LOG(debug, kLog).field("url", url())
      << "connecting to " << dest.host_port() << (proxy_url_ ? " (proxy)" : "");
  sockaddr_storage ss{};
  if (dest.host_is_ipv6) {
    if (uv_ip6_addr(dest.host.c_str(), dest.port, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
      addresses_.push_back(ss);
      return connect_next();
    }
  } else if (uv_ip4_addr(dest.host.c_str(), dest.port, reinterpret_cast<sockaddr_in*>(&ss)) == 0) {
    addresses_.push_back(ss);
    return connect_next();
  }

  auto req = std::make_unique<ResolveReq>();
  req->owner = this;
  req->req.data = req.get();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  const std::string port = std::to_string(dest.port);
  int rc = uv_getaddrinfo(loop_, &req->req,
                          guarded<&WsClient::on_resolved, "websocket client resolve">,
                          dest.host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    finish(make_error(Errc::connection, "resolve " + dest.host + ": " + uv_error_text(rc)));
    return false;
  }
  resolving_ = req.release();
  return true;
}

void WsClient::on_resolved(uv_getaddrinfo_t* uvreq, int status, addrinfo* res) {
  std::unique_ptr<ResolveReq> req(static_cast<ResolveReq*>(uvreq->data));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(res, uv_freeaddrinfo);
  WsClient* self = req->owner;
  if (self == nullptr) return;
  self->resolving_ = nullptr;
  const Url& dest = self->proxy_url_ ? *self->proxy_url_ : self->url_;
  if (status != 0) {
    self->finish(
        make_error(Errc::connection, "resolve " + dest.host + ": " + uv_error_text(status)));
    return;
  }
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    sockaddr_storage ss{};
    std::memcpy(&ss, ai->ai_addr, std::min<std::size_t>(ai->ai_addrlen, sizeof ss));
    bool dup = std::any_of(self->addresses_.begin(), self->addresses_.end(),
                           [&](const auto& a) { return std::memcmp(&a, &ss, sizeof ss) == 0; });
    if (!dup) self->addresses_.push_back(ss);
  }
  if (self->addresses_.empty()) {
    self->finish(
        make_error(Errc::connection, "resolve " + dest.host + ": no IPv4 or IPv6 address"));
    return;
  }
  self->connect_next();
}

bool WsClient::connect_next() {
  state_ = State::connecting;
  const Url& dest = proxy_url_ ? *proxy_url_ : url_;
  while (next_address_ < addresses_.size()) {
    const auto* sa = reinterpret_cast<const sockaddr*>(&addresses_[next_address_++]);
    int rc = tcp_.init(uv_tcp_init, loop_);
    if (rc == 0) {
      tcp_.set_data(this);
      auto req = std::make_unique<ConnectReq>();
      req->owner = this;
      req->req.data = req.get();
      rc = uv_tcp_connect(&req->req, tcp_.get(), sa,
                          guarded<&WsClient::on_connected, "websocket client connect">);
      if (rc == 0) {
        connecting_ = req.release();
        return true;
      }
      tcp_.reset();
    }
    if (!connect_errors_.empty()) connect_errors_ += "; ";
    connect_errors_ += format_sockaddr(sa) + ": " + uv_error_text(rc);
  }
  // One address: "connect 127.0.0.1:1: connection refused (ECONNREFUSED)". Several: the
  // name, then each address with its own error.
  std::string what = proxy_url_ ? "connect to proxy " : "connect ";
  if (addresses_.size() == 1)
    what += connect_errors_;
  else
    what += dest.host_port() + ": " + connect_errors_;
  finish(make_error(Errc::connection, std::move(what)));
  return false;
}

void WsClient::on_connected(uv_connect_t* uvreq, int status) {
  std::unique_ptr<ConnectReq> req(static_cast<ConnectReq*>(uvreq->data));
  WsClient* self = req->owner;
  if (self == nullptr) return;
  self->connecting_ = nullptr;
  if (status != 0) {
    const auto* sa = reinterpret_cast<const sockaddr*>(&self->addresses_[self->next_address_ - 1]);
    if (!self->connect_errors_.empty()) self->connect_errors_ += "; ";
    self->connect_errors_ += format_sockaddr(sa) + ": " + uv_error_text(status);
    self->tcp_.reset();
    self->connect_next();
    return;
  }
  self->on_tcp_connected();
}

bool WsClient::on_tcp_connected() {
  sockaddr_storage ss{};
  int len = sizeof ss;
  if (uv_tcp_getpeername(tcp_.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    peer_ = format_sockaddr(reinterpret_cast<const sockaddr*>(&ss));
  uv_tcp_nodelay(tcp_.get(), 1);
  if (proxy_url_) {
    state_ = State::proxy;
    update_reading();
    write_raw(build_connect_request(url_, *proxy_url_));
    return true;
  }
  return begin_session();
}

// After TCP (and the proxy tunnel): TLS if wss, then the upgrade.
bool WsClient::begin_session() {
  if (url_.tls()) {
    TlsClientOptions o;
    o.ca_file = options_.ca_file;
    o.insecure = options_.insecure;
    o.host = url_.host;
    o.host_is_ip = url_.host_is_ip();
    auto tls = TlsClient::create(o);
    if (!tls) {
      finish(tls.take_error());
      return false;
    }
    tls_ = std::move(*tls);
    cipher_in_ = std::make_unique<std::uint8_t[]>(kReadBufferSize);
    state_ = State::tls;
    update_reading();
    // Bytes that arrived behind the proxy's answer already belong to TLS.
    if (in_end_ > in_begin_) tls_->feed({in_.get() + in_begin_, in_end_ - in_begin_});
    in_begin_ = in_end_ = 0;
    return drive_tls();
  }
  update_reading();
  return send_upgrade_request();
}

bool WsClient::send_upgrade_request() {
  state_ = State::upgrade;
  handshake_key_ = crypto::websocket_key();
  std::string req =
      build_upgrade_request(url_, handshake_key_, options_.subprotocols, options_.headers);
  if (tls_) {
    auto st = tls_->write({reinterpret_cast<const std::uint8_t*>(req.data()), req.size()});
    if (!st) {
      finish(st.take_error());
      return false;
    }
    flush_tls_output();
  } else {
    write_raw(req);
  }
  return true;
}

// ---- input ----

std::span<std::uint8_t> WsClient::read_space() {
  if (in_begin_ == in_end_) {
    in_begin_ = in_end_ = 0;
  } else if (kReadBufferSize - in_end_ < kMinReadSpace && in_begin_ > 0) {
    // What is left is at most one partial frame: moving it is cheap.
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  return {in_.get() + in_end_, kReadBufferSize - in_end_};
}

void WsClient::update_reading() {
  bool want = tcp_ && active() && !(paused_ && state_ == State::open);
  if (want == reading_) return;
  if (want) {
    if (uv_read_start(tcp_.stream(), guarded<&WsClient::on_alloc, "websocket client read">,
                      guarded<&WsClient::on_read, "websocket client read">) == 0) reading_ = true;
  } else {
    uv_read_stop(tcp_.stream());
    reading_ = false;
  }
}

void WsClient::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* self = static_cast<WsClient*>(handle->data);
  if (self == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  if (self->tls_) {
    *buf = uv_buf_init(reinterpret_cast<char*>(self->cipher_in_.get()),
                       static_cast<unsigned>(kReadBufferSize));
    return;
  }
  auto space = self->read_space();
  *buf = uv_buf_init(reinterpret_cast<char*>(space.data()), static_cast<unsigned>(space.size()));
}

void WsClient::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<WsClient*>(stream->data);
  if (self == nullptr || nread == 0 || self->deferred_error_) return;
  if (nread < 0) {
    self->read_error(nread);
    return;
  }
  auto n = static_cast<std::size_t>(nread);
  if (self->tls_) {
    self->tls_->feed({reinterpret_cast<const std::uint8_t*>(buf->base), n});
    self->drive_tls();
    return;
  }
  self->in_end_ += n;
  self->process_inbound();
}

bool WsClient::read_error(ssize_t nread) {
  const int code = static_cast<int>(nread);
  if (pending_finish_) {
    Error e = std::move(*pending_finish_);
    finish(std::move(e));
    return false;
  }
  const bool eof = code == UV_EOF;
  switch (state_) {
    case State::proxy:
      finish(with_url(Errc::connection, eof ? "proxy closed the connection before answering CONNECT"
                                            : "proxy: read: " + uv_error_text(code)));
      break;
    case State::tls:
      finish(with_url(Errc::connection, eof ? "TLS: connection closed during the handshake"
                                            : "TLS: read: " + uv_error_text(code)));
      break;
    case State::upgrade:
      finish(with_url(Errc::connection,
                      eof ? "handshake: connection closed before the upgrade response"
                          : "handshake: read: " + uv_error_text(code)));
      break;
    case State::closing:
      finish(
          make_error(Errc::connection, eof ? "connection closed by peer during the close handshake"
                                           : "read: " + uv_error_text(code)));
      break;
    default:
      finish(make_error(Errc::connection, eof ? "connection closed by peer without a close frame"
                                              : "read: " + uv_error_text(code)));
      break;
  }
  return false;
}

bool WsClient::drive_tls() {
  if (state_ == State::tls) {
    auto done = tls_->handshake();
    flush_tls_output();
    if (!done) {
      Error e = done.take_error();
      finish(with_url(e.code, std::move(e.message)));
      return false;
    }
    if (!*done) return true;
    ZLT_LOG(debug, kLog).field("url", url()) << "TLS established: " << tls_->describe();
    if (!send_upgrade_request()) return false;
  }
  return pump_tls();
}

// Decrypts into the read buffer and processes as it goes; stops while paused (the rest waits
// inside OpenSSL until resumed).
bool WsClient::pump_tls() {
  while (active() && !(paused_ && state_ == State::open)) {
    auto space = read_space();
    if (space.empty()) break;
    auto n = tls_->read(space);
    if (!n) {
      finish(state_ == State::upgrade ? with_url(n.error().code, n.error().message)
                                      : n.take_error());
      return false;
    }
    if (*n == 0) break;
    in_end_ += *n;
    if (!process_inbound()) return false;
  }
  if (tls_) flush_tls_output();
  return state_ != State::closed;
}

bool WsClient::process_inbound() {
  switch (state_) {
    case State::proxy:
      return handle_proxy_response();
    case State::upgrade:
      return handle_upgrade_response();
    case State::open:
    case State::closing:
      return process_frames();
    default:
      return state_ != State::closed;
  }
}

bool WsClient::handle_proxy_response() {
  std::string_view bytes(reinterpret_cast<const char*>(in_.get() + in_begin_), in_end_ - in_begin_);
  std::size_t end = find_head_end(bytes.substr(0, std::min(bytes.size(), kMaxResponseHead)));
  if (end == 0) {
    if (bytes.size() >= kMaxResponseHead) {
      finish(with_url(Errc::connection, "proxy: response header over 16 KiB"));
      return false;
    }
    return true;
  }
  auto head = parse_response_head(bytes.substr(0, end));
  if (!head) {
    finish(with_url(Errc::connection, "proxy: " + head.error().message));
    return false;
  }
  if (auto st = check_connect_response(*head, url_, *proxy_url_); !st) {
    finish(st.take_error());
    return false;
  }
  in_begin_ += end;
  ZLT_LOG(debug, kLog).field("url", url()) << "proxy tunnel open via " << proxy_url_->host_port();
  if (!begin_session()) return false;
  return tls_ ? true : process_inbound();
}

bool WsClient::handle_upgrade_response() {
  std::string_view bytes(reinterpret_cast<const char*>(in_.get() + in_begin_), in_end_ - in_begin_);
  std::size_t end = find_head_end(bytes.substr(0, std::min(bytes.size(), kMaxResponseHead)));
  if (end == 0) {
    if (bytes.size() >= kMaxResponseHead) {
      finish(with_url(Errc::connection, "handshake: response header over 16 KiB"));
      return false;
    }
    return true;
  }
  auto head = parse_response_head(bytes.substr(0, end));
  if (!head) {
    finish(with_url(Errc::connection, "handshake: " + head.error().message));
    return false;
  }
  if (auto st = check_upgrade_response(*head, handshake_key_, options_.subprotocols); !st) {
    Error e = st.take_error();
    finish(with_url(e.code, std::move(e.message)));
    return false;
  }
  in_begin_ += end;  // what follows the head is already frames
  if (!on_upgraded()) return false;
  return process_frames();
}

bool WsClient::on_upgraded() {
  connect_timer_.stop();
  state_ = State::open;
  ZLT_LOG(info, kLog).field("url", url()).field("peer", peer_)
      << "connected" << (tls_ ? " (" + tls_->describe() + ")" : std::string());
  // Messages queued before the upgrade go first, ahead of anything sent from on_channel_open.
  pending_bytes_ = 0;
  while (!pending_.empty()) {
    ChunkPtr c = std::move(pending_.front());
    pending_.pop_front();
    write_frame(std::move(c));
  }
  if (!emit_open()) return false;
  update_reading();
  // Everything queued before the upgrade may already be in the kernel, with no write
  // callback left to report the drain.
  return maybe_drain();
}

// ---- frames in ----

bool WsClient::process_frames() {
  while (active() && (state_ == State::open || state_ == State::closing)) {
    if (paused_ && state_ == State::open) break;
    // Every acceptable frame fits the buffer, so the codec waits for whole frames and the
    // payload is read in place.
    ws::Codec::Next f = codec_.next({in_.get() + in_begin_, in_end_ - in_begin_});
    if (f.status == ws::Codec::Next::need_more) break;
    if (f.status == ws::Codec::Next::violation) return fail_protocol(*codec_.violation());
    const ws::FrameHeader& h = f.header;
    const std::uint8_t* payload = f.payload.data();
    const std::size_t len = f.payload.size();
    in_begin_ += f.consumed;  // consumed before any callback, which may pause or close

    if (ws::is_control(h.opcode)) {
      if (!handle_control(h.opcode, payload, len)) return false;
      continue;
    }
    const bool deliver = state_ == State::open;
    if (h.opcode == 0) {
      message_size_ += len;
      if (!message_is_text_ && message_)
        std::memcpy(message_->base() + message_size_ - len, payload, len);
      if (!h.fin) continue;
      if (message_is_text_ || !message_) continue;
      // Owned here while the owner looks at it, in case it destroys the client meanwhile.
      ChunkPtr whole = std::move(message_);
      if (deliver && !emit_message({whole->base(), message_size_})) return false;
      continue;
    }
    message_is_text_ = h.opcode == 1;
    if (h.fin) {
      if (message_is_text_) {
        ZLT_LOG(debug, kLog) << "ignoring a text message of " << len << " bytes";
        continue;
      }
      if (deliver && !emit_message({payload, len})) return false;
      continue;
    }
    message_size_ = len;
    if (!message_is_text_) {
      message_ = acquire_chunk(0);
      if (len > 0) std::memcpy(message_->base(), payload, len);
    }
  }
  return state_ != State::closed;
}

bool WsClient::handle_control(std::uint8_t opcode, const std::uint8_t* payload, std::size_t len) {
  switch (static_cast<ws::Opcode>(opcode)) {
    case ws::Opcode::ping:
      if (state_ == State::open) send_control(ws::Opcode::pong, {payload, len});
      return true;
    case ws::Opcode::pong:
      return true;
    default:
      break;
  }
  // Close (its payload passed the codec's checks).
  std::uint16_t code = 1005;  // "no status received"
  std::string_view reason;
  if (len >= 2) {
    code = load_be16(payload);
    reason = {reinterpret_cast<const char*>(payload + 2), len - 2};
  }
  if (state_ == State::closing) {
    return finish_after_flush(
        make_error(Errc::shutdown, "closed (" + close_text(code, reason) + ")"));
  }
  // Echo the peer's code (an empty close answers an empty close).
  if (len >= 2) {
    send_close_frame(code, "");
  } else {
    send_control(ws::Opcode::close, {});
  }
  state_ = State::closing;
  return finish_after_flush(
      make_error(Errc::connection, "closed by peer (" + close_text(code, reason) + ")"));
}

bool WsClient::fail_protocol(ws::Violation violation) {
  ZLT_LOG(warn, kLog).field("url", url()).field("peer", peer_)
      << "protocol error: " << violation.reason << " (closing with " << violation.close_code
      << ")";
  if (state_ == State::open) send_close_frame(violation.close_code, violation.reason);
  state_ = State::closing;
  // A message over the limit is the peer's choice of size, not broken framing: it stays a
  // limit error for the owner.
  if (violation.close_code == close_code::kMessageTooBig)
    return finish_after_flush(make_error(Errc::limit, std::move(violation.reason)));
  return finish_after_flush(make_error(Errc::protocol, "protocol error: " + violation.reason));
}

// ---- frames out ----

void WsClient::frame_in_place(Chunk& chunk, ws::Opcode opcode) {
  ws::MaskKey key;
  const std::uint32_t k = masks_.next();
  std::memcpy(key.data(), &k, 4);
  ws::frame_in_place(chunk, opcode, &key);
}

void WsClient::send(ChunkPtr message) {
  if (!message || state_ == State::closing || !active()) return;
  if (message->size() + ws::header_size(message->size(), true) > Chunk::kCapacity) {
    ZLT_LOG(error, kLog) << "dropping an outgoing message of " << message->size()
                         << " bytes: larger than a chunk";
    return;
  }
  ++stats_.messages_out;
  stats_.bytes_out += message->size();
  frame_in_place(*message, ws::Opcode::binary);
  if (state_ != State::open) {
    pending_bytes_ += message->footprint();
    pending_.push_back(std::move(message));
  } else {
    write_frame(std::move(message));
  }
  if (queued_bytes() >= high_water()) above_high_water_ = true;
}

void WsClient::send_control(ws::Opcode opcode, std::span<const std::uint8_t> payload) {
  ChunkPtr c = chunk_copy(payload);
  frame_in_place(*c, opcode);
  write_frame(std::move(c));
}

void WsClient::send_close_frame(std::uint16_t code, std::string_view reason) {
  std::uint8_t payload[ws::kMaxControlPayload];
  std::size_t len = 0;
  if (ws::is_valid_close_code(code)) {
    reason = proto::clip_utf8(reason, ws::kMaxControlPayload - 2);
    store_be16(payload, code);
    std::memcpy(payload + 2, reason.data(), reason.size());
    len = 2 + reason.size();
  }
  send_control(ws::Opcode::close, {payload, len});
}

void WsClient::close(std::uint16_t code, std::string_view reason) {
  if (!active()) return;
  switch (state_) {
    case State::open:
      break;
    case State::closing:
      return;
    default:
      // Not open yet: nothing to say goodbye to. Stop at once so no open event can follow.
      if (deferred_error_) return;
      teardown();
      if (state_ == State::idle) state_ = State::resolving;
      fail_later(make_error(Errc::shutdown, "closed before the connection was open"));
      return;
  }
  ZLT_LOG(debug, kLog).field("url", url()) << "closing (" << close_text(code, reason) << ")";
  send_close_frame(code, reason);
  state_ = State::closing;
  const std::uint16_t sent = code;
  close_timer_.start(kCloseTimeout, [this, sent] {
    finish(make_error(Errc::shutdown, "closed (" + std::to_string(sent) +
                                          "); no close reply within " +
                                          format_duration(kCloseTimeout)));
  });
  // The peer's answer must be read even if delivery was paused.
  update_reading();
}

// Waits for everything queued (the close frame last) to reach the kernel, then ends.
bool WsClient::finish_after_flush(Error why) {
  if (tls_) {
    tls_->shutdown();
    flush_tls_output();
  }
  if (inflight_ == nullptr && wire_.empty()) {
    finish(std::move(why));
    return false;
  }
  pending_finish_ = std::move(why);
  update_reading();
  close_timer_.start(kCloseTimeout, [this] {
    Error e = std::move(*pending_finish_);
    finish(std::move(e));
  });
  return false;
}

void WsClient::pause_receive(bool paused) {
  if (paused == paused_) return;
  paused_ = paused;
  if (paused) {
    deferred_ &= ~kResume;
    update_reading();
  } else if (state_ == State::open) {
    defer(kResume);  // never re-enters the owner from inside this call
  }
}

// ---- output ----

std::size_t WsClient::queued_bytes() const {
  return pending_bytes_ + wire_bytes_ + inflight_bytes_;
}

void WsClient::write_frame(ChunkPtr frame) {
  if (!tls_) {
    wire_push(std::move(frame));
    return;
  }
  auto st = tls_->write(frame->span());
  frame.reset();
  if (!st) {
    fail_later(st.take_error());
    return;
  }
  flush_tls_output();
}

void WsClient::write_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ChunkPtr c = acquire_chunk(0);
    std::size_t n = std::min(bytes.size(), Chunk::kCapacity);
    std::memcpy(c->base(), bytes.data(), n);
    c->set_range(0, n);
    wire_push(std::move(c));
    bytes.remove_prefix(n);
  }
}

void WsClient::flush_tls_output() {
  // Top up the last queued chunk first: the records of one message should not end up as a
  // full chunk plus a sliver in separate writes.
  if (tls_ && !wire_.empty() && tls_->pending_output() > 0) {
    Chunk& last = *wire_.back();
    std::size_t n = tls_->take_output({last.data() + last.size(), last.tailroom()});
    last.set_range(last.headroom(), last.headroom() + last.size() + n);
  }
  // The rest goes out in groups, so one message costs one write system call.
  while (tls_ && tls_->pending_output() > 0) {
    std::array<ChunkPtr, kTryWriteBufs> group;
    std::size_t count = 0;
    while (count < group.size() && tls_->pending_output() > 0) {
      ChunkPtr c = acquire_chunk(0);
      std::size_t n = tls_->take_output({c->base(), c->capacity()});
      if (n == 0) break;
      c->set_range(0, n);
      group[count++] = std::move(c);
    }
    if (count == 0) break;
    wire_push({group.data(), count});
  }
}

void WsClient::wire_push(ChunkPtr bytes) {
  wire_push({&bytes, 1});
}

void WsClient::wire_push(std::span<ChunkPtr> chunks) {
  if (!tcp_) return;
  std::size_t first = 0;
  if (inflight_ == nullptr && wire_.empty()) {
    // Fast path: straight to the kernel, no request, nothing kept.
    std::array<uv_buf_t, kTryWriteBufs> bufs{};
    const std::size_t n = std::min(chunks.size(), bufs.size());
    for (std::size_t i = 0; i < n; ++i)
      bufs[i] = uv_buf_init(reinterpret_cast<char*>(chunks[i]->data()),
                            static_cast<unsigned>(chunks[i]->size()));
    int written = uv_try_write(tcp_.stream(), bufs.data(), static_cast<unsigned>(n));
    // Errors other than EAGAIN come back from uv_write's callback, never from here.
    auto left = static_cast<std::size_t>(std::max(written, 0));
    while (first < n && left >= chunks[first]->size()) left -= chunks[first++]->size();
    if (first < n) chunks[first]->consume_front(left);
  }
  for (std::size_t i = first; i < chunks.size(); ++i) {
    if (chunks[i]->size() == 0) continue;
    wire_bytes_ += chunks[i]->footprint();
    wire_.push_back(std::move(chunks[i]));
  }
  if (inflight_ == nullptr && !wire_.empty()) submit_writes();
}

void WsClient::submit_writes() {
  auto req = std::make_unique<WriteReq>();
  req->owner = this;
  req->req.data = req.get();
  const std::size_t n = std::min(wire_.size(), kMaxWriteBatch);
  req->chunks.reserve(n);
  req->bufs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    ChunkPtr c = std::move(wire_.front());
    wire_.pop_front();
    wire_bytes_ -= c->footprint();
    inflight_bytes_ += c->footprint();
    req->bufs.push_back(
        uv_buf_init(reinterpret_cast<char*>(c->data()), static_cast<unsigned>(c->size())));
    req->chunks.push_back(std::move(c));
  }
  int rc = uv_write(&req->req, tcp_.stream(), req->bufs.data(), static_cast<unsigned>(n),
                    guarded<&WsClient::on_written, "websocket client write">);
  if (rc != 0) {
    fail_later(make_error(Errc::connection, "write: " + uv_error_text(rc)));
    return;
  }
  inflight_ = req.release();
}

void WsClient::on_written(uv_write_t* uvreq, int status) {
  std::unique_ptr<WriteReq> req(static_cast<WriteReq*>(uvreq->data));
  WsClient* self = req->owner;
  if (self == nullptr) return;
  self->inflight_ = nullptr;
  self->inflight_bytes_ = 0;
  req.reset();  // chunks back to the pool before more are taken
  self->after_write(status);
}

bool WsClient::after_write(int status) {
  if (status != 0) {
    if (pending_finish_) {
      Error e = std::move(*pending_finish_);
      finish(std::move(e));
    } else {
      finish(make_error(Errc::connection, "write: " + uv_error_text(status)));
    }
    return false;
  }
  if (!wire_.empty()) {
    submit_writes();
  } else if (pending_finish_) {
    Error e = std::move(*pending_finish_);
    finish(std::move(e));
    return false;
  }
  return maybe_drain();
}

bool WsClient::maybe_drain() {
  if (!above_high_water_ || queued_bytes() > low_water() || state_ != State::open || !active())
    return true;
  above_high_water_ = false;
  return emit_drain();
}

}  // namespace zlt
