#include "core/node/overlay.hpp"

#include "core/transport/url.hpp"

namespace zlt {

Result<std::string> rewrite_url_host(std::string_view url, std::string_view host) {
  if (auto parsed = parse_url(url); !parsed) return parsed.take_error();
  if (host.empty()) return make_error(Errc::config, "overlay address is empty");
  const std::size_t scheme_end = url.find("://");
  const std::size_t authority_start = scheme_end + 3;
  std::size_t authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(authority_start, authority_end - authority_start);
  std::string_view userinfo;
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = authority.substr(0, at + 1);
    authority.remove_prefix(at + 1);
  }
  // What follows the host: ":port" or nothing.
  std::string_view port_part;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    port_part = authority.substr(close + 1);
  } else if (std::size_t colon = authority.find(':'); colon != std::string_view::npos) {
    port_part = authority.substr(colon);
  }
  std::string new_host(host);
  if (!new_host.starts_with('[') && new_host.find(':') != std::string::npos)
    new_host = "[" + new_host + "]";
  std::string out(url.substr(0, authority_start));
  out.append(userinfo).append(new_host).append(port_part).append(url.substr(authority_end));
  return out;
}

std::optional<std::string> overlay_url_for(const config::NodeTunnel& tunnel,
                                           const OverlayResolver& resolver) {
  if (tunnel.overlay_url) return tunnel.overlay_url;
  if (!resolver || !tunnel.direct_url) return std::nullopt;
  std::optional<std::string> address = resolver(tunnel.to);
  if (!address) return std::nullopt;
  auto rewritten = rewrite_url_host(*tunnel.direct_url, *address);
  if (!rewritten) return std::nullopt;
  return std::move(*rewritten);
}

}  // namespace zlt
