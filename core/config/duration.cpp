#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "core/config/config.hpp"
#include "core/config/text.hpp"

namespace zlt::config {
namespace {

constexpr std::int64_t kMaxMillis = std::numeric_limits<Duration::rep>::max();

Error number_error(std::string_view number) {
  return make_error(Errc::config, "invalid duration number: " + std::string(number));
}

// The original parsed the number part with Rust's u64 parser after trimming it; a sign is not
// accepted here (the original took "+5s").
Result<Duration> scaled(std::string_view number, std::int64_t millis_per_unit,
                        std::string_view whole) {
  std::string_view digits = trim(number);
  if (digits.empty() || !all_digits(digits)) return number_error(number);
  std::optional<std::uint64_t> n = parse_decimal(digits);
  if (!n || *n > static_cast<std::uint64_t>(kMaxMillis / millis_per_unit))
    return make_error(Errc::config, "duration out of range: " + std::string(whole));
  return Duration(static_cast<std::int64_t>(*n) * millis_per_unit);
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  if (!s.empty() && all_digits(s)) return scaled(s, 1000, s);
  // "ms" before "s" and "m", which are its suffix and its prefix.
  struct Unit {
    std::string_view suffix;
    std::int64_t millis;
  };
  static constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  for (const Unit& unit : kUnits) {
    if (s.ends_with(unit.suffix))
      return scaled(s.substr(0, s.size() - unit.suffix.size()), unit.millis, s);
  }
  return make_error(Errc::config, "invalid duration format: " + std::string(s));
}

std::string format_duration(Duration d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace zlt::config
