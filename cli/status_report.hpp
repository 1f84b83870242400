// The periodic one-line status of `zlt server` and `zlt agent`, computed from the objects'
// status() snapshots.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace zlt::cli {

// Throughput between two snapshots of byte counters.
class TrafficMeter {
 public:
  struct Rates {
    double in = 0;  // bytes per second
    double out = 0;
  };
  // Counters start at zero, so the first update measures from construction.
  Rates update(std::uint64_t bytes_in, std::uint64_t bytes_out);

 private:
  std::chrono::steady_clock::time_point last_time_ = std::chrono::steady_clock::now();
  std::uint64_t last_in_ = 0;
  std::uint64_t last_out_ = 0;
};

// "532 B", "1.4 KiB", "3.0 MiB".
std::string format_bytes(std::uint64_t bytes);
std::string format_rate(double bytes_per_second);

// Log one status line (info) from TunnelServer::status() / TunnelAgent::status(). The numbers
// also go out as fields when `with_fields` (JSON logs, where they are machine-read); in text
// logs the sentence already says everything.
void log_server_status(const nlohmann::json& status, TrafficMeter& meter, bool with_fields);
void log_agent_status(const nlohmann::json& status, TrafficMeter& meter, bool with_fields);

// The counters of a status snapshot's "traffic" object (zeros when absent, e.g. an agent that
// is not connected).
struct Traffic {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t streams_active = 0;
  std::uint64_t streams_total = 0;
};
Traffic traffic_of(const nlohmann::json& status);

}  // namespace zlt::cli
