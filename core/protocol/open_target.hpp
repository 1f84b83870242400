// Targets of Open and the allow lists that permit them (docs/PROTOCOL.md §4.6): one syntax for the
// target an agent asks for and the entries a token, grant or admin request lists.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"

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

// One parsed allow entry. IP literals are networks of full length ("10.0.0.1:80" is
// 10.0.0.1/32), so a literal and a CIDR are matched by one rule.
struct AllowEntry {
  enum class Kind { service, host, network };
  Kind kind = Kind::host;
  std::string name;  // service: a service name or "*"; host: a host name or "*"
  int family = 0;    // network: AF_INET or AF_INET6
  std::array<std::uint8_t, 16> address{};
  unsigned prefix = 0;                // network: 0..32 (IPv4) or 0..128 (IPv6), checked
  std::optional<std::uint16_t> port;  // nullopt: any port ('*'); never for services
};

// "service:NAME" (NAME a service name or '*'), "HOST:PORT", "[v6]:PORT", "CIDR:PORT" (IPv4
// "a.b.c.d/len" or bracketed IPv6 "[prefix/len]"); HOST and PORT may each be '*'. nullopt for
// anything else, a prefix length beyond the family's width included.
std::optional<AllowEntry> parse_allow_entry(std::string_view text);

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
// where a connection to them goes. Families other than IPv4 and IPv6 are ordinary.
AddressClass classify_address(const sockaddr_storage& address);
// "a loopback address", "a link-local address", "an unspecified address", "a multicast address".
std::string_view address_class_phrase(AddressClass::Kind kind);

// Entries as parse_allow_entry reads them. Empty: nothing is allowed. A host entry matches a
// target host by name (case-insensitive); a network entry (an IP literal or a CIDR) matches a
// target given as an IP literal inside it.
class AllowList {
 public:
  AllowList() = default;
  // Every entry must parse; the first that does not is refused (Errc::invalid_argument,
  // "invalid allow entry '<entry>' (expected service:NAME, HOST:PORT or CIDR:PORT)").
  static Result<AllowList> parse(const std::vector<std::string>& entries);

  bool allows(const OpenTarget& target) const;
  bool empty() const { return entries_.empty(); }

  // Whether an address that an allowed host:port target resolved to may be dialed: nullopt if
  // so, else the refusal ("target resolves to a loopback address"). Ordinary addresses pass;
  // loopback, link-local, unspecified and multicast ones only if a network entry with a
  // matching port lies entirely inside their range (127.0.0.1:5432 or 127.0.0.0/8:* for
  // loopback; 0.0.0.0/0:* is the internet, not this host, and does not count).
  std::optional<std::string> address_refusal(const sockaddr_storage& address) const;

 private:
  std::vector<AllowEntry> entries_;
};

}  // namespace zlt
