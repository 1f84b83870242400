#include "core/server/admin_api.hpp"

#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

#include "core/common/json_dump.hpp"
#include "core/common/rfc3339.hpp"
#include "core/config/json_text.hpp"
#include "core/crypto/crypto.hpp"
#include "core/protocol/utf8.hpp"
#include "core/runtime/log.hpp"
#include "core/server/tunnel_server.hpp"

namespace zlt {
namespace {

constexpr std::string_view kGrants = "/admin/v1/grants";
constexpr std::string_view kStatus = "/admin/v1/status";
constexpr std::string_view kReload = "/admin/v1/reload";
constexpr std::string_view kCluster = "/admin/v1/cluster";

HttpResponse json_response(int status, const nlohmann::json& body) {
  return HttpResponse{status, "application/json", dump_json(body) + "\n"};
}

HttpResponse error_response(int status, const std::string& message) {
  return json_response(status, {{"error", message}});
}

bool authorized(const TunnelServer& server, const std::string& authorization) {
  const auto& expected = server.config().admin_token_hash;
  constexpr std::string_view kBearer = "Bearer ";
  if (!expected || authorization.size() <= kBearer.size() ||
      authorization.compare(0, kBearer.size(), kBearer) != 0)
    return false;
  // Compared as hashes, in constant time: the admin token itself is never stored.
  return crypto::ct_equal(crypto::hash_token(authorization.substr(kBearer.size())), *expected);
}

// A body must be UTF-8 JSON before any handler reads it; what is wrong with it otherwise.
std::optional<std::string> body_problem(std::string_view body) {
  if (body.empty()) return std::nullopt;
  auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
  if (auto bad = proto::validate_utf8(bytes))
    return "request body is not valid UTF-8: " + bad->describe();
  if (auto parsed = config::parse_json_text(body); !parsed) return parsed.error().message;
  return std::nullopt;
}

HttpResponse refuse(const HttpRequest& req, int status, const std::string& message) {
  ZLT_LOG(info, "admin").field("peer", req.peer)
      << req.method << " " << req.path << " refused: " << message;
  return error_response(status, message);
}

}  // namespace

HttpResponse handle_admin_request(TunnelServer& server, const HttpRequest& req) {
  if (!server.config().admin_token_hash || !req.path.starts_with("/admin/"))
    return error_response(404, "not found");
  if (!authorized(server, req.authorization))
    return refuse(req, 401, "missing or wrong admin token");
  if (auto problem = body_problem(req.body)) return refuse(req, 400, *problem);
  if (req.path == kStatus) {
    if (req.method != "GET") return error_response(405, "method not allowed");
    return json_response(200, server.status());
  }
  if (req.path == kCluster) {
    if (req.method != "GET") return error_response(405, "method not allowed");
    if (!server.cluster()) return error_response(404, "this server is not a cluster member");
    return json_response(200, server.cluster_status());
  }
  if (req.path == kReload) {
    if (req.method != "POST") return error_response(405, "method not allowed");
    // The server reloads its own source (its file and flags), as SIGHUP does: a body would be
    // a second way to configure it.
    if (!req.body.empty()) return refuse(req, 400, "reload takes no body");
    if (!server.can_reload())
      return refuse(req, 409, "this server has no configuration source to reload from");
    ZLT_LOG(info, "admin").field("peer", req.peer) << "reload requested";
    auto reloaded = server.reload();
    if (!reloaded) {
      ZLT_LOG(error, "admin") << "reload failed, keeping the running configuration: "
                              << reloaded.error().message;
      return refuse(req, 400, reloaded.error().message);
    }
    return json_response(200, reloaded->to_json());
  }
  if (req.path == kGrants) {
    if (req.method == "GET") return json_response(200, {{"grants", server.list_grants()}});
    if (req.method != "POST") return error_response(405, "method not allowed");
    auto request = grant_request_from_json(req.body);
    if (!request) return refuse(req, 400, request.error().message);
    auto issued = server.grant_access(*request);
    if (!issued) {
      // The store being away is the server's state, not the request's fault.
      const int status = issued.error().code == Errc::connection ? 503 : 400;
      return refuse(req, status, issued.error().message);
    }
    ZLT_LOG(info, "admin").field("peer", req.peer)
        << "granted " << issued->grant.name << " access to " << dump_json(request->targets)
        << " until " << format_rfc3339(issued->grant.expires_at);
    return json_response(201, issued->to_json());
  }
  if (req.path.starts_with(std::string(kGrants) + "/")) {
    if (req.method != "DELETE") return error_response(405, "method not allowed");
    auto id = Uuid::parse(req.path.substr(kGrants.size() + 1));
    if (!id) return error_response(404, "no such grant");
    if (auto st = server.revoke_access(*id); !st) return error_response(404, st.error().message);
    return HttpResponse{204, "application/json", ""};
  }
  return error_response(404, "not found");
}

}  // namespace zlt
