// The main thread's life while a server or agent runs: wait for a stop signal, a deadline or
// the object giving up, and write a status line at a fixed interval meanwhile.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "cli/signals.hpp"
#include "zlt/config.hpp"

namespace zlt::cli {

struct ServePlan {
  config::Duration status_interval{0};       // 0: no status lines
  std::optional<config::Duration> duration;  // none: until a signal
};

enum class ServeEnd { signal, deadline, finished };

// `on_status` runs every status_interval; `finished` is asked after every wake() and says
// whether the served object has ended on its own; `on_reload` (if any) runs on SIGHUP, which
// the waiter must collect (SignalWaiter(true)).
ServeEnd serve(SignalWaiter& signals, const ServePlan& plan, const std::function<void()>& on_status,
               const std::function<bool()>& finished, const std::function<void()>& on_reload = {});

// Polls `done` until it holds or `limit` passes (for bounded waits during shutdown).
bool wait_until(config::Duration limit, const std::function<bool()>& done);

}  // namespace zlt::cli
