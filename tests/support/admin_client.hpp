// One request to a server's admin API over a fresh connection, for the tests that drive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace zlt::test {

struct AdminReply {
  int status = 0;       // 0: no answer
  nlohmann::json body;  // discarded when the body is not JSON
  std::string raw;      // the whole response
};

// `token` nullopt sends no Authorization header.
AdminReply admin_call(std::uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body, const std::optional<std::string>& token);

}  // namespace zlt::test
