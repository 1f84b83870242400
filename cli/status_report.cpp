#include "cli/status_report.hpp"

#include <cstdio>

#include "zlt/log.hpp"

namespace zlt::cli {
namespace {

std::uint64_t counter(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string plural(std::uint64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string traffic_text(const Traffic& t, const TrafficMeter::Rates& r) {
  return plural(t.streams_active, "active stream") + " (" + std::to_string(t.streams_total) +
         " total), in " + format_bytes(t.bytes_in) + " (" + format_rate(r.in) + "), out " +
         format_bytes(t.bytes_out) + " (" + format_rate(r.out) + ")";
}

nlohmann::json traffic_fields(const Traffic& t, const TrafficMeter::Rates& r) {
  return {{"streams_active", t.streams_active},
          {"streams_total", t.streams_total},
          {"bytes_in", t.bytes_in},
          {"bytes_out", t.bytes_out},
          {"rate_in", static_cast<std::uint64_t>(r.in)},
          {"rate_out", static_cast<std::uint64_t>(r.out)}};
}

}  // namespace

TrafficMeter::Rates TrafficMeter::update(std::uint64_t bytes_in, std::uint64_t bytes_out) {
  const auto now = std::chrono::steady_clock::now();
  Rates rates;
  const double seconds = std::chrono::duration<double>(now - last_time_).count();
  // Totals cover live sessions only and shrink when one ends (or an agent reconnects): count
  // that as no traffic rather than as a negative rate.
  auto delta = [](std::uint64_t now_value, std::uint64_t before) {
    return now_value >= before ? static_cast<double>(now_value - before) : 0.0;
  };
  if (seconds > 0) {
    rates.in = delta(bytes_in, last_in_) / seconds;
    rates.out = delta(bytes_out, last_out_) / seconds;
  }
  last_time_ = now;
  last_in_ = bytes_in;
  last_out_ = bytes_out;
  return rates;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  const char* unit = "B";
  for (const char* u : kUnits) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, unit);
  return text;
}

std::string format_rate(double bytes_per_second) {
  return format_bytes(static_cast<std::uint64_t>(bytes_per_second)) + "/s";
}

Traffic traffic_of(const nlohmann::json& status) {
  Traffic t;
  auto it = status.find("traffic");
  if (it == status.end() || !it->is_object()) return t;
  t.bytes_in = counter(*it, "bytes_in");
  t.bytes_out = counter(*it, "bytes_out");
  t.streams_active = counter(*it, "streams_active");
  t.streams_total = counter(*it, "streams_total");
  return t;
}

void log_server_status(const nlohmann::json& status, TrafficMeter& meter, bool with_fields) {
  if (!Log::enabled(LogLevel::info)) return;
  const Traffic t = traffic_of(status);
  const TrafficMeter::Rates r = meter.update(t.bytes_in, t.bytes_out);
  const std::uint64_t tunnels = counter(status, "tunnel_count");
  const std::uint64_t services = counter(status, "service_count");
  nlohmann::json fields = nlohmann::json::object();
  if (with_fields) {
    fields = traffic_fields(t, r);
    fields["tunnels"] = tunnels;
    fields["services"] = services;
  }
  Log::write(LogLevel::info, "server",
             "status: " + plural(tunnels, "tunnel") + ", " + plural(services, "service") + ", " +
                 traffic_text(t, r),
             fields);
}

void log_agent_status(const nlohmann::json& status, TrafficMeter& meter, bool with_fields) {
  if (!Log::enabled(LogLevel::info)) return;
  const Traffic t = traffic_of(status);
  const TrafficMeter::Rates r = meter.update(t.bytes_in, t.bytes_out);
  std::uint64_t registered = 0;
  std::uint64_t total = 0;
  if (auto it = status.find("services"); it != status.end() && it->is_array()) {
    for (const auto& s : *it) {
      ++total;
      if (s.value("status", "") == "registered") ++registered;
    }
  }
  const std::string state = status.value("state", "unknown");
  nlohmann::json fields = nlohmann::json::object();
  if (with_fields) {
    fields = traffic_fields(t, r);
    fields["state"] = state;
    fields["services_registered"] = registered;
    fields["services"] = total;
  }
  Log::write(LogLevel::info, "agent",
             "status: " + state + ", " + std::to_string(registered) + "/" + std::to_string(total) +
                 " services registered, " + traffic_text(t, r),
             fields);
}

}  // namespace zlt::cli
