#include "core/transport/ws_guard.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "core/runtime/log.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "ws-server";
constexpr std::size_t kBufferSize = 64 * 1024;
// Per direction, on top of the socket buffers: a peer that does not read holds libwebsockets
// back (and so the session's own queue limits apply) once this much is waiting.
constexpr std::size_t kHighWater = 256 * 1024;
constexpr std::size_t kLowWater = 64 * 1024;

bool has_token_ci(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals_ascii(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Whether a complete request head asks to upgrade `control_path` to a WebSocket.
bool is_control_upgrade(std::string_view head, std::string_view control_path) {
  const auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  if (!line.starts_with("GET ")) return false;
  line.remove_prefix(4);
  std::string_view path = line.substr(0, line.find(' '));
  path = path.substr(0, path.find('?'));
  if (path != control_path) return false;
  std::string_view rest = head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    std::string_view header = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    const auto colon = header.find(':');
    if (colon == std::string_view::npos) continue;
    if (iequals_ascii(header.substr(0, colon), "upgrade") &&
        has_token_ci(header.substr(colon + 1), "websocket"))
      return true;
  }
  return false;
}

}  // namespace

struct WsGuard::WriteReq {
  uv_write_t req;
  std::unique_ptr<std::uint8_t[]> data;
};

WsGuard::WsGuard(uv_loop_t* loop, Options options, Events* events)
    : loop_(loop),
      options_(std::move(options)),
      events_(events),
      codec_(ws::Sender::client, options_.max_message_size),
      linger_(loop) {}

WsGuard::~WsGuard() = default;

Result<std::unique_ptr<WsGuard>> WsGuard::create(uv_loop_t* loop, int peer_fd, Options options,
                                                 Events* events) {
  std::unique_ptr<WsGuard> g(new WsGuard(loop, std::move(options), events));
  g->peer_ = peer_of(peer_fd).to_string();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
    const int err = errno;
    ::close(peer_fd);
    return make_error(Errc::connection, "cannot serve " + g->peer_ + ": socketpair: " +
                                            std::strerror(err));
  }
  int rc = g->peer_tcp_.init(uv_tcp_init, loop);
  if (rc == 0) {
    rc = uv_tcp_open(g->peer_tcp_.get(), peer_fd);
    if (rc != 0) g->peer_tcp_.reset();
  }
  if (rc != 0) ::close(peer_fd);  // not taken by the handle
  int rc2 = rc == 0 ? g->lws_pipe_.init(uv_pipe_init, loop, 0) : rc;
  if (rc2 == 0) {
    rc2 = uv_pipe_open(g->lws_pipe_.get(), pair[0]);
    if (rc2 != 0) g->lws_pipe_.reset();
  }
  if (rc != 0 || rc2 != 0) {
    if (rc2 != 0) ::close(pair[0]);
    ::close(pair[1]);
    return make_error(Errc::connection,
                      "cannot serve " + g->peer_ + ": " + uv_error_text(rc != 0 ? rc : rc2));
  }
  g->lws_fd_ = pair[1];
  if (g->options_.tls != nullptr) {
    auto tls = TlsClient::accept(g->options_.tls);
    if (!tls) {
      ::close(pair[1]);
      return tls.take_error();
    }
    g->tls_ = std::move(*tls);
    g->plain_buf_ = std::make_unique<std::uint8_t[]>(kBufferSize);
  }
  g->read_buf_ = std::make_unique<std::uint8_t[]>(kBufferSize);
  g->peer_tcp_.set_data(g.get());
  g->lws_pipe_.set_data(g.get());
  g->update_reading();
  return g;
}

// ---- libuv entry points ----

void WsGuard::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
  auto* g = static_cast<WsGuard*>(handle->data);
  if (g == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  // One buffer serves both sides: every read is consumed before the next one is allocated.
  *buf = uv_buf_init(reinterpret_cast<char*>(g->read_buf_.get()), kBufferSize);
}

void WsGuard::on_peer_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* g = static_cast<WsGuard*>(stream->data);
  if (g == nullptr || nread == 0) return;
  if (nread > 0) {
    g->from_peer({reinterpret_cast<const std::uint8_t*>(buf->base),
                  static_cast<std::size_t>(nread)});
  } else if (nread == UV_EOF) {
    g->peer_ended();
  } else {
    g->peer_failed();
  }
}

