// Shared fixtures of the protocol tests: hex conversion and the UUIDs of the golden vectors.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/bytes.hpp"
#include "core/common/uuid.hpp"

namespace zlt::proto::test {

// Parses "01 00 ff" (whitespace ignored); any other character is a bug in the test itself.
inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n') continue;
    const int v = nibble(c);
    if (v < 0) return {};  // makes the calling test fail visibly on a byte mismatch
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  return out;
}

// "01 00 ff": the form failure messages print, so a mismatch shows which byte differs.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i) s.push_back(' ');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 0xf]);
  }
  return s;
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline constexpr std::string_view kU1Hex = "00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff";
inline constexpr std::string_view kU2Hex = "ff ee dd cc bb aa 99 88 77 66 55 44 33 22 11 00";

inline Uuid u1() {
  return *Uuid::parse("00112233-4455-6677-8899-aabbccddeeff");
}
inline Uuid u2() {
  return *Uuid::parse("ffeeddcc-bbaa-9988-7766-554433221100");
}

// Builds a raw frame field by field, for inputs the encoder would refuse to produce. The header's
// payload_len is the real payload size unless overridden.
class FrameBuilder {
 public:
  explicit FrameBuilder(std::uint8_t type) : type_(type) {}

  FrameBuilder& u8(std::uint8_t v) {
    payload_.push_back(v);
    return *this;
  }
  FrameBuilder& u16(std::uint16_t v) {
    payload_.resize(payload_.size() + 2);
    store_be16(payload_.data() + payload_.size() - 2, v);
    return *this;
  }
  FrameBuilder& u32(std::uint32_t v) {
    payload_.resize(payload_.size() + 4);
    store_be32(payload_.data() + payload_.size() - 4, v);
    return *this;
  }
  FrameBuilder& id(const Uuid& u) {
    payload_.insert(payload_.end(), u.bytes.begin(), u.bytes.end());
    return *this;
  }
  FrameBuilder& text(std::string_view s) {
    payload_.insert(payload_.end(), s.begin(), s.end());
    return *this;
  }
  FrameBuilder& hex(std::string_view h) {
    auto b = from_hex(h);
    payload_.insert(payload_.end(), b.begin(), b.end());
    return *this;
  }
  FrameBuilder& fill(std::size_t n, std::uint8_t v = 0) {
    payload_.insert(payload_.end(), n, v);
    return *this;
  }
  FrameBuilder& declared_length(std::uint32_t n) {
    declared_ = n;
    return *this;
  }

  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out(5);
    out[0] = type_;
    store_be32(out.data() + 1, declared_.value_or(static_cast<std::uint32_t>(payload_.size())));
    out.insert(out.end(), payload_.begin(), payload_.end());
    return out;
  }

 private:
  std::uint8_t type_;
  std::vector<std::uint8_t> payload_;
  std::optional<std::uint32_t> declared_;
};

}  // namespace zlt::proto::test
