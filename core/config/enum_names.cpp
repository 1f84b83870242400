#include <string>

#include "core/config/config.hpp"

namespace zlt::config {

std::string_view routing_mode_name(RoutingMode m) {
  switch (m) {
    case RoutingMode::prefer_overlay:
      return "preferoverlay";
    case RoutingMode::overlay_only:
      return "overlayonly";
    case RoutingMode::direct_only:
      return "directonly";
  }
  return "preferoverlay";
}

Result<RoutingMode> parse_routing_mode(std::string_view text) {
  for (RoutingMode m :
       {RoutingMode::prefer_overlay, RoutingMode::overlay_only, RoutingMode::direct_only}) {
    if (text == routing_mode_name(m)) return m;
  }
  return make_error(Errc::config, "unknown routing mode '" + std::string(text) +
                                      "' (expected preferoverlay, overlayonly or directonly)");
}

std::string_view proxy_protocol_name(ProxyProtocol p) {
  switch (p) {
    case ProxyProtocol::none:
      return "none";
    case ProxyProtocol::v1:
      return "v1";
    case ProxyProtocol::v2:
      return "v2";
  }
  return "none";
}

Result<ProxyProtocol> parse_proxy_protocol(std::string_view text) {
  for (ProxyProtocol p : {ProxyProtocol::v1, ProxyProtocol::v2}) {
    if (text == proxy_protocol_name(p)) return p;
  }
  return make_error(Errc::config, "unknown PROXY protocol version '" + std::string(text) +
                                      "' (expected v1 or v2)");
}

std::string_view expose_type_name(ExposeType e) {
  switch (e) {
    case ExposeType::internal:
      return "internal";
    case ExposeType::public_:
      return "public";
  }
  return "internal";
}

Result<ExposeType> parse_expose_type(std::string_view text) {
  for (ExposeType e : {ExposeType::internal, ExposeType::public_}) {
    if (text == expose_type_name(e)) return e;
  }
  return make_error(Errc::config, "unknown expose type '" + std::string(text) +
                                      "' (expected internal or public)");
}

}  // namespace zlt::config
