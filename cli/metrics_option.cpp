#include "cli/metrics_option.hpp"

namespace zlt::cli {

Status start_metrics(Runtime& runtime, LoopOwned<MetricsListener>& out,
                     const std::optional<std::string>& listen,
                     const config::HttpListenerLimits& limits, MetricsSource source) {
  if (!listen) return {};
  auto started = MetricsListener::start(runtime, *listen, limits, std::move(source));
  if (!started) return started.take_error();
  out.set(std::move(*started));
  return {};
}

}  // namespace zlt::cli
