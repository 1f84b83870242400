#include "core/transport/http_proxy.hpp"

#include <cstdint>
#include <span>

#include "core/crypto/crypto.hpp"

namespace zlt {

Result<Url> parse_proxy_url(std::string_view text) {
  auto url = parse_url(text);
  if (!url) return url.take_error();
  if (url->scheme != "http")
    return make_error(Errc::config, "invalid proxy URL '" + url->to_string() +
                                        "': only http:// proxies are supported");
  return url;
}

std::string build_connect_request(const Url& target, const Url& proxy) {
  const std::string host_port = target.host_port();
  std::string req;
  req.reserve(256);
  req += "CONNECT " + host_port + " HTTP/1.1\r\n";
  req += "Host: " + host_port + "\r\n";
  if (!proxy.userinfo.empty()) {
    // user and password are percent-decoded separately: an encoded ':' belongs to its part.
    std::string_view info = proxy.userinfo;
    std::size_t colon = info.find(':');
    std::string credentials = percent_decode(info.substr(0, colon));
    if (colon != std::string_view::npos)
      credentials += ":" + percent_decode(info.substr(colon + 1));
    auto bytes =
        std::span(reinterpret_cast<const std::uint8_t*>(credentials.data()), credentials.size());
    req += "Proxy-Authorization: Basic " + crypto::base64_encode(bytes) + "\r\n";
  }
  req += "User-Agent: zlayer-tunnel/" ZLT_VERSION_STRING "\r\n";
  req += "\r\n";
  return req;
}

Status check_connect_response(const HttpResponseHead& head, const Url& target, const Url& proxy) {
  if (head.status >= 200 && head.status < 300) return {};
  return make_error(Errc::connection, "proxy " + proxy.host_port() + " refused CONNECT " +
                                          target.host_port() + ": HTTP " + head.status_text());
}

}  // namespace zlt
