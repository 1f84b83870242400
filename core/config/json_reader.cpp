#include "core/config/json_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/config/text.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

constexpr std::string_view kDurationExpected =
    "expected a duration (\"500ms\", \"30s\", \"2m\", \"1h\") or a whole number of seconds";

// Non-negative JSON integers only: floats such as 22.0 and negative numbers are rejected.
std::optional<std::uint64_t> as_unsigned(const json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  return std::nullopt;
}

template <class Enum, class Parse>
Status decode_name(const json& v, const std::string& path, Enum& out, Parse parse,
                   std::string_view expected) {
  if (!v.is_string()) return type_error(path, expected);
  auto parsed = parse(v.get_ref<const std::string&>());
  if (!parsed) return type_error(path, expected);
  out = *parsed;
  return {};
}

std::optional<proto::ServiceProtocol> parse_service_protocol(std::string_view text) {
  for (auto p : {proto::ServiceProtocol::tcp, proto::ServiceProtocol::udp})
    if (text == proto::service_protocol_name(p)) return p;
  return std::nullopt;
}

}  // namespace

Error type_error(const std::string& path, std::string_view expected) {
  return make_error(Errc::config, at(path, expected));
}

std::string at(std::string_view path, std::string_view message) {
  if (path.empty()) return std::string(message);
  std::string out(path);
  out.append(": ").append(message);
  return out;
}

std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

Status decode(const json& v, const std::string& path, bool& out) {
  if (!v.is_boolean()) return type_error(path, "expected a boolean");
  out = v.get<bool>();
  return {};
}

Status decode(const json& v, const std::string& path, std::string& out) {
  if (!v.is_string()) return type_error(path, "expected a string");
  out = v.get<std::string>();
  return {};
}

Status decode(const json& v, const std::string& path, std::uint16_t& out) {
  std::optional<std::uint64_t> n = as_unsigned(v);
  if (!n || *n > 65535) return type_error(path, "expected an integer 0..65535");
  out = static_cast<std::uint16_t>(*n);
  return {};
}

Status decode(const json& v, const std::string& path, std::size_t& out) {
  std::optional<std::uint64_t> n = as_unsigned(v);
  if (!n || *n > std::numeric_limits<std::size_t>::max())
    return type_error(path, "expected a non-negative integer");
  out = static_cast<std::size_t>(*n);
  return {};
}

Status decode(const json& v, const std::string& path, Duration& out) {
  if (v.is_string()) {
    Result<Duration> d = parse_duration(v.get_ref<const std::string&>());
    if (!d) return make_error(Errc::config, at(path, d.error().message));
    out = *d;
    return {};
  }
  std::optional<std::uint64_t> seconds = as_unsigned(v);
  if (!seconds) return type_error(path, kDurationExpected);
  constexpr auto kMaxSeconds = static_cast<std::uint64_t>(Duration::max().count() / 1000);
  if (*seconds > kMaxSeconds)
    return make_error(Errc::config,
                      at(path, "duration out of range: " + std::to_string(*seconds) + "s"));
  out = std::chrono::seconds(static_cast<std::int64_t>(*seconds));
  return {};
}

Status decode(const json& v, const std::string& path, RoutingMode& out) {
  auto parse = [](std::string_view s) -> std::optional<RoutingMode> {
    Result<RoutingMode> m = parse_routing_mode(s);
    return m ? std::optional(*m) : std::nullopt;
  };
  return decode_name(v, path, out, parse,
                     "expected \"preferoverlay\", \"overlayonly\" or \"directonly\"");
}

Status decode(const json& v, const std::string& path, ExposeType& out) {
  auto parse = [](std::string_view s) -> std::optional<ExposeType> {
    Result<ExposeType> e = parse_expose_type(s);
    return e ? std::optional(*e) : std::nullopt;
  };
  return decode_name(v, path, out, parse, "expected \"internal\" or \"public\"");
}

Status decode(const json& v, const std::string& path, ProxyProtocol& out) {
  auto parse = [](std::string_view s) -> std::optional<ProxyProtocol> {
    Result<ProxyProtocol> p = parse_proxy_protocol(s);
    return p ? std::optional(*p) : std::nullopt;
  };
  return decode_name(v, path, out, parse, "expected \"v1\" or \"v2\"");
}

Status decode(const json& v, const std::string& path, proto::ServiceProtocol& out) {
  return decode_name(v, path, out, parse_service_protocol, "expected \"tcp\" or \"udp\"");
}

Status decode(const json& v, const std::string& path, PortRange& out) {
  constexpr std::string_view kExpected = "expected [start, end] with ports 0..65535";
  if (!v.is_array() || v.size() != 2) return type_error(path, kExpected);
  PortRange range;
  if (!decode(v[0], path, range.start) || !decode(v[1], path, range.end))
    return type_error(path, kExpected);
  out = range;
  return {};
}

Status decode(const json& v, const std::string& path, std::vector<std::string>& out) {
  if (!v.is_array()) return type_error(path, "expected an array of strings");
  std::vector<std::string> items;
  items.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::string item;
    ZLT_TRY(decode(v[i], index_path(path, i), item));
    items.push_back(std::move(item));
  }
  out = std::move(items);
  return {};
}

Result<ObjectReader> ObjectReader::open(const json& j, std::string path, ErrorList* errors) {
  if (!j.is_object()) return type_error(path, "expected an object");
  return ObjectReader(j, std::move(path), errors);
}

const json* ObjectReader::find(std::string_view key) {
  known_.emplace_back(key);
  auto it = json_->find(key);
  return it == json_->end() ? nullptr : &*it;
}

Status ObjectReader::finish() const {
  for (const auto& [key, value] : json_->items()) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end())
      ZLT_TRY(keep(make_error(Errc::config, at_path("unknown key '" + key + "'"))));
  }
  return {};
}

std::string ObjectReader::path_of(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string out = path_;
  out.append(".").append(key);
  return out;
}

std::string ObjectReader::at_path(std::string_view message) const {
  return at(path_, message);
}

}  // namespace zlt::config
