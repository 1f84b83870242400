#include "support/admin_client.hpp"

#include <cstdlib>

#include "support/tunnel_checks.hpp"

namespace zlt::test {

AdminReply admin_call(std::uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body, const std::optional<std::string>& token) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (token) req += "Authorization: Bearer " + *token + "\r\n";
  if (!body.empty() || method == "POST")
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n";
  req += "Connection: close\r\n\r\n" + body;
  AdminReply r;
  auto resp = http_exchange(port, req);
  if (!resp) return r;
  r.raw = *resp;
  if (resp->size() > 12) r.status = std::atoi(resp->substr(9, 3).c_str());
  if (auto split = resp->find("\r\n\r\n"); split != std::string::npos && split + 4 < resp->size())
    r.body = nlohmann::json::parse(resp->substr(split + 4), nullptr, false);
  return r;
}

}  // namespace zlt::test
