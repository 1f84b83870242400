#include "core/runtime/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <span>

#include "core/common/ascii.hpp"
#include "core/common/json_dump.hpp"
#include "core/common/rfc3339.hpp"
#include "core/protocol/utf8.hpp"

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

// Text lines must stay one event per line whatever a peer put into a message or a value:
// control characters become \n, \r, \t or \xNN, and bytes that are not UTF-8 become \xNN.
// Inside a quoted value the quote and the backslash are escaped too, so the value reads back.
void append_escaped_byte(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

void append_escaped_char(std::string& out, char c, bool quoted) {
  const auto u = static_cast<unsigned char>(c);
  if (c == '\n') {
    out += "\\n";
  } else if (c == '\r') {
    out += "\\r";
  } else if (c == '\t') {
    out += "\\t";
  } else if (u < 0x20 || u == 0x7f) {
    append_escaped_byte(out, u);
  } else if (quoted && (c == '"' || c == '\\')) {
    out += '\\';
    out += c;
  } else {
    out += c;
  }
}

void append_escaped(std::string& out, std::string_view text, bool quoted) {
  while (!text.empty()) {
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    const auto error = proto::validate_utf8(bytes);
    const std::size_t valid = error ? error->valid_up_to : text.size();
    for (char c : text.substr(0, valid)) append_escaped_char(out, c, quoted);
    if (!error) return;
    const std::size_t bad = error->error_len.value_or(text.size() - valid);
    for (char c : text.substr(valid, bad)) append_escaped_byte(out, static_cast<unsigned char>(c));
    text.remove_prefix(valid + bad);
  }
}

void append_text_value(std::string& out, const nlohmann::json& v) {
  if (!v.is_string()) {
    append_escaped(out, dump_json(v), false);
    return;
  }
  const auto& s = v.get_ref<const std::string&>();
  const bool quoted = s.empty() || s.find_first_of(" \"=") != std::string::npos;
  if (quoted) out += '"';
  append_escaped(out, s, quoted);
  if (quoted) out += '"';
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
    line["ts"] = format_rfc3339_millis(std::chrono::system_clock::now());
    line["level"] = log_level_name(r.level);
    line["component"] = r.component;
    if (!r.message.empty()) line["msg"] = r.message;
    for (const auto& [k, v] : r.fields.items()) line[k] = v;
    return dump_json(line);
  }
  std::string out = format_rfc3339_millis(std::chrono::system_clock::now());
  out += ' ';
  std::string level = to_ascii_upper(log_level_name(r.level));
  level.resize(5, ' ');
  out += level;
  out += ' ';
  out += r.component;
  out += ": ";
  append_escaped(out, r.message, false);
  for (const auto& [k, v] : r.fields.items()) {
    out += ' ';
    append_escaped(out, k, false);
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
