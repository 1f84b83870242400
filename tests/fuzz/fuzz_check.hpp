// Invariant checks inside fuzz targets: a broken property aborts, which libFuzzer reports as a
// crash with the input saved, and the replay test reports as a failure.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace zlt::fuzz {

[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s%s%.*s\n", static_cast<int>(what.size()),
               what.data(), detail.empty() ? "" : ": ", static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

inline void check(bool ok, std::string_view what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

// The input split at its first newline: libFuzzer inputs that carry two strings.
inline void split_first_line(std::string_view input, std::string_view& first,
                             std::string_view& rest) {
  std::size_t nl = input.find('\n');
  first = input.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : input.substr(nl + 1);
}

}  // namespace zlt::fuzz
