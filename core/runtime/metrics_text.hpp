// The Prometheus text exposition format (version 0.0.4), written by one renderer for every
// role's /metrics and zlt_*_metrics: families with their # HELP and # TYPE lines, samples with
// escaped label values, and the metrics every process has (zlt_build_info, process_*).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace zlt {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Whether a role is ready for traffic, and if not, a one-line reason naming what is missing
// ("agent: not connected (retrying in 2s)").
struct Readiness {
  bool ready = false;
  std::string reason;
};

class MetricsText {
 public:
  using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

  // Starts a family: its # HELP and # TYPE lines ("counter", "gauge"). Each family once, its
  // samples right after it.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, double value);
  void sample(std::string_view name, Labels labels, std::uint64_t value);
  // A family of one unlabelled sample.
  void gauge(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, std::uint64_t value);
  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  void counter(std::string_view name, std::string_view help, double value);

  // zlt_build_info{version,abi,protocol} and the process_* metrics (resident memory, open
  // and maximum file descriptors, CPU seconds, start time), read from the kernel now.
  void process_metrics();

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void labels(Labels labels);
  std::string out_;
};

// A label value with \, " and newline escaped, as the format requires.
std::string escape_label_value(std::string_view value);

}  // namespace zlt
