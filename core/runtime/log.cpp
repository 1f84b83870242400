#include "core/runtime/log.hpp"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace zlt {

std::atomic<int> Log::level_{static_cast<int>(LogLevel::info)};

namespace {

// Output state is shared by every thread that logs (the loop threads of several runtimes and
// host threads), so it is the one place in core guarded by a mutex.
struct Output {
  std::mutex mu;
  LogFormat format = LogFormat::text;
  LogSink sink;
};

Output& output() {
  static Output o;
  return o;
}

std::string timestamp_utc() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

void append_text_value(std::string& out, const nlohmann::json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s.find_first_of(" \"=") == std::string::npos && !s.empty()) {
      out += s;
      return;
    }
  }
  out += v.dump();
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
  static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
      {"trace", LogLevel::trace}, {"debug", LogLevel::debug}, {"info", LogLevel::info},
      {"warn", LogLevel::warn},   {"warning", LogLevel::warn}, {"error", LogLevel::error},
      {"off", LogLevel::off}};
  for (const auto& [n, l] : kNames)
    if (n == name) return l;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "?";
}

void Log::set_format(LogFormat format) {
  std::lock_guard lock(output().mu);
  output().format = format;
}

void Log::set_sink(LogSink sink) {
  std::lock_guard lock(output().mu);
  output().sink = std::move(sink);
}

std::string Log::format(const LogRecord& r, LogFormat format) {
  if (format == LogFormat::json) {
    nlohmann::json line = nlohmann::json::object();
    line["ts"] = timestamp_utc();
    line["level"] = log_level_name(r.level);
    line["component"] = r.component;
    if (!r.message.empty()) line["msg"] = r.message;
    for (const auto& [k, v] : r.fields.items()) line[k] = v;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string out = timestamp_utc();
  out += ' ';
  std::string level(log_level_name(r.level));
  for (auto& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  level.resize(5, ' ');
  out += level;
  out += ' ';
  out += r.component;
  out += ": ";
  out += r.message;
  for (const auto& [k, v] : r.fields.items()) {
    out += ' ';
    out += k;
    out += '=';
    append_text_value(out, v);
  }
  return out;
}

void Log::write(LogLevel level, std::string_view component, std::string_view message,
                const nlohmann::json& fields) {
  if (!enabled(level)) return;
  LogRecord record{level, component, message, fields};
  // A host sink that logs (or calls into the library, which logs) would otherwise deadlock
  // on the mutex below; such nested lines go to stderr instead.
  thread_local bool in_sink = false;
  Output& o = output();
  std::unique_lock lock(o.mu, std::defer_lock);
  if (!in_sink) lock.lock();
  if (o.sink && !in_sink) {
    struct Nesting {
      Nesting() { in_sink = true; }
      ~Nesting() { in_sink = false; }
    } nesting;
    o.sink(record);
    return;
  }
  std::string line = format(record, o.format);
  line += '\n';
  // One write(2) per line keeps lines whole even when several processes share stderr.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace zlt
