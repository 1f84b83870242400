// Reading config objects out of JSON with errors that name the field. Part of the config API:
// the server (token grants, the grants file) and the C ABI read their JSON objects with it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"

namespace zlt::config {

// One decoder per field type. `path` names the value in messages ("services[1].local_port").
Status decode(const nlohmann::json& v, const std::string& path, bool& out);
Status decode(const nlohmann::json& v, const std::string& path, std::string& out);
Status decode(const nlohmann::json& v, const std::string& path, std::uint16_t& out);
Status decode(const nlohmann::json& v, const std::string& path, std::size_t& out);
Status decode(const nlohmann::json& v, const std::string& path, Duration& out);
Status decode(const nlohmann::json& v, const std::string& path, RoutingMode& out);
Status decode(const nlohmann::json& v, const std::string& path, ExposeType& out);
Status decode(const nlohmann::json& v, const std::string& path, ProxyProtocol& out);
Status decode(const nlohmann::json& v, const std::string& path, proto::ServiceProtocol& out);
Status decode(const nlohmann::json& v, const std::string& path, PortRange& out);
Status decode(const nlohmann::json& v, const std::string& path, std::vector<std::string>& out);

// null means "not set", as an absent key does.
template <class T>
Status decode(const nlohmann::json& v, const std::string& path, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return {};
  }
  T value{};
  ZLT_TRY(decode(v, path, value));
  out = std::move(value);
  return {};
}

Error type_error(const std::string& path, std::string_view expected);
// "name[3]"
std::string index_path(const std::string& path, std::size_t i);
// "path: message", or just the message at the top level.
std::string at(std::string_view path, std::string_view message);

// Walks one JSON object. Every key asked for is remembered, so finish() can reject the rest.
// Opened with an ErrorList, a reader records each error there and reports success, so the
// reading goes on past it (the field keeps its default); without one, errors are returned.
class ObjectReader {
 public:
  static Result<ObjectReader> open(const nlohmann::json& j, std::string path,
                                   ErrorList* errors = nullptr);

  // Leaves `out` (its default) alone when the key is absent.
  template <class T>
  Status optional(std::string_view key, T& out) {
    const nlohmann::json* v = find(key);
    return v ? keep(decode(*v, path_of(key), out)) : Status{};
  }
  template <class T>
  Status required(std::string_view key, T& out) {
    const nlohmann::json* v = find(key);
    if (!v)
      return keep(
          make_error(Errc::config, at_path("missing required key '" + std::string(key) + "'")));
    return keep(decode(*v, path_of(key), out));
  }
  // `s` as is, or success once its error is recorded when the reader collects errors.
  Status keep(Status s) const {
    if (s || errors_ == nullptr) return s;
    errors_->add(s.take_error());
    return {};
  }
  // Where this reader records errors (nullptr: it returns them); nested readers share it.
  ErrorList* errors() const { return errors_; }
  // The raw value of a key (remembered like the others), or null when absent.
  const nlohmann::json* find(std::string_view key);

  // "unknown key 'x'" for the first key never asked for (each one, when collecting).
  Status finish() const;

  std::string path_of(std::string_view key) const;
  std::string at_path(std::string_view message) const;

 private:
  ObjectReader(const nlohmann::json& j, std::string path, ErrorList* errors)
      : json_(&j), path_(std::move(path)), errors_(errors) {}

  const nlohmann::json* json_;  // not owned; outlives the reader
  std::string path_;
  ErrorList* errors_;  // not owned; outlives the reader
  std::vector<std::string> known_;
};

namespace detail {

// A service object found at `path` (also used for the client's "services" list).
Result<ServiceConfig> service_config_at(const nlohmann::json& j, const std::string& path,
                                        ErrorList* errors = nullptr);

}  // namespace detail
}  // namespace zlt::config
