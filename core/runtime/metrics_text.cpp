#include "core/runtime/metrics_text.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

#include "core/protocol/message.hpp"

#ifndef ZLT_ABI_VERSION_STRING
#define ZLT_ABI_VERSION_STRING "0"
#endif

namespace zlt {
namespace {

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec == std::errc()) out.append(buf, end);
}

// Fields of /proc/self/stat after the command name (which may hold spaces): field 3 onwards.
std::vector<std::string> proc_stat_fields() {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> fields;
  const std::size_t close = all.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(all.substr(close + 1));
  std::string f;
  while (rest >> f) fields.push_back(f);
  return fields;
}

std::optional<double> boot_time_seconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      if (in >> t) return t;
      return std::nullopt;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return std::nullopt;
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void MetricsText::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += help;  // our own text: no backslashes or newlines
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type;
  out_ += '\n';
}

void MetricsText::labels(Labels labels) {
  if (labels.size() == 0) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += k;
    out_ += "=\"";
    out_ += escape_label_value(v);
    out_ += '"';
  }
  out_ += '}';
}

void MetricsText::sample(std::string_view name, Labels l, double value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  append_double(out_, value);
  out_ += '\n';
}

void MetricsText::sample(std::string_view name, Labels l, std::uint64_t value) {
  out_ += name;
  labels(l);
  out_ += ' ';
  out_ += std::to_string(value);
  out_ += '\n';
}

void MetricsText::gauge(std::string_view name, std::string_view help, double value) {
  family(name, "gauge", help);
  sample(name, {}, value);
}

void MetricsText::gauge(std::string_view name, std::string_view help, std::uint64_t value) {
  family(name, "gauge", help);
  sample(name, {}, value);
}

void MetricsText::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  family(name, "counter", help);
  sample(name, {}, value);
}

void MetricsText::counter(std::string_view name, std::string_view help, double value) {
  family(name, "counter", help);
  sample(name, {}, value);
}

void MetricsText::process_metrics() {
  family("zlt_build_info", "gauge",
         "Always 1; the labels name the library version, its ABI and the newest protocol.");
  sample("zlt_build_info",
         {{"version", ZLT_VERSION_STRING},
          {"abi", ZLT_ABI_VERSION_STRING},
          {"protocol", std::to_string(proto::kProtoVersion2)}},
         std::uint64_t{1});

  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", cpu);
  }
  const std::vector<std::string> stat = proc_stat_fields();
  const long page = sysconf(_SC_PAGESIZE);
  const long ticks = sysconf(_SC_CLK_TCK);
  // /proc/self/stat field 24 is rss (pages), field 22 starttime (ticks after boot); `stat`
  // starts at field 3.
  if (stat.size() > 21 && page > 0) {
    gauge("process_resident_memory_bytes", "Resident memory size, in bytes.",
          static_cast<std::uint64_t>(std::stoull(stat[21])) * static_cast<std::uint64_t>(page));
  }
  if (stat.size() > 19 && ticks > 0) {
    if (auto boot = boot_time_seconds())
      gauge("process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            *boot + static_cast<double>(std::stoull(stat[19])) / static_cast<double>(ticks));
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    std::uint64_t n = 0;
    while (dirent* e = readdir(dir))
      if (e->d_name[0] != '.') ++n;
    closedir(dir);
    gauge("process_open_fds", "Open file descriptors.", n > 0 ? n - 1 : n);  // less the DIR's
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    gauge("process_max_fds", "The limit on open file descriptors.",
          static_cast<std::uint64_t>(limit.rlim_cur));
}

}  // namespace zlt
