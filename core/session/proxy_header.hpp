// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) an agent writes
// toward a local service, so the service sees the public client's address instead of the
// agent's. Built once per connection (TCP) or once per datagram stream (UDP, v2 only).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

enum class ProxyTransport { stream, datagram };

// The header for a connection from `source` to `destination`. Without a source (not an IP
// address, e.g. a stream relayed from another tunnel) v1 says "PROXY UNKNOWN" and v2 sends the
// LOCAL command with no addresses, which the receiver answers by using the real connection's
// addresses. When the two addresses differ in family, an IPv4 one is written as IPv4-mapped
// IPv6 (an IPv4-mapped one as plain IPv4 when both fit). v1 has no datagram form: `version` v1
// with `transport` datagram yields v1's UNKNOWN line (the configuration refuses that pairing).
// `version` none yields an empty string.
std::string proxy_header(config::ProxyProtocol version, ProxyTransport transport,
                         const std::optional<SockAddr>& source, const SockAddr& destination);

// The address of a Connect's client_addr ("1.2.3.4:5", "[::1]:8080"), or nullopt for text that
// is not an IP literal with a port ("tunnel:...", a name).
std::optional<SockAddr> parse_peer_address(std::string_view text);

}  // namespace zlt
