#include "core/transport/ws_handshake.hpp"

#include "core/crypto/crypto.hpp"

namespace zlt {
namespace {

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

Error handshake_error(std::string why) {
  return make_error(Errc::connection, "handshake: " + why);
}

}  // namespace

Status check_extra_headers(const HeaderList& headers) {
  static constexpr std::string_view kReserved[] = {"host",
                                                   "upgrade",
                                                   "connection",
                                                   "sec-websocket-key",
                                                   "sec-websocket-version",
                                                   "sec-websocket-extensions",
                                                   "sec-websocket-protocol",
                                                   "content-length",
                                                   "transfer-encoding"};
  for (const auto& [name, value] : headers) {
    if (name.empty()) return make_error(Errc::config, "invalid header: empty name");
    for (char c : name)
      if (!is_token_char(c)) return make_error(Errc::config, "invalid header name '" + name + "'");
    for (std::string_view r : kReserved)
      if (iequals_ascii(name, r))
        return make_error(Errc::config, "header '" + name + "' is set by the WebSocket handshake");
    for (char c : value)
      if (c == '\r' || c == '\n' || c == '\0')
        return make_error(Errc::config, "invalid value for header '" + name + "'");
  }
  return {};
}

std::string build_upgrade_request(const Url& url, std::string_view key,
                                  const std::vector<std::string>& subprotocols,
                                  const HeaderList& extra_headers) {
  std::string req;
  req.reserve(512);
  req += "GET " + url.target + " HTTP/1.1\r\n";
  req += "Host: " + url.authority() + "\r\n";
  req += "Upgrade: websocket\r\n";
  req += "Connection: Upgrade\r\n";
  req += "Sec-WebSocket-Key: ";
  req += key;
  req += "\r\n";
  req += "Sec-WebSocket-Version: 13\r\n";
  if (!subprotocols.empty()) {
    req += "Sec-WebSocket-Protocol: ";
    for (std::size_t i = 0; i < subprotocols.size(); ++i) {
      if (i > 0) req += ", ";
      req += subprotocols[i];
    }
    req += "\r\n";
  }
  req += "User-Agent: zlayer-tunnel/" ZLT_VERSION_STRING "\r\n";
  for (const auto& [name, value] : extra_headers) req += name + ": " + value + "\r\n";
  req += "\r\n";
  return req;
}

Status check_upgrade_response(const HttpResponseHead& head, std::string_view key,
                              const std::vector<std::string>& subprotocols) {
  if (head.status != 101) return handshake_error("HTTP " + head.status_text());
  if (!head.has_token("Upgrade", "websocket"))
    return handshake_error("missing 'Upgrade: websocket'");
  if (!head.has_token("Connection", "upgrade"))
    return handshake_error("missing 'Connection: Upgrade'");
  auto accept = head.header("Sec-WebSocket-Accept");
  if (!accept) return handshake_error("missing Sec-WebSocket-Accept");
  if (*accept != crypto::websocket_accept(key)) return handshake_error("bad Sec-WebSocket-Accept");
  if (!head.joined("Sec-WebSocket-Extensions").empty())
    return handshake_error("server negotiated an extension");
  std::string protocol = head.joined("Sec-WebSocket-Protocol");
  if (!protocol.empty()) {
    bool offered = false;
    for (const auto& p : subprotocols) offered = offered || p == protocol;
    if (!offered)
      return handshake_error("server chose subprotocol '" + protocol + "' which was not offered");
  }
  return {};
}

}  // namespace zlt
