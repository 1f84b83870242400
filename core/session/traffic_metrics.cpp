#include "core/session/traffic_metrics.hpp"

#include <string>

namespace zlt {

void write_traffic(MetricsText& out, const TrafficFamilies& f, std::span<const TrafficRow> rows) {
  const std::string active = std::string(f.role) + "_" + std::string(f.streams) + "_active";
  const std::string total = std::string(f.role) + "_" + std::string(f.streams) + "_total";
  const std::string bytes = std::string(f.role) + "_bytes_total";
  out.family(active, "gauge", f.active_help);
  for (const auto& r : rows) out.sample(active, {{f.label, r.name}}, r.counters.streams_active);
  out.family(total, "counter", f.total_help);
  for (const auto& r : rows) out.sample(total, {{f.label, r.name}}, r.counters.streams_total);
  out.family(bytes, "counter", f.bytes_help);
  for (const auto& r : rows) {
    out.sample(bytes, {{f.label, r.name}, {"direction", "in"}}, r.counters.bytes_in);
    out.sample(bytes, {{f.label, r.name}, {"direction", "out"}}, r.counters.bytes_out);
  }
}

}  // namespace zlt
