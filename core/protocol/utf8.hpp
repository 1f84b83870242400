// Strict UTF-8 validation for the strings of the wire protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace zlt::proto {

// Where and how a byte string stops being UTF-8. Mirrors Rust's core::str::Utf8Error, because
// the original decoder's error texts embed its Display form.
struct Utf8Error {
  std::size_t valid_up_to = 0;
  // Length of the invalid sequence at valid_up_to, or nullopt when the input ends mid-sequence.
  std::optional<std::size_t> error_len;

  // "invalid utf-8 sequence of 1 bytes from index 0" / "incomplete utf-8 byte sequence from
  // index 3" (the exact texts of Rust's Utf8Error).
  std::string describe() const;
};

// nullopt when `bytes` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates,
// nothing above U+10FFFF), else the first error.
std::optional<Utf8Error> validate_utf8(std::span<const std::uint8_t> bytes);

// At most `max` bytes of the UTF-8 string `text`, never ending inside a sequence (a close
// reason cut to fit a control frame must stay valid UTF-8, or the peer fails the connection
// instead of reading it).
std::string_view clip_utf8(std::string_view text, std::size_t max);

}  // namespace zlt::proto
