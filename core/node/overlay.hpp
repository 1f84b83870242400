// Overlay routing for node tunnels: which URL a source node dials to reach a destination's tunnel
// server — the overlay network's address of the destination, or its direct address — and the URL
// rewriting that turns one into the other.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/common/error.hpp"
#include "core/config/config.hpp"

namespace zlt {

// A host's answer for a node name: its overlay address (an IPv4 or IPv6 literal, or a name),
// or nullopt when the node is unreachable through the overlay (or there is no overlay).
// Called on the loop thread; it must be quick.
using OverlayResolver = std::function<std::optional<std::string>(const std::string& node)>;

// `url` with its host replaced by `host`; scheme, userinfo, port (as written, or absent),
// path, query and fragment are kept. IPv6 literals are bracketed (a bracketed `host` is taken
// as is). Errors: the URL does not parse (Errc::config, "invalid URL ...") or `host` is empty.
//   rewrite_url_host("ws://node-b:3679/tunnel/v1", "10.0.0.1") == "ws://10.0.0.1:3679/tunnel/v1"
//   rewrite_url_host("wss://node-b/t", "fd00::1") == "wss://[fd00::1]/t"
Result<std::string> rewrite_url_host(std::string_view url, std::string_view host);

// The overlay URL of a tunnel: its overlay_url if set; otherwise, with a resolver that knows
// the destination, direct_url rewritten to the destination's overlay address; otherwise none.
std::optional<std::string> overlay_url_for(const config::NodeTunnel& tunnel,
                                           const OverlayResolver& resolver);

// The original's words when overlayonly has no overlay URL (a Connection error).
inline constexpr const char* kNoOverlayUrl =
    "overlay routing required but no overlay URL available";

}  // namespace zlt