void WsGuard::on_lws_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* g = static_cast<WsGuard*>(stream->data);
  if (g == nullptr || nread == 0) return;
  if (nread > 0) {
    g->from_lws({reinterpret_cast<const std::uint8_t*>(buf->base),
                 static_cast<std::size_t>(nread)});
  } else {
    g->lws_ended();
  }
}

void WsGuard::on_written(uv_write_t* req, int status) {
  std::unique_ptr<WriteReq> owned(reinterpret_cast<WriteReq*>(req));
  auto* g = static_cast<WsGuard*>(req->handle->data);
  if (g == nullptr) return;
  if (status < 0 && req->handle == g->peer_tcp_.stream()) {
    g->peer_failed();
    return;
  }
  g->update_reading();
}

// ---- peer -> libwebsockets ----

bool WsGuard::from_peer(std::span<const std::uint8_t> bytes) {
  if (dropping_ || !lws_open_) return true;
  if (!tls_) return plain_from_peer(bytes);
  tls_->feed(bytes);
  if (!tls_ready_) {
    auto done = tls_->handshake();
    if (!done) {
      ZLT_LOG(debug, kLog).field("peer", peer_) << done.error().message;
      flush_tls();
      finish();
      return false;
    }
    if (!*done) return flush_tls();
    tls_ready_ = true;
  }
  while (!dropping_ && lws_open_) {
    auto n = tls_->read({plain_buf_.get(), kBufferSize});
    if (!n) {
      flush_tls();
      return peer_ended();  // close_notify or a broken record: the peer is done either way
    }
    if (*n == 0) break;
    if (!plain_from_peer({plain_buf_.get(), *n})) return false;
  }
  return flush_tls();
}

bool WsGuard::plain_from_peer(std::span<const std::uint8_t> bytes) {
  if (mode_ == Mode::head) {
    // Held back until complete, so the request decides how the rest is read.
    const std::size_t before = head_.size();
    const std::size_t take = std::min(bytes.size(), kMaxResponseHead - before);
    head_.append(reinterpret_cast<const char*>(bytes.data()), take);
    const std::size_t end = find_head_end(head_);
    if (end == 0 && head_.size() < kMaxResponseHead) return true;
    // An over-long head goes on as it is: libwebsockets refuses it.
    const std::size_t head_len = end == 0 ? head_.size() : end;
    mode_ = end != 0 && is_control_upgrade(std::string_view(head_).substr(0, end),
                                           options_.control_path)
                ? Mode::frames
                : Mode::http;
    send(Side::lws, {reinterpret_cast<const std::uint8_t*>(head_.data()), head_len});
    bytes = bytes.subspan(head_len - before);
    std::string().swap(head_);
  }
  if (bytes.empty()) return true;
  if (mode_ == Mode::http) {
    send(Side::lws, bytes);
    return true;
  }
  const std::size_t good = codec_.feed(bytes);
  if (good > 0) send(Side::lws, bytes.first(good));
  if (const auto& violation = codec_.violation()) {
    dropping_ = true;
    update_reading();
    events_->on_guard_violation(*this, *violation);
  }
  return true;
}

// ---- libwebsockets -> peer ----

bool WsGuard::from_lws(std::span<const std::uint8_t> bytes) {
  if (!peer_writable_) return true;
  if (!tls_) {
    send(Side::peer, bytes);
    return true;
  }
  if (auto st = tls_->write(bytes); !st) {
    ZLT_LOG(debug, kLog).field("peer", peer_) << st.error().message;
    peer_failed();
    return false;
  }
  return flush_tls();
}

bool WsGuard::flush_tls() {
  while (tls_ && peer_writable_ && tls_->pending_output() > 0) {
    const std::size_t len = tls_->pending_output();
    auto data = std::make_unique<std::uint8_t[]>(len);
    const std::size_t n = tls_->take_output({data.get(), len});
    if (n == 0) break;
    send_owned(Side::peer, std::move(data), n);
  }
  return !finished_;
}

// ---- output ----

std::size_t WsGuard::queued(Side side) const {
  uv_stream_t* s = stream(side);
  return s != nullptr ? uv_stream_get_write_queue_size(s) : 0;
}

