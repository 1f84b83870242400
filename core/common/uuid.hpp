// 16-byte identifiers (RFC 4122 byte order, as they travel on the wire).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace zlt {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  static Uuid from_bytes(const std::uint8_t* p) {
    Uuid u;
    std::memcpy(u.bytes.data(), p, 16);
    return u;
  }
  // Canonical text "00112233-4455-6677-8899-aabbccddeeff" (hyphens required, any case).
  static std::optional<Uuid> parse(std::string_view text);

  std::string to_string() const;  // lower-case canonical text
  bool is_nil() const;

  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

struct UuidHash {
  std::size_t operator()(const Uuid& u) const noexcept {
    // Ids are random (v4): any 8 bytes are already well mixed.
    std::uint64_t a;
    std::uint64_t b;
    std::memcpy(&a, u.bytes.data(), 8);
    std::memcpy(&b, u.bytes.data() + 8, 8);
    return static_cast<std::size_t>(a ^ (b * 0x9e3779b97f4a7c15ULL));
  }
};

}  // namespace zlt
