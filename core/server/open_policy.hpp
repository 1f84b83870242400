// Targets of Open and the allow lists that permit them (docs/PROTOCOL.md §4.6).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"
#include "core/config/allow_target.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

struct OpenTarget {
  enum class Kind { service, address };
  Kind kind = Kind::address;
  std::string name;  // Kind::service
  std::string host;  // Kind::address: a name or an IP literal (no brackets)
  std::uint16_t port = 0;

  // "service:NAME", "host:port", "[v6]:port". Errors are Errc::invalid_argument.
  static Result<OpenTarget> parse(std::string_view text);
  std::string to_string() const;
};

// Addresses a name must not lead to unless the allow list names them: this host (loopback,
// unspecified), the local link (cloud metadata at 169.254.169.254 included) and multicast.
struct AddressClass {
  enum class Kind { ordinary, loopback, link_local, unspecified, multicast };
  Kind kind = Kind::ordinary;
  // The length of the range's prefix in the address's own family (127.0.0.0/8: 8; the same
  // range IPv4-mapped, ::ffff:127.0.0.0/104: 104). 0 for ordinary addresses.
  unsigned prefix = 0;
};
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are classified by their IPv4 address: that is
// where a connection to them goes.
AddressClass classify_address(const SockAddr& address);
// "a loopback address", "a link-local address", "an unspecified address", "a multicast address".
std::string_view address_class_phrase(AddressClass::Kind kind);

// Entries: "service:NAME", "host:port", "CIDR:port" ("[v6/len]:port" for IPv6); NAME, host and
// port may be '*'. Empty: nothing is allowed. A host entry matches a target host by name
// (case-insensitive); a network entry (an IP literal or a CIDR) matches a target given as an
// IP literal inside it.
class AllowList {
 public:
  AllowList() = default;
  // Entries that do not parse are left out (the configuration validates them first).
  explicit AllowList(const std::vector<std::string>& entries);
  bool allows(const OpenTarget& target) const;
  bool empty() const { return entries_.empty(); }

  // Whether an address that an allowed host:port target resolved to may be dialed: nullopt if
  // so, else the refusal ("target resolves to a loopback address"). Ordinary addresses pass;
  // loopback, link-local, unspecified and multicast ones only if a network entry with a
  // matching port lies entirely inside their range (127.0.0.1:5432 or 127.0.0.0/8:* for
  // loopback; 0.0.0.0/0:* is the internet, not this host, and does not count).
  std::optional<std::string> address_refusal(const SockAddr& address) const;

 private:
  std::vector<config::detail::AllowEntry> entries_;
};

}  // namespace zlt
