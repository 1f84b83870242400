// The WebSocket client's way to an open connection: the dial (to the server or its proxy),
// the proxy's CONNECT, TLS and the upgrade. ws_client.cpp has the open connection.
#include <algorithm>

#include "core/config/config.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/http_head.hpp"
#include "core/transport/http_proxy.hpp"
#include "core/transport/ws_client.hpp"
#include "core/transport/ws_handshake.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "ws-client";

}  // namespace

void WsClient::start() {
  if (state_ != State::idle) return;
  state_ = State::resolving;
  if (config_error_) {
    fail_later(*config_error_);
    return;
  }
  connect_timer_.start(options_.connect_timeout, [this] {
    finish(with_url(Errc::timeout,
                    "connect timeout after " + config::format_duration(options_.connect_timeout)));
  });
  defer(kKickoff);
}

void WsClient::begin_dial() {
  const Url& dest = proxy_url_ ? *proxy_url_ : url_;
  ZLT_LOG(debug, kLog).field("url", url())
      << "connecting to " << dest.host_port() << (proxy_url_ ? " (proxy)" : "");
  state_ = State::connecting;
  dialer_.connect(
      dest.host, dest.port, {},
      [this](UvHandle<uv_tcp_t> socket, const SockAddr& peer) {
        on_connected(std::move(socket), peer);
      },
      [this, &dest](const DialFailure& f) {
        if (f.stage != DialFailure::Stage::connect) {
          finish(make_error(Errc::connection, "resolve " + dest.host + ": " +
                                                  (f.uv_code == 0 ? "no IPv4 or IPv6 address"
                                                                  : uv_error_text(f.uv_code))));
          return;
        }
        // One address: "connect 127.0.0.1:1: connection refused (ECONNREFUSED)". Several:
        // the name, then each address with its own error.
        std::string what = proxy_url_ ? "connect to proxy " : "connect ";
        if (f.attempts.size() > 1) what += dest.host_port() + ": ";
        finish(make_error(Errc::connection, what + f.attempts_text()));
      });
}

bool WsClient::on_connected(UvHandle<uv_tcp_t> socket, const SockAddr& peer) {
  peer_ = peer.to_string();
  stream_ = std::make_unique<ByteStream>(std::move(socket), static_cast<ByteStreamEvents*>(this));
  if (proxy_url_) {
    state_ = State::proxy;
    update_reading();
    if (auto st = stream_->write(build_connect_request(url_, *proxy_url_)); !st)
      fail_later(st.take_error());
    return true;
  }
  return begin_session();
}

// After TCP (and the proxy tunnel): TLS if wss, then the upgrade.
bool WsClient::begin_session() {
  if (!url_.tls()) {
    update_reading();
    return send_upgrade_request();
  }
  auto tls = TlsClient::create(tls_options_for(url_, options_.ca_file, options_.insecure));
  if (!tls) return finish(tls.take_error());
  state_ = State::tls;
  update_reading();
  // Bytes that arrived behind the proxy's answer already belong to TLS.
  std::span<const std::uint8_t> early{in_.get() + in_begin_, in_end_ - in_begin_};
  in_begin_ = in_end_ = 0;
  return stream_->start_tls(std::move(*tls), early);
}

bool WsClient::on_stream_secure() {
  ZLT_LOG(debug, kLog).field("url", url()) << "TLS established: " << stream_->tls()->describe();
  return send_upgrade_request();
}

bool WsClient::send_upgrade_request() {
  state_ = State::upgrade;
  handshake_key_ = crypto::websocket_key();
  auto st = stream_->write(
      build_upgrade_request(url_, handshake_key_, options_.subprotocols, options_.headers));
  return st ? true : finish(st.take_error());
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
  std::size_t size = 0;
  auto head = take_response_head(
      {reinterpret_cast<const char*>(in_.get() + in_begin_), in_end_ - in_begin_}, size);
  if (!head) return finish(with_url(Errc::connection, "proxy: " + head.error().message));
  if (!*head) return true;
  if (auto st = check_connect_response(**head, url_, *proxy_url_); !st)
    return finish(st.take_error());
  in_begin_ += size;
  ZLT_LOG(debug, kLog).field("url", url()) << "proxy tunnel open via " << proxy_url_->host_port();
  if (!begin_session()) return false;
  return stream_->secure() ? true : process_inbound();
}

bool WsClient::handle_upgrade_response() {
  std::size_t size = 0;
  auto head = take_response_head(
      {reinterpret_cast<const char*>(in_.get() + in_begin_), in_end_ - in_begin_}, size);
  if (!head) return finish(with_url(Errc::connection, "handshake: " + head.error().message));
  if (!*head) return true;
  if (auto st = check_upgrade_response(**head, handshake_key_, options_.subprotocols); !st)
    return finish(with_url(st.take_error()));
  in_begin_ += size;  // what follows the head is already frames
  if (!on_upgraded()) return false;
  return process_frames();
}

bool WsClient::on_upgraded() {
  connect_timer_.stop();
  state_ = State::open;
  ZLT_LOG(info, kLog).field("url", url()).field("peer", peer_)
      << "connected"
      << (stream_->secure() ? " (" + stream_->tls()->describe() + ")" : std::string());
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

}  // namespace zlt