void WsGuard::send(Side side, std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || (side == Side::peer ? !peer_writable_ : !lws_open_)) return;
  uv_stream_t* s = stream(side);
  if (s == nullptr) return;
  if (uv_stream_get_write_queue_size(s) == 0) {
    uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(bytes.data())),
                             static_cast<unsigned>(bytes.size()));
    const int n = uv_try_write(s, &b, 1);
    if (n == static_cast<int>(bytes.size())) return;
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    } else if (n != UV_EAGAIN) {
      if (side == Side::peer) peer_failed();
      return;  // libwebsockets has closed its end: its EOF follows
    }
  }
  auto data = std::make_unique<std::uint8_t[]>(bytes.size());
  std::memcpy(data.get(), bytes.data(), bytes.size());
  send_owned(side, std::move(data), bytes.size());
}

void WsGuard::send_owned(Side side, std::unique_ptr<std::uint8_t[]> data, std::size_t len) {
  uv_stream_t* s = stream(side);
  if (s == nullptr || (side == Side::peer ? !peer_writable_ : !lws_open_)) return;
  auto req = std::make_unique<WriteReq>();
  req->data = std::move(data);
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(req->data.get()), static_cast<unsigned>(len));
  if (uv_write(&req->req, s, &b, 1, &WsGuard::on_written) != 0) {
    if (side == Side::peer) peer_failed();
    return;
  }
  req.release();  // owned by libuv until on_written
  update_reading();
}

void WsGuard::update_reading() {
  if (finished_) return;
  // Hysteresis: a side that stopped for a full queue starts again once it has drained.
  auto wants = [](bool reading, std::size_t queued) {
    return reading ? queued < kHighWater : queued <= kLowWater;
  };
  // Once libwebsockets is gone or the peer broke the rules, the peer's bytes are read and
  // dropped: closing with unread input would reset the connection before the close frame.
  const bool peer_want =
      peer_open_ && (dropping_ || !lws_open_ || wants(peer_reading_, queued(Side::lws)));
  const bool lws_want = lws_open_ && (!peer_writable_ || wants(lws_reading_, queued(Side::peer)));
  if (peer_want != peer_reading_) {
    peer_reading_ = peer_want;
    if (peer_want) {
      uv_read_start(peer_tcp_.stream(), &WsGuard::on_alloc, &WsGuard::on_peer_read);
    } else {
      uv_read_stop(peer_tcp_.stream());
    }
  }
  if (lws_want != lws_reading_) {
    lws_reading_ = lws_want;
    if (lws_want) {
      uv_read_start(lws_pipe_.stream(), &WsGuard::on_alloc, &WsGuard::on_lws_read);
    } else {
      uv_read_stop(lws_pipe_.stream());
    }
  }
}

// ---- endings ----

bool WsGuard::peer_ended() {
  if (!peer_open_) return !finished_;
  peer_open_ = false;
  update_reading();
  if (lws_open_) {
    // libwebsockets learns it from its end of the pair and closes; lws_ended() follows.
    auto* req = new uv_shutdown_t;
    if (uv_shutdown(req, lws_pipe_.stream(), [](uv_shutdown_t* r, int) { delete r; }) != 0)
      delete req;
    return true;
  }
  if (!peer_writable_) {
    finish();
    return false;
  }
  return true;  // the shutdown of the peer's side, under way, finishes
}

void WsGuard::peer_failed() {
  peer_writable_ = false;
  if (!peer_open_ && !lws_open_) {
    finish();
    return;
  }
  peer_ended();
}

bool WsGuard::lws_ended() {
  if (!lws_open_) return !finished_;
  lws_open_ = false;
  update_reading();
  if (!peer_writable_) {
    finish();
    return false;
  }
  if (tls_ && tls_ready_) {
    tls_->shutdown();
    if (!flush_tls()) return false;
  }
  shutdown_peer();
  // A peer that never takes the last bytes does not keep the connection.
  linger_.start(kLinger, [this] { finish(); });
  return !finished_;
}

void WsGuard::shutdown_peer() {
  auto* req = new uv_shutdown_t;
  int rc = uv_shutdown(req, peer_tcp_.stream(), [](uv_shutdown_t* r, int status) {
    auto* g = static_cast<WsGuard*>(r->handle->data);
    delete r;
    if (g == nullptr) return;
    (void)status;
    // Everything libwebsockets wrote has been handed to the kernel, which still delivers it
    // after the close; what the peer sent meanwhile has been read, so the close is no reset.
    g->finish();
  });
  if (rc != 0) {
    delete req;
    finish();
  }
}

void WsGuard::finish() {
  if (finished_) return;
  finished_ = true;
  linger_.stop();
  peer_tcp_.reset();
  lws_pipe_.reset();
  events_->on_guard_closed(*this);  // may destroy this
}

}  // namespace zlt
