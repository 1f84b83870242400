// Wall-clock times as RFC 3339 text, the form status and access reports share.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace zlt {

// "2025-06-01T12:00:02Z": UTC, whole seconds (truncated, so a reported expiry is never later
// than the real one).
std::string format_rfc3339(std::chrono::system_clock::time_point t);
// "2025-06-01T12:00:02.345Z": the same with milliseconds (truncated), as log lines carry it.
std::string format_rfc3339_millis(std::chrono::system_clock::time_point t);
// The inverse for the UTC form above ("...Z"); nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

}  // namespace zlt
