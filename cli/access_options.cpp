#include "cli/access_options.hpp"

#include <iostream>

#include "cli/secrets.hpp"
#include "zlt/access.hpp"

namespace zlt::cli {

const char* const kAccessUsage =
    "Usage: zlt access --server URL (--token TOKEN | --token-file FILE) --target TARGET [flags]\n"
    "\n"
    "On-demand access: listens on a local port and carries every connection made to it through\n"
    "the tunnel server to TARGET on the server's side. Once the listener is bound it prints one\n"
    "line on stdout,\n"
    "  Access via HOST:PORT until <RFC 3339 time>     (or \"until stopped\" without --ttl)\n"
    "then serves until the TTL runs out (exit 0), a signal (exit 0), or the server ends access\n"
    "(exit 1: the token expired or was revoked, or was refused).\n"
    "\n"
    "For a TCP target one probe connection is opened through the server right after it accepts\n"
    "the token and is closed at once: if the server refuses the target (not in the token's allow\n"
    "list, no such service, connection refused), zlt access exits 1 with the server's reason\n"
    "instead of failing each connection later. The target sees that one short connection.\n"
    "\n"
    "Flags:\n"
    "  --server URL        the server's control endpoint, ws://HOST:PORT/tunnel/v1 or wss://\n"
    "  --token TOKEN       a token the server accepts (an access grant's token, say)\n"
    "  --token-file FILE   read the token from FILE's first line (also: $ZLT_TOKEN;\n"
    "                      precedence --token, --token-file, $ZLT_TOKEN)\n"
    "  --target TARGET     service:NAME (a service registered on the server) or HOST:PORT\n"
    "                      (an address the server connects to; [v6]:PORT for IPv6)\n"
    "  --local-port P      local port to listen on (default 0: any free port)\n"
    "  --local-bind ADDR   local address to listen on (default 127.0.0.1; an IP literal)\n"
    "  --ttl D             close the listener and every connection after D (500ms, 30s, 5m, 1h;\n"
    "                      default: until stopped)\n"
    "  --udp               carry UDP datagrams instead of TCP connections (no probe)\n"
    "  --ca-file FILE      PEM CA bundle for wss:// (default: the system store)\n"
    "  --insecure          do not verify the server certificate (testing only)\n"
    "  --proxy URL         HTTP CONNECT proxy, http://HOST:PORT\n"
    "                      (default: $https_proxy / $http_proxy)\n"
    "  --metrics HOST:PORT serve /metrics (Prometheus), /healthz and /ready here (off by\n"
    "                      default; a bare PORT means 127.0.0.1); ready once the listener is\n"
    "                      bound and the probe passed\n"
    "  --log-level L       trace, debug, info (default), warn, error or off\n"
    "  --log-format F      text (default) or json: one JSON object per line\n"
    "  -h, --help          show this text\n"
    "\n"
    "Example: zlt access --server wss://tunnel.example.com:3679/tunnel/v1 --token tun_... \\\n"
    "             --target service:db --local-port 5432 --ttl 1h\n"
    "Stop with Ctrl-C or SIGTERM; a second signal exits at once.\n";

std::optional<AccessOptions> parse_access_options(std::vector<std::string> args) {
  AccessOptions out;
  std::optional<std::string> server;
  SecretFlags token_flag = token_flags();
  std::optional<std::string> target;
  ArgReader r(std::move(args));
  while (!r.done()) {
    if (r.help()) {
      std::cout << kAccessUsage;
      return std::nullopt;
    }
    if (auto v = r.value("--server")) {
      server = *v;
    } else if (auto v = r.value("--target")) {
      if (auto st = validate_access_target(*v); !st)
        throw UsageError{"--target: " + st.error().message};
      target = *v;
    } else if (auto v = r.value("--local-port")) {
      out.local_port = parse_port_flag("--local-port", *v, true);
    } else if (auto v = r.value("--local-bind")) {
      if (auto st = validate_local_bind(*v); !st)
        throw UsageError{"--local-bind: " + st.error().message};
      out.access.local_bind = *v;
    } else if (auto v = r.value("--ttl")) {
      out.ttl = parse_duration_flag("--ttl", *v);
      if (out.ttl->count() <= 0) throw UsageError{"--ttl: must be > 0"};
    } else if (r.flag("--udp")) {
      out.protocol = proto::ServiceProtocol::udp;
    } else if (auto v = r.value("--ca-file")) {
      out.client.ca_file = *v;
    } else if (r.flag("--insecure")) {
      out.client.insecure = true;
    } else if (auto v = r.value("--proxy")) {
      out.client.proxy = *v;
    } else if (auto v = r.value("--metrics")) {
      if (auto hp = config::parse_listen_address(*v, "--metrics"); !hp)
        throw UsageError{hp.error().message};
      out.client.metrics_listen = *v;
    } else if (!token_flag.take(r) && !out.log.take(r)) {
      r.reject();
    }
  }
  if (!server) throw UsageError{"--server is required"};
  std::optional<std::string> token = token_flag.resolve(std::nullopt, out.log.warnings);
  if (!token) throw UsageError{"--token, --token-file or $ZLT_TOKEN is required"};
  if (!target) throw UsageError{"--target is required"};
  out.client.server_url = *server;
  out.client.token = *token;
  out.target = *target;
  if (auto st = out.client.validate(); !st)
    throw UsageError{"invalid configuration: " + st.error().message};
  return out;
}

}  // namespace zlt::cli
