// libFuzzer target for the admin HTTP API's request handling: handle_admin_request() on a
// TunnelServer that is configured with an admin token but never listens. The input is
//   METHOD PATH[?QUERY]\n
//   AUTHORIZATION\n
//   BODY
// (the admin token is "admin-secret", so "Bearer admin-secret" passes). Invariants: no exception
// escapes (the server calls this inside a libwebsockets callback), every answer has a known
// status and a JSON body, errors say what is wrong, a request without the admin token changes
// nothing, and an issued grant is listed afterwards.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"
#include "core/runtime/runtime.hpp"
#include "core/server/admin_api.hpp"
#include "core/server/tunnel_server.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zlt::fuzz::check;

constexpr std::string_view kAdminToken = "admin-secret";
// Grants accumulate in the server; a fresh one keeps every input's cost and memory flat.
constexpr std::size_t kGrantsPerServer = 256;

// The runtime and one server on its loop; everything touching the server runs there.
class Fixture {
 public:
  Fixture() {
    auto rt = zlt::Runtime::start("fuzz-loop");
    check(rt.ok(), "cannot start the runtime");
    runtime_ = std::move(*rt);
    runtime_->invoke([this] { renew(); });
  }
  ~Fixture() {
    runtime_->invoke([this] { server_.reset(); });
    runtime_.reset();
  }

  zlt::HttpResponse handle(const zlt::HttpRequest& request, std::size_t& grants_before,
                           std::size_t& grants_after) {
    zlt::HttpResponse response;
    runtime_->invoke([&] {
      if (issued_ >= kGrantsPerServer) renew();
      grants_before = server_->list_grants().size();
      response = zlt::handle_admin_request(*server_, request);
      grants_after = server_->list_grants().size();
      if (response.status == 201) ++issued_;
    });
    return response;
  }

 private:
  void renew() {
    server_.reset();
    zlt::config::TunnelServerConfig config;
    config.admin_token_hash = zlt::crypto::hash_token(kAdminToken);
    auto server = zlt::TunnelServer::create(*runtime_, std::move(config));
    check(server.ok(), "cannot create the server",
          server.ok() ? std::string_view{} : server.error().message);
    server_ = std::move(*server);
    issued_ = 0;
  }

  std::unique_ptr<zlt::Runtime> runtime_;
  std::unique_ptr<zlt::TunnelServer> server_;
  std::size_t issued_ = 0;
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

zlt::HttpRequest parse_input(std::string_view input) {
  std::string_view request_line;
  std::string_view authorization;
  std::string_view body;
  zlt::fuzz::split_first_line(input, request_line, body);
  zlt::fuzz::split_first_line(body, authorization, body);
  zlt::HttpRequest req;
  std::size_t space = request_line.find(' ');
  req.method = std::string(request_line.substr(0, space));
  std::string_view target =
      space == std::string_view::npos ? std::string_view{} : request_line.substr(space + 1);
  std::size_t question = target.find('?');
  req.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) req.query = std::string(target.substr(question + 1));
  req.authorization = std::string(authorization);
  req.body = std::string(body);
  req.peer = "127.0.0.1:40000";
  return req;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  zlt::Log::set_level(zlt::LogLevel::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const zlt::HttpRequest req =
      parse_input(std::string_view(reinterpret_cast<const char*>(data), size));
  std::size_t grants_before = 0;
  std::size_t grants_after = 0;
  const zlt::HttpResponse res = fixture().handle(req, grants_before, grants_after);

  const int s = res.status;
  check(s == 200 || s == 201 || s == 204 || s == 400 || s == 401 || s == 404 || s == 405,
        "unexpected status", std::to_string(s));
  check(res.content_type == "application/json", "content type", res.content_type);
  if (s == 204) {
    check(res.body.empty(), "a body with 204");
  } else {
    auto body = nlohmann::json::parse(res.body, nullptr, false);
    check(!body.is_discarded() && body.is_object(), "the answer is not a JSON object", res.body);
    if (s >= 400)
      check(body.contains("error") && body["error"].is_string() &&
                !body["error"].get<std::string>().empty(),
            "an error answer without an error text", res.body);
    if (s == 201)
      check(body.contains("token") && body.contains("grant_id"), "a grant without token or id",
            res.body);
  }

  if (req.authorization != "Bearer " + std::string(kAdminToken)) {
    check(s == 401 || s == 404, "answered without the admin token", std::to_string(s));
    check(grants_after == grants_before, "changed grants without the admin token");
  }
  if (s == 201) check(grants_after == grants_before + 1, "an issued grant is not listed");
  if (s == 204) check(grants_after + 1 == grants_before, "a revoked grant is still listed");
  if (s != 201 && s != 204)
    check(grants_after == grants_before, "a refused request changed grants");
  return 0;
}
