#include "cli/serve_loop.hpp"

#include <signal.h>

#include <algorithm>
#include <thread>

namespace zlt::cli {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

ServeEnd serve(SignalWaiter& signals, const ServePlan& plan, const std::function<void()>& on_status,
               const std::function<bool()>& finished, const std::function<void()>& on_reload) {
  const auto start = Clock::now();
  const bool report = plan.status_interval.count() > 0;
  auto next_status = start + plan.status_interval;
  for (;;) {
    const auto now = Clock::now();
    auto until = Clock::time_point::max();
    if (plan.duration) {
      const auto deadline = start + *plan.duration;
      if (now >= deadline) return ServeEnd::deadline;
      until = deadline;
    }
    if (report) {
      if (now >= next_status) {
        on_status();
        // Skipped ticks (a suspended machine) are not made up for.
        while (next_status <= Clock::now()) next_status += plan.status_interval;
      }
      until = std::min(until, next_status);
    }
    // Waking at least once a minute costs nothing and bounds the effect of clock oddities.
    auto wait = milliseconds(60'000);
    if (until != Clock::time_point::max()) {
      wait = std::chrono::duration_cast<milliseconds>(until - Clock::now()) + milliseconds(1);
      wait = std::clamp(wait, milliseconds(0), milliseconds(60'000));
    }
    const int sig = signals.wait(wait);
    if (sig == SIGHUP && on_reload) {
      on_reload();
      continue;
    }
    if (sig > 0) return ServeEnd::signal;
    if (sig == SignalWaiter::kWoken && finished()) return ServeEnd::finished;
  }
}

bool wait_until(config::Duration limit, const std::function<bool()>& done) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

}  // namespace zlt::cli
