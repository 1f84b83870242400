// libFuzzer target for the JSON readers of configuration and of what peers and hosts send as
// JSON: server, agent (client), node, node tunnel and access configurations, admin API grant
// requests, host token grants and the grants file. Every reader gets every input (a valid
// config of one kind is a near miss for the others). Invariants: a reader's error names what
// is wrong; whatever a reader accepts, to_json() writes back and the reader reads the same value
// again (for validated configs, the re-read config validates too); the collecting readers and
// validate_all() (`zlt check`) start with the error the plain reader and validate() return.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/config/json_text.hpp"
#include "core/runtime/log.hpp"
#include "core/server/grants.hpp"
#include "core/server/token_auth.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zlt::fuzz::check;
namespace config = zlt::config;

template <class T>
void check_error(const zlt::Result<T>& r, std::string_view reader) {
  if (!r) check(!r.error().message.empty(), "error without a message", reader);
}

// from_json(to_json(c)) == c, and validate() agrees.
template <class Config, class FromJson>
void check_round_trip(const Config& c, FromJson from_json, std::string_view reader,
                      bool validated) {
  const nlohmann::json written = config::to_json(c);
  auto again = from_json(written);
  check(again.ok(), "to_json() output is not read back", reader);
  check(*again == c, "to_json() output reads back to another config", reader);
  if constexpr (requires { c.validate(); })
    if (validated) check(again->validate().ok(), "re-read config does not validate", reader);
}

// The collecting reader agrees with the plain one: the same first error, or no error and the
// same config; and validate_all() starts with validate()'s error.
template <class Config>
void check_collecting(const nlohmann::json& j, zlt::Result<Config> (*plain)(const nlohmann::json&),
                      zlt::Result<Config> (*collect)(const nlohmann::json&, config::ErrorList&),
                      std::string_view reader) {
  config::ErrorList errors;
  auto all = collect(j, errors);
  auto first = plain(j);
  if (!first) {
    const std::string got = !errors.empty() ? errors.errors().front().message
                            : all           ? std::string()
                                            : all.error().message;
    check(got == first.error().message, "collecting reader starts with another error", reader);
    return;
  }
  check(all.ok() && errors.empty(), "collecting reader finds errors the plain one does not",
        reader);
  if (all) check(*all == *first, "collecting reader reads another config", reader);
  config::ErrorList rules;
  first->validate_all(rules);
  const zlt::Status valid = first->validate();
  check(valid.ok() == rules.empty(), "validate_all() and validate() disagree", reader);
  if (!valid)
    check(rules.errors().front().message == valid.error().message,
          "validate_all() starts with another error", reader);
}

// The grants file is read from disk; one file per process keeps parallel fuzzers apart.
const std::string& grants_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/zlt-fuzz-grants-" +
           std::to_string(::getpid()) + ".json";
  }();
  return path;
}

void check_grants_file(std::string_view text) {
  {
    std::ofstream out(grants_path(), std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  zlt::GrantStore store(std::chrono::hours(24));
  auto st = store.load(grants_path());
  check(st.ok() || !st.error().message.empty(), "grants file error without a message");
  if (!st) return;
  for (const auto& g : store.list()) {
    check(store.find_by_token_hash(g.token_hash) != nullptr, "a loaded grant is not found");
    (void)g.to_json().dump();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  zlt::Log::set_level(zlt::LogLevel::off);
  std::atexit([] { std::remove(grants_path().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto server = config::parse_server_config(text);
  check_error(server, "server");
  if (server) check_round_trip(*server, config::server_config_from_json, "server", true);

  auto client = config::parse_client_config(text);
  check_error(client, "client");
  if (client) check_round_trip(*client, config::client_config_from_json, "client", true);

  auto node = config::parse_node_config(text);
  check_error(node, "node");
  if (node) check_round_trip(*node, config::node_config_from_json, "node", true);

  auto grant_request = zlt::grant_request_from_json(text);
  check_error(grant_request, "grant request");
  if (grant_request) check(!grant_request->targets.empty(), "grant request without targets");

  auto token_grant = zlt::token_grant_from_json(text);
  check_error(token_grant, "token grant");

  check_grants_file(text);

  // The node tunnel and access readers take parsed JSON (the C ABI parses it first).
  auto json = config::parse_json_text(text);
  if (!json) return 0;
  check_collecting(*json, config::server_config_from_json, config::collect_server_config, "server");
  check_collecting(*json, config::client_config_from_json, config::collect_client_config, "client");
  check_collecting(*json, config::node_config_from_json, config::collect_node_config, "node");
  auto tunnel = config::node_tunnel_from_json(*json);
  check_error(tunnel, "node tunnel");
  if (tunnel) check_round_trip(*tunnel, config::node_tunnel_from_json, "node tunnel", false);
  auto access = config::access_config_from_json(*json);
  check_error(access, "access");
  if (access) check_round_trip(*access, config::access_config_from_json, "access", false);
  auto service = config::service_config_from_json(*json);
  check_error(service, "service");
  if (service) check_round_trip(*service, config::service_config_from_json, "service", false);
  return 0;
}
