#include "core/session/proxy_header.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <charconv>
#include <cstring>

namespace zlt {
namespace {

// Section 2.2: "\r\n\r\n\0\r\nQUIT\n".
constexpr std::array<unsigned char, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                        0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr unsigned char kV2Proxy = 0x21;  // version 2, command PROXY
constexpr unsigned char kV2Local = 0x20;  // version 2, command LOCAL
constexpr unsigned char kInet = 0x10;
constexpr unsigned char kInet6 = 0x20;
constexpr unsigned char kStream = 0x01;
constexpr unsigned char kDgram = 0x02;

// One address in the family the header uses: 4 or 16 bytes, and the port.
struct Endpoint {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};
  std::uint16_t port = 0;  // host order
};

bool is_v4_mapped(const sockaddr_in6& a) {
  return IN6_IS_ADDR_V4MAPPED(&a.sin6_addr);
}

// The address as IPv4 when `want_v6` is false (the caller checked it fits), else as IPv6.
Endpoint endpoint_of(const SockAddr& s, bool want_v6) {
  Endpoint e;
  e.v6 = want_v6;
  e.port = s.port();
  if (s.family() == AF_INET) {
    const auto& a = *reinterpret_cast<const sockaddr_in*>(s.get());
    if (want_v6) {
      // ::ffff:a.b.c.d
      e.bytes[10] = 0xff;
      e.bytes[11] = 0xff;
      std::memcpy(e.bytes.data() + 12, &a.sin_addr, 4);
    } else {
      std::memcpy(e.bytes.data(), &a.sin_addr, 4);
    }
    return e;
  }
  const auto& a = *reinterpret_cast<const sockaddr_in6*>(s.get());
  if (want_v6) {
    std::memcpy(e.bytes.data(), &a.sin6_addr, 16);
  } else {
    std::memcpy(e.bytes.data(), reinterpret_cast<const unsigned char*>(&a.sin6_addr) + 12, 4);
  }
  return e;
}

bool fits_v4(const SockAddr& s) {
  if (s.family() == AF_INET) return true;
  return s.family() == AF_INET6 && is_v4_mapped(*reinterpret_cast<const sockaddr_in6*>(s.get()));
}

bool is_ip(const SockAddr& s) {
  return s.family() == AF_INET || s.family() == AF_INET6;
}

std::string text_of(const Endpoint& e) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(e.v6 ? AF_INET6 : AF_INET, e.bytes.data(), buf, sizeof buf);
  return buf;
}

void put_u16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

}  // namespace

std::string proxy_header(config::ProxyProtocol version, ProxyTransport transport,
                         const std::optional<SockAddr>& source, const SockAddr& destination) {
  if (version == config::ProxyProtocol::none) return {};
  const bool known = source && is_ip(*source) && is_ip(destination);
  const bool v6 = known && !(fits_v4(*source) && fits_v4(destination));
  Endpoint src;
  Endpoint dst;
  if (known) {
    src = endpoint_of(*source, v6);
    dst = endpoint_of(destination, v6);
  }

  if (version == config::ProxyProtocol::v1) {
    if (!known || transport != ProxyTransport::stream) return "PROXY UNKNOWN\r\n";
    return std::string("PROXY ") + (v6 ? "TCP6 " : "TCP4 ") + text_of(src) + " " + text_of(dst) +
           " " + std::to_string(src.port) + " " + std::to_string(dst.port) + "\r\n";
  }

  std::string out(reinterpret_cast<const char*>(kV2Signature.data()), kV2Signature.size());
  if (!known) {
    out.push_back(static_cast<char>(kV2Local));
    out.push_back(0);  // AF_UNSPEC, UNSPEC
    put_u16(out, 0);
    return out;
  }
  out.push_back(static_cast<char>(kV2Proxy));
  out.push_back(static_cast<char>((v6 ? kInet6 : kInet) |
                                  (transport == ProxyTransport::stream ? kStream : kDgram)));
  const std::size_t n = v6 ? 16 : 4;
  put_u16(out, static_cast<std::uint16_t>(2 * n + 4));
  out.append(reinterpret_cast<const char*>(src.bytes.data()), n);
  out.append(reinterpret_cast<const char*>(dst.bytes.data()), n);
  put_u16(out, src.port);
  put_u16(out, dst.port);
  return out;
}

std::optional<SockAddr> parse_peer_address(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || port.empty() || value > 65535)
    return std::nullopt;
  const std::string h(host);
  SockAddr out;
  if (auto* a4 = reinterpret_cast<sockaddr_in*>(out.get());
      !text.starts_with('[') && ::inet_pton(AF_INET, h.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    out.len = sizeof(sockaddr_in);
  } else if (auto* a6 = reinterpret_cast<sockaddr_in6*>(out.get());
             text.starts_with('[') && ::inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    out.len = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;
  }
  out.set_port(static_cast<std::uint16_t>(value));
  return out;
}

}  // namespace zlt
