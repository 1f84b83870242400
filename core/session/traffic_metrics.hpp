// The Prometheus families every role writes per labelled row of Counters (a server's services,
// an agent's services, an access manager's targets): streams open, streams opened, and payload
// bytes in each direction. One writer, so the three roles name and shape them alike.
#pragma once

#include <span>
#include <string_view>

#include "core/runtime/metrics_text.hpp"
#include "core/session/counters.hpp"

namespace zlt {

struct TrafficFamilies {
  std::string_view role;     // "zlt_server": the families are <role>_<streams>_active, ...
  std::string_view streams;  // what a stream is called here: "streams", "connections"
  std::string_view label;    // the row's label name: "service", "target"
  std::string_view active_help;
  std::string_view total_help;
  std::string_view bytes_help;  // says what "in" and "out" mean for this role
};

struct TrafficRow {
  std::string_view name;  // the label value
  const Counters& counters;
};

// <role>_<streams>_active (gauge), <role>_<streams>_total and <role>_bytes_total{direction}
// (counters), one sample per row and in the rows' order.
void write_traffic(MetricsText& out, const TrafficFamilies& families,
                   std::span<const TrafficRow> rows);

}  // namespace zlt
