#include "core/server/auth_throttle.hpp"

#include <algorithm>

namespace zlt {

AuthFailureThrottle::Verdict AuthFailureThrottle::failed(const std::string& source,
                                                         std::uint64_t now_ms) {
  using std::chrono::milliseconds;
  auto it = by_source_.find(source);
  if (it == by_source_.end()) {
    if (by_source_.size() >= std::max<std::size_t>(options_.max_sources, 1)) {
      by_source_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(source);
    it = by_source_.emplace(source, Record{0, now_ms, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.in_lru);
  }
  Record& r = it->second;
  const auto forgive =
      static_cast<std::uint64_t>(std::max<std::int64_t>(options_.forgive_every.count(), 1));
  const std::uint64_t forgiven = (now_ms - std::min(now_ms, r.last_ms)) / forgive;
  r.failures = r.failures > forgiven ? r.failures - forgiven : 0;
  r.last_ms = now_ms;
  ++r.failures;
  Verdict verdict;
  verdict.log = r.failures == 1 ? std::optional<std::uint64_t>(0) : log_throttle_.allow(now_ms);
  // With no delay configured the table still runs: it decides what is logged.
  if (options_.max_delay.count() <= 0 || r.failures <= options_.free_failures) return verdict;
  const std::uint64_t doublings =
      std::min<std::uint64_t>(r.failures - options_.free_failures - 1, 30);
  const auto delay = static_cast<std::int64_t>(options_.first_delay.count()) << doublings;
  verdict.delay = std::min(milliseconds(delay), options_.max_delay);
  return verdict;
}

}  // namespace zlt
