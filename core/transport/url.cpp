#include "core/transport/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>

#include "core/common/ascii.hpp"
#include "core/protocol/host_syntax.hpp"

namespace zlt {
namespace {

bool is_ipv4_literal(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6_literal(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The URL as given, with any credentials replaced, so errors can be logged.
std::string redacted(std::string_view text) {
  std::size_t start = text.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  std::size_t end = text.find_first_of("/?#", start);
  std::size_t at = text.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(text);
  return std::string(text.substr(0, start)) + "***" + std::string(text.substr(at));
}

Error invalid(std::string_view text, std::string_view why) {
  return make_error(Errc::config, "invalid URL '" + redacted(text) + "': " + std::string(why));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = ascii_lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

}  // namespace

bool Url::host_is_ip() const {
  return host_is_ipv6 || is_ipv4_literal(host);
}

std::string Url::authority() const {
  std::string out = host_is_ipv6 ? "[" + host + "]" : host;
  if (port != default_port()) out += ":" + std::to_string(port);
  return out;
}

std::string Url::host_port() const {
  return (host_is_ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Url::to_string() const {
  return scheme + "://" + authority() + target;
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::size_t colon = text.find("://");
  if (colon == std::string_view::npos) return invalid(text, "expected scheme://host");
  url.scheme = to_ascii_lower(text.substr(0, colon));
  if (url.scheme != "ws" && url.scheme != "wss" && url.scheme != "http" && url.scheme != "https")
    return invalid(text,
                   "unsupported scheme '" + url.scheme + "' (expected ws, wss, http or https)");

  std::string_view rest = text.substr(colon + 3);
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return invalid(text, "contains whitespace or control characters");
  if (rest.find('#') != std::string_view::npos) return invalid(text, "fragments are not allowed");

  std::size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);

  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    if (url.scheme != "http" && url.scheme != "https")
      return invalid(text, "credentials are only allowed in proxy URLs");
    url.userinfo = std::string(authority.substr(0, at));
    authority.remove_prefix(at + 1);
  }

  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return invalid(text, "unterminated '[' in host");
    url.host = to_ascii_lower(authority.substr(1, close - 1));
    if (!is_ipv6_literal(url.host)) return invalid(text, "bad IPv6 address '" + url.host + "'");
    url.host_is_ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid(text, "unexpected characters after ']'");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    std::size_t c = authority.find(':');
    url.host = to_ascii_lower(authority.substr(0, c));
    if (c != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(c + 1);
    }
    if (url.host.empty()) return invalid(text, "missing host");
    if (!proto::is_host_name(url.host)) return invalid(text, "bad host '" + url.host + "'");
  }

  if (has_port) {
    if (port_text.empty()) return invalid(text, "empty port");
    for (char c : port_text)
      if (c < '0' || c > '9') return invalid(text, "bad port '" + std::string(port_text) + "'");
    std::optional<std::uint16_t> port = parse_port(port_text);
    if (!port) return invalid(text, "port out of range '" + std::string(port_text) + "'");
    url.port = *port;
  } else {
    url.port = url.default_port();
  }

  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi << 4 | lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

bool no_proxy_matches(std::string_view no_proxy, const Url& target) {
  std::string_view list = no_proxy;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view entry = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (entry.empty()) continue;
    if (entry == "*") return true;

    // Optional ":port" (IPv6 entries carry it only in brackets).
    std::string_view host = entry;
    std::string_view port_text;
    if (host.front() == '[') {
      std::size_t close = host.find(']');
      if (close == std::string_view::npos) continue;
      std::string_view after = host.substr(close + 1);
      host = host.substr(1, close - 1);
      if (!after.empty() && after.front() == ':') port_text = after.substr(1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
      std::size_t c = host.find(':');
      port_text = host.substr(c + 1);
      host = host.substr(0, c);
    }
    if (!port_text.empty() && parse_port(port_text) != target.port) continue;

    if (!host.empty() && host.front() == '.') host.remove_prefix(1);
    if (host.empty()) continue;
    if (iequals_ascii(host, target.host)) return true;
    // A domain also matches its subdomains, but never part of a label ("ample.com" does not
    // match "example.com"); IP literals only match exactly.
    if (!target.host_is_ip() && target.host.size() > host.size()) {
      std::string_view tail =
          std::string_view(target.host).substr(target.host.size() - host.size());
      if (iequals_ascii(tail, host) && target.host[target.host.size() - host.size() - 1] == '.')
        return true;
    }
  }
  return false;
}

std::optional<std::string> proxy_from_env(const Url& target) {
  const char* proxy = target.tls() ? env("https_proxy") : env("http_proxy");
  if (proxy == nullptr) proxy = target.tls() ? env("HTTPS_PROXY") : env("HTTP_PROXY");
  if (proxy == nullptr) return std::nullopt;
  const char* no_proxy = env("no_proxy");
  if (no_proxy == nullptr) no_proxy = env("NO_PROXY");
  if (no_proxy != nullptr && no_proxy_matches(no_proxy, target)) return std::nullopt;
  // Like curl, accept "host:port" without a scheme.
  std::string value(proxy);
  if (value.find("://") == std::string::npos) value = "http://" + value;
  return value;
}

}  // namespace zlt
