// Wall-clock times as RFC 3339 text, the form status and access reports share.
#pragma once

#include <chrono>
#include <string>

namespace zlt {

// "2025-06-01T12:00:02Z": UTC, whole seconds (truncated, so a reported expiry is never later
// than the real one).
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace zlt
