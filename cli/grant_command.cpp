// `zlt grant`: asks a tunnel server's admin API for an access grant — a token that may open only
// the given targets and expires on its own — and prints the token. Also lists and revokes
// grants.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/secrets.hpp"
#include "zlt/common.hpp"
#include "zlt/http.hpp"

namespace zlt::cli {
namespace {

const char* const kGrantUsage =
    "Usage: zlt grant --admin URL --admin-token TOKEN --target TARGET [--target TARGET]...\n"
    "                 --ttl D [--name LABEL] [flags]\n"
    "       zlt grant --admin URL --admin-token TOKEN --list\n"
    "       zlt grant --admin URL --admin-token TOKEN --revoke GRANT_ID\n"
    "\n"
    "Issues an access grant through a tunnel server's admin API: a new token that may open only\n"
    "the given targets and that the server stops accepting after D (connections made with it\n"
    "are closed then). Prints the token alone on stdout, and the grant id and expiry on stderr.\n"
    "Use the token with zlt access. The server caps D at its own maximum; the expiry printed is\n"
    "the one it chose.\n"
    "\n"
    "Flags:\n"
    "  --admin URL          the server's admin endpoint, http://HOST:PORT or https://HOST:PORT\n"
    "                       (the control listener's address)\n"
    "  --admin-token TOKEN  the server's admin token\n"
    "  --admin-token-file FILE\n"
    "                       read it from FILE's first line (also: $ZLT_ADMIN_TOKEN;\n"
    "                       precedence --admin-token, --admin-token-file, $ZLT_ADMIN_TOKEN)\n"
    "  --target TARGET      service:NAME or HOST:PORT the grant allows; repeatable\n"
    "  --ttl D              how long the grant lasts (500ms, 30s, 5m, 1h)\n"
    "  --name LABEL         a label shown when grants are listed\n"
    "  --list               print the live grants as JSON instead (never their tokens)\n"
    "  --revoke GRANT_ID    revoke a grant instead: its sessions are disconnected at once\n"
    "  --ca-file FILE       PEM CA bundle for https:// (default: the system store)\n"
    "  --insecure           do not verify the server certificate (testing only)\n"
    "  --timeout D          give up on the server after D (default 10s)\n"
    "  -h, --help           show this text\n"
    "\n"
    "Exit status: 0 done, 1 the server refused or could not be reached, 2 bad flags.\n";

constexpr const char* kGrantsPath = "/admin/v1/grants";

struct GrantOptions {
  std::string admin;
  std::string admin_token;
  std::vector<std::string> targets;
  std::optional<config::Duration> ttl;
  std::optional<std::string> name;
  bool list = false;
  std::optional<std::string> revoke;
  TlsChoice tls;
  config::Duration timeout = std::chrono::seconds(10);
};

std::optional<GrantOptions> parse_options(Args args) {
  GrantOptions out;
  std::optional<std::string> admin;
  SecretFlags admin_token_flag = admin_token_flags();
  ArgReader r(std::move(args));
  while (!r.done()) {
    if (r.help()) {
      std::cout << kGrantUsage;
      return std::nullopt;
    }
    if (auto v = r.value("--admin")) {
      if (!v->starts_with("http://") && !v->starts_with("https://"))
        throw UsageError{"--admin: expected http://HOST:PORT or https://HOST:PORT, got '" + *v +
                         "'"};
      admin = *v;
    } else if (admin_token_flag.take(r)) {
      // Resolved after the loop, with the file and the environment.
    } else if (auto v = r.value("--target")) {
      if (v->empty()) throw UsageError{"--target: cannot be empty"};
      out.targets.push_back(*v);
    } else if (auto v = r.value("--ttl")) {
      out.ttl = parse_duration_flag("--ttl", *v);
      if (out.ttl->count() <= 0) throw UsageError{"--ttl: must be > 0"};
    } else if (auto v = r.value("--name")) {
      out.name = *v;
    } else if (r.flag("--list")) {
      out.list = true;
    } else if (auto v = r.value("--revoke")) {
      if (!Uuid::parse(*v))
        throw UsageError{"--revoke: expected a grant id (UUID), got '" + *v + "'"};
      out.revoke = *v;
    } else if (auto v = r.value("--ca-file")) {
      out.tls.ca_file = *v;
    } else if (r.flag("--insecure")) {
      out.tls.insecure = true;
    } else if (auto v = r.value("--timeout")) {
      out.timeout = parse_duration_flag("--timeout", *v);
      if (out.timeout.count() <= 0) throw UsageError{"--timeout: must be > 0"};
    } else {
      r.reject();
    }
  }
  if (!admin) throw UsageError{"--admin is required"};
  std::vector<std::string> warnings;
  std::optional<std::string> admin_token = admin_token_flag.resolve(std::nullopt, warnings);
  // A one-shot command has no logger configured; its warnings go straight to stderr.
  for (const std::string& w : warnings) std::cerr << "zlt grant: warning: " << w << "\n";
  if (!admin_token)
    throw UsageError{"--admin-token, --admin-token-file or $ZLT_ADMIN_TOKEN is required"};
  out.admin = *admin;
  out.admin_token = *admin_token;
  if (out.list && out.revoke) throw UsageError{"--list and --revoke: choose one"};
  const bool creating = !out.list && !out.revoke;
  if (creating) {
    if (out.targets.empty()) throw UsageError{"--target is required (at least one)"};
    if (!out.ttl) throw UsageError{"--ttl is required"};
  } else if (!out.targets.empty() || out.ttl || out.name) {
    throw UsageError{"--target, --ttl and --name only apply when issuing a grant"};
  }
  return out;
}

// `admin` plus the API path, whatever the user put at the end of the URL.
std::string api_url(const GrantOptions& o, const std::string& path) {
  std::string base = o.admin;
  while (base.ends_with('/')) base.pop_back();
  return base + path;
}

HttpCall call_for(const GrantOptions& o, std::string method, const std::string& path) {
  HttpCall call;
  call.method = std::move(method);
  call.url = api_url(o, path);
  call.headers.emplace_back("Authorization", "Bearer " + o.admin_token);
  call.headers.emplace_back("Accept", "application/json");
  call.tls = o.tls;
  call.timeout = o.timeout;
  return call;
}

// Sends the call; the reply if its status is 2xx, otherwise nullopt after reporting why.
std::optional<HttpReply> perform(const HttpCall& call) {
  auto reply = http_call(call);
  if (!reply) {
    std::cerr << "zlt grant: " << reply.error().message << "\n";
    return std::nullopt;
  }
  if (reply->status >= 200 && reply->status < 300) return std::move(*reply);
  auto body = nlohmann::json::parse(reply->body, nullptr, false);
  std::string why = body.is_object() && body.contains("error") && body["error"].is_string()
                        ? body["error"].get<std::string>()
                        : reply->body;
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
  std::cerr << "zlt grant: the server refused (" << reply->status_text << ")"
            << (why.empty() ? "" : ": " + why) << "\n";
  return std::nullopt;
}

std::optional<nlohmann::json> json_body(const HttpReply& reply) {
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::cerr << "zlt grant: the server's answer is not a JSON object: " << reply.body << "\n";
    return std::nullopt;
  }
  return j;
}

int issue(const GrantOptions& o) {
  nlohmann::json request = {{"targets", o.targets}, {"ttl", config::format_duration(*o.ttl)}};
  if (o.name) request["name"] = *o.name;
  HttpCall call = call_for(o, "POST", kGrantsPath);
  call.headers.emplace_back("Content-Type", "application/json");
  call.body = dump_json(request);
  auto reply = perform(call);
  if (!reply) return kExitFailure;
  auto grant = json_body(*reply);
  if (!grant) return kExitFailure;
  const std::string token = grant->value("token", "");
  if (token.empty()) {
    std::cerr << "zlt grant: the server's answer has no token: " << reply->body << "\n";
    return kExitFailure;
  }
  std::cout << token << "\n" << std::flush;
  std::cerr << "grant " << grant->value("grant_id", "?") << " expires "
            << grant->value("expires_at", "?") << "\n";
  return kExitOk;
}

int list(const GrantOptions& o) {
  auto reply = perform(call_for(o, "GET", kGrantsPath));
  if (!reply) return kExitFailure;
  auto grants = json_body(*reply);
  if (!grants) return kExitFailure;
  std::cout << dump_json(*grants, 2) << "\n";
  return kExitOk;
}

int revoke(const GrantOptions& o) {
  auto reply = perform(call_for(o, "DELETE", std::string(kGrantsPath) + "/" + *o.revoke));
  if (!reply) return kExitFailure;
  std::cerr << "grant " << *o.revoke << " revoked\n";
  return kExitOk;
}

}  // namespace

int grant_command(Args args) {
  std::optional<GrantOptions> options = parse_options(std::move(args));
  if (!options) return kExitOk;
  if (options->list) return list(*options);
  if (options->revoke) return revoke(*options);
  return issue(*options);
}

}  // namespace zlt::cli
