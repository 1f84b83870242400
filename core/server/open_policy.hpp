// Targets of Open and the allow lists that permit them (PROTOCOL.md §4.6).
#pragma once

#include <cstdint>
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

// Entries: "service:NAME", "host:port", "CIDR:port" ("[v6/len]:port" for IPv6); NAME, host and
// port may be '*'. Empty: nothing is allowed. A host entry matches a target host by name
// (case-insensitive); a CIDR entry matches a target given as an IP literal inside it.
class AllowList {
 public:
  AllowList() = default;
  explicit AllowList(const std::vector<std::string>& entries);
  bool allows(const OpenTarget& target) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    bool service = false;
    std::string name_or_host;  // "*" = any
    bool cidr = false;
    std::uint8_t addr[16] = {};
    int family = 0;
    unsigned prefix = 0;
    std::int32_t port = -1;  // -1 = any
  };
  std::vector<Entry> entries_;
};

}  // namespace zlt
