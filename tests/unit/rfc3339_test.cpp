// The millisecond form of RFC 3339 times that log lines carry (the whole-second form and the
// parser are tested with the grants that store them, in access_rules_test.cpp).
#include <gtest/gtest.h>

#include "core/common/rfc3339.hpp"

namespace zlt {
namespace {

using namespace std::chrono_literals;
using WallClock = std::chrono::system_clock;

TEST(Rfc3339Test, FormatsMillisecondsTruncated) {
  const auto t = WallClock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z
  EXPECT_EQ(format_rfc3339_millis(t), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339_millis(t + 7ms), "2026-01-01T00:00:00.007Z");
  EXPECT_EQ(format_rfc3339_millis(t + 1999999us), "2026-01-01T00:00:01.999Z");
  EXPECT_EQ(format_rfc3339_millis(t + 86399s + 999ms), "2026-01-01T23:59:59.999Z");
}

TEST(Rfc3339Test, BothFormsAgreeOnTheSecond) {
  const auto t = WallClock::from_time_t(1767225600) + 12h + 34min + 56s + 789ms;
  EXPECT_EQ(format_rfc3339(t), "2026-01-01T12:34:56Z");
  EXPECT_EQ(format_rfc3339_millis(t), "2026-01-01T12:34:56.789Z");
}

}  // namespace
}  // namespace zlt
