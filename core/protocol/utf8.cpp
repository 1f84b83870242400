#include "core/protocol/utf8.hpp"

#include <cstring>

namespace zlt::proto {
namespace {

constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

bool is_continuation(std::uint8_t b) {
  return (b & 0xc0) == 0x80;
}

// The allowed range of the second byte narrows for some lead bytes: that is how overlong forms
// (E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..BF) are
// rejected without decoding the code point.
bool second_byte_ok(std::uint8_t lead, std::uint8_t second) {
  if (lead == 0xe0) return second >= 0xa0 && second <= 0xbf;
  if (lead == 0xed) return second >= 0x80 && second <= 0x9f;
  if (lead == 0xf0) return second >= 0x90 && second <= 0xbf;
  if (lead == 0xf4) return second >= 0x80 && second <= 0x8f;
  return is_continuation(second);
}

// Total length of the sequence a lead byte starts, or 0 when it cannot start one
// (continuation bytes, C0/C1 which only make overlongs, F5..FF which exceed U+10FFFF).
std::size_t sequence_length(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

std::string Utf8Error::describe() const {
  if (error_len) {
    return "invalid utf-8 sequence of " + std::to_string(*error_len) + " bytes from index " +
           std::to_string(valid_up_to);
  }
  return "incomplete utf-8 byte sequence from index " + std::to_string(valid_up_to);
}

std::optional<Utf8Error> validate_utf8(std::span<const std::uint8_t> bytes) {
  const std::uint8_t* p = bytes.data();
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    // Protocol strings are almost always ASCII: skip them a word at a time.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, p + i, sizeof word);
      if (word & kHighBits) break;
      i += 8;
    }
    if (i == n) break;
    const std::uint8_t lead = p[i];
    const std::size_t len = sequence_length(lead);
    if (len == 1) {
      ++i;
      continue;
    }
    if (len == 0) return Utf8Error{i, 1};
    // error_len counts the lead byte and the continuation bytes accepted before the bad one,
    // as Rust does; running out of input makes the error "incomplete" instead.
    for (std::size_t k = 1; k < len; ++k) {
      if (i + k >= n) return Utf8Error{i, std::nullopt};
      const bool ok = k == 1 ? second_byte_ok(lead, p[i + 1]) : is_continuation(p[i + k]);
      if (!ok) return Utf8Error{i, k};
    }
    i += len;
  }
  return std::nullopt;
}

std::string_view clip_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t n = max;
  while (n > 0 && is_continuation(static_cast<std::uint8_t>(text[n]))) --n;
  return text.substr(0, n);
}

}  // namespace zlt::proto
