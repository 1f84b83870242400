// The metrics listener of a `zlt` role (--metrics, config metrics_listen): started on the loop
// next to the role, stopped before it.
#pragma once

#include <optional>
#include <string>

#include "zlt/config.hpp"
#include "zlt/error.hpp"
#include "zlt/metrics.hpp"
#include "zlt/runtime.hpp"

namespace zlt::cli {

// Loop-thread only (inside runtime.invoke). Nothing happens without `listen`.
Status start_metrics(Runtime& runtime, LoopOwned<MetricsListener>& out,
                     const std::optional<std::string>& listen,
                     const config::HttpListenerLimits& limits, MetricsSource source);

}  // namespace zlt::cli
