#include "core/common/rfc3339.hpp"

#include <cstdio>
#include <ctime>

namespace zlt {

namespace {

std::tm utc_fields(std::chrono::system_clock::time_point t) {
  const std::time_t secs =
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

}  // namespace

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  const std::tm tm = utc_fields(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_rfc3339_millis(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::tm tm = utc_fields(system_clock::time_point(seconds(ms / 1000)));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char z = 0;
  int used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &y, &mo, &d, &h, &mi, &s, &z,
                  &used) != 7 ||
      z != 'Z' || static_cast<std::size_t>(used) != text.size())
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  // Years the clock cannot hold (past 2262 with nanosecond ticks) would overflow in
  // from_time_t: such a time is refused, not wrapped around.
  using std::chrono::seconds;
  using std::chrono::system_clock;
  constexpr auto kMax = std::chrono::duration_cast<seconds>(system_clock::duration::max()).count();
  constexpr auto kMin = std::chrono::duration_cast<seconds>(system_clock::duration::min()).count();
  const std::time_t secs = timegm(&tm);
  if (secs > kMax || secs < kMin) return std::nullopt;
  return system_clock::from_time_t(secs);
}

}  // namespace zlt
