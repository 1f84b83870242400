// Lower-case hexadecimal encoding. Internal to core/crypto.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace zlt::crypto::detail {

inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

}  // namespace zlt::crypto::detail
