// ASCII character classes and case folding for protocol text (HTTP headers, URL schemes, host
// names, hex digests). Unlike <cctype> they ignore the locale and are defined for every char,
// negative ones included: bytes from the network are never passed to std::tolower.
#pragma once

#include <string>
#include <string_view>

namespace zlt {

constexpr bool ascii_is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool ascii_is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool ascii_is_alnum(char c) {
  return ascii_is_digit(c) || ascii_is_alpha(c);
}

// Only 'A'..'Z' and 'a'..'z' change; every other byte, UTF-8 ones included, stays as it is.
constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr char ascii_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string to_ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline std::string to_ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_upper(c);
  return out;
}

// Equal when folded to ASCII lower case (header names, schemes, host names).
constexpr bool iequals_ascii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace zlt
