// Configuration of every object: the original crate's fields and defaults plus this
// project's additions. JSON in and out, validation that names
// the offending field.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/common/error.hpp"
#include "core/protocol/message.hpp"

namespace zlt::config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

// Every error found in one config, in the order met. A reader or a validate_all() given one
// records each error and goes on with the next field or entry, so `zlt check` can list them
// all; the plain readers and validate() stop at the first error, which is the first one here.
class ErrorList {
 public:
  void add(Error e) { errors_.push_back(std::move(e)); }
  // Records a failed status; true when `s` was ok.
  bool check(Status s) {
    if (s) return true;
    add(s.take_error());
    return false;
  }
  // Adds each error of `inner` with `prefix` before its message ("server: ").
  void add_all(const ErrorList& inner, std::string_view prefix);
  const std::vector<Error>& errors() const { return errors_; }
  bool empty() const { return errors_.empty(); }
  std::size_t size() const { return errors_.size(); }
  // OK, or the first error.
  Status first() const;
  // What validate() is for each config: the first of its validate_all() errors.
  template <class Config>
  static Status first_of(const Config& c) {
    ErrorList errors;
    c.validate_all(errors);
    return errors.first();
  }

 private:
  std::vector<Error> errors_;
};

// "500ms", "30s", "2m", "1h", bare digits = seconds; surrounding blanks trimmed. Errors:
// "invalid duration number: {n}", "invalid duration format: {s}" (Errc::config); values that
// overflow are an error too.
Result<Duration> parse_duration(std::string_view text);
// "30s" for whole seconds, "1500ms" otherwise (no precision is lost, unlike the original).
std::string format_duration(Duration d);

enum class RoutingMode { prefer_overlay, overlay_only, direct_only };
std::string_view routing_mode_name(RoutingMode m);  // "preferoverlay", "overlayonly", "directonly"
Result<RoutingMode> parse_routing_mode(std::string_view text);

// The PROXY protocol header an agent writes toward a local service before the first byte of
// each connection (v1: text, TCP only; v2: binary, TCP and UDP). none: no header.
enum class ProxyProtocol { none, v1, v2 };
std::string_view proxy_protocol_name(ProxyProtocol p);              // "none", "v1", "v2"
Result<ProxyProtocol> parse_proxy_protocol(std::string_view text);  // "v1" or "v2"

enum class ExposeType { internal, public_ };
std::string_view expose_type_name(ExposeType e);  // "internal", "public"
Result<ExposeType> parse_expose_type(std::string_view text);

struct PortRange {
  std::uint16_t start = 30000;
  std::uint16_t end = 31000;
  bool contains(std::uint16_t port) const { return port >= start && port <= end; }
  std::size_t size() const { return start <= end ? std::size_t{end} - start + 1 : 0; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// "HOST:PORT", "[v6]:PORT". The host may be a name or an IP literal.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;  // brackets around IPv6 literals
  friend bool operator==(const HostPort&, const HostPort&) = default;
};
// `field` names the setting in error messages ("listen: expected HOST:PORT, got 'x'").
Result<HostPort> parse_host_port(std::string_view text, std::string_view field);

// A listen address for a small local HTTP listener (metrics, admin): "HOST:PORT", "[v6]:PORT",
// or only a port ("9090", ":9090"), which means loopback (127.0.0.1).
Result<HostPort> parse_listen_address(std::string_view text, std::string_view field);

// The bounds of the small HTTP listeners (metrics, admin): connections at once, the size of a
// request head, and how long a connection may sit without a complete request.
struct HttpListenerLimits {
  std::size_t max_connections = 16;
  std::size_t max_request_head = 8 * 1024;
  Duration idle_timeout = 10s;
  friend bool operator==(const HttpListenerLimits&, const HttpListenerLimits&) = default;
};
// Records what is wrong with a listener's address (named `field`) and its bounds.
void validate_http_listener(const std::optional<std::string>& listen, std::string_view field,
                            const HttpListenerLimits& limits, ErrorList& errors);

// A token the server accepts. In a file either `token` (plain text, hashed on load) or
// `sha256` (64 hex digits) is given; after loading only `sha256` is kept.
struct TokenEntry {
  std::string name;    // shown in logs and status; defaults to "token-<i>"
  std::string sha256;  // lower-case hex SHA-256 of the token
  std::optional<PortRange>
      allowed_ports;  // public ports this token may hold (default: any in data_port_range)
  std::vector<std::string>
      allow;  // Open targets: "service:NAME", "host:port", "CIDR:port"; '*' segments
  // Service names this token may register (default: any; empty: none, an opener-only token).
  std::optional<std::vector<std::string>> services;
  friend bool operator==(const TokenEntry&, const TokenEntry&) = default;
};

// "ws://..." or "wss://...": a prefix check only, like the original; the transport parses the
// rest when it connects.
bool is_websocket_url(std::string_view url);

// Where a cluster's Redis is: redis://[:password@]host:port/db or rediss:// (TLS).
struct RedisEndpoint {
  std::string host;
  std::uint16_t port = 6379;
  std::optional<std::string> password;  // sent with AUTH; never logged
  unsigned db = 0;
  bool tls = false;
};
// Errors are Errc::config naming `field`, never the password.
Result<RedisEndpoint> parse_redis_url(std::string_view url, std::string_view field);

// Several servers acting as one (README "Running a cluster"): grants and membership live in
// Redis; every member shares the tokens and the secret.
struct ClusterConfig {
  std::string redis;          // redis://[:password@]host:port/db
  std::string node_id;        // this member's name: [A-Za-z0-9._-], at most 64
  std::string advertise_url;  // where the other members reach this one (ws:// or wss://)
  std::string secret;         // authenticates server-to-server links; never serialised
  Duration lease = std::chrono::seconds(10);  // a member not renewing for this long is gone
  friend bool operator==(const ClusterConfig&, const ClusterConfig&) = default;
};
// Every rule of the block, each failure recorded with its field ("cluster.node_id: ...").
void validate_cluster(const ClusterConfig& c, ErrorList& errors);

struct TunnelServerConfig {
  // The original's fields and defaults.
  bool enabled = true;
  std::string control_path = "/tunnel/v1";
  PortRange data_port_range{30000, 31000};  // [0, 0]: the kernel chooses every public port
  Duration heartbeat_interval = 30s;
  Duration heartbeat_timeout = 40s;
  std::size_t max_tunnels = 1000;
  std::size_t max_services_per_tunnel = 50;
  RoutingMode routing_mode = RoutingMode::prefer_overlay;
  bool bind_overlay = false;
  bool dns_registration = false;

  // This project's additions.
  std::string listen = "0.0.0.0:3679";  // control endpoint (WebSocket, /healthz)
  std::string public_bind = "0.0.0.0";  // address the public service ports bind to
  std::optional<std::string> tls_cert;  // PEM files; both or neither (wss)
  std::optional<std::string> tls_key;
  std::vector<TokenEntry> tokens;
  bool accept_any_token = false;  // accept every non-empty token (logs a warning)
  std::size_t max_streams_per_tunnel = 4096;
  Duration auth_timeout = 10s;     // upgrade + Auth must arrive within this
  Duration connect_timeout = 10s;  // a stream not acknowledged by then is closed
  Duration udp_idle_timeout = 60s;
  // Memory, by real bytes: each session's outgoing queue is capped (above it the session is
  // not read; a peer that leaves it full for slow_peer_timeout is disconnected), and above
  // max_buffered_bytes held process-wide new streams are refused with "server busy".
  std::size_t max_session_queue = 2u << 20;
  Duration slow_peer_timeout = 30s;
  std::size_t max_buffered_bytes = 512u << 20;
  // A graceful stop (SIGTERM) lets open streams run this long at most (0: end them at once).
  Duration grace_period = 30s;

  // Connection caps of the control listener. A connection is unauthenticated from its accept
  // until its Auth succeeds (plain HTTP requests stay unauthenticated).
  std::size_t max_connections = 10000;
  std::size_t max_pending_handshakes = 1000;        // unauthenticated, all sources together
  std::size_t max_unauthenticated_per_source = 64;  // per source address
  // Failed Auths from one address wait this long at most before AuthFail (0: never wait).
  Duration auth_failure_delay_max = 5s;
  // Per public service: live TCP connections per source address (0: no limit), and UDP peers
  // (flows) at once; a new flow beyond that ends the least recently used one.
  std::size_t max_conns_per_source = 0;
  std::size_t max_udp_flows = 1024;

  // On-demand access (docs/PROTOCOL.md §4.6): the admin HTTP API is served only when an admin token
  // is set ("admin_token" in a file is hashed on load, like token entries).
  std::optional<std::string> admin_token_hash;
  Duration max_access_ttl = std::chrono::hours(24);  // grants live at most this long
  std::optional<std::string> grants_file;            // where grants survive a restart

  // Operations: where /metrics, /healthz and /ready are served (off by default), where the
  // admin API is served instead of the control listener, and the bounds of both listeners.
  std::optional<std::string> metrics_listen;
  std::optional<std::string> admin_listen;
  HttpListenerLimits http_limits;

  // Absent: a standalone server.
  std::optional<ClusterConfig> cluster;

  // Original rules first, in the original's order and words, then the additions ("<field>: <why>").
  Status validate() const;
  // Every rule validate() checks, each failure recorded (validate() returns the first).
  void validate_all(ErrorList& errors) const;
  friend bool operator==(const TunnelServerConfig&, const TunnelServerConfig&) = default;
};

struct ServiceConfig {
  std::string name;
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;  // 0 = any
  bool internal = false;          // reachable only as service:NAME (no public port)
  // A PROXY protocol header with the public client's address, written toward the local
  // service (JSON "proxy_protocol": "v1" | "v2"; absent: none).
  ProxyProtocol proxy_protocol = ProxyProtocol::none;

  static ServiceConfig tcp(std::string name, std::uint16_t local_port);
  static ServiceConfig udp(std::string name, std::uint16_t local_port);
  ServiceConfig& with_remote_port(std::uint16_t port) {
    remote_port = port;
    return *this;
  }

  // "name cannot be empty", "name too long: {len} bytes, max 255",
  // "name must contain only alphanumeric characters, hyphens, and underscores",
  // "local_port cannot be 0", "proxy_protocol: v1 is for TCP only; a UDP service needs v2".
  Status validate() const;
  void validate_all(ErrorList& errors) const;  // the name's rule and the port's, each once
  friend bool operator==(const ServiceConfig&, const ServiceConfig&) = default;
};

struct TunnelClientConfig {
  std::string server_url;
  std::string token;
  Duration reconnect_interval = 5s;
  Duration max_reconnect_interval = 60s;
  std::vector<ServiceConfig> services;
  std::optional<std::string> overlay_server_url;
  RoutingMode routing_mode = RoutingMode::prefer_overlay;

  // This project's additions.
  std::string local_host = "127.0.0.1";  // where the agent dials its local services
  std::optional<std::string> ca_file;    // PEM bundle for wss (default: the system store)
  bool insecure = false;                 // skip certificate verification (tests only)
  std::optional<std::string>
      proxy;  // http://host:port CONNECT proxy (default: $https_proxy/$http_proxy)
  Duration connect_timeout = 10s;     // TCP + TLS + upgrade; also local service dials
  Duration heartbeat_interval = 30s;  // client heartbeats (v2)
  Duration heartbeat_timeout = 40s;   // silence from the server after which it is presumed dead
  // The outgoing queue toward the server, as on the server (TunnelServerConfig).
  std::size_t max_session_queue = 2u << 20;
  Duration slow_peer_timeout = 30s;
  // Where /metrics, /healthz and /ready are served (off by default), and the listener's bounds.
  std::optional<std::string> metrics_listen;
  HttpListenerLimits http_limits;

  TunnelClientConfig() = default;
  TunnelClientConfig(std::string url, std::string tok)
      : server_url(std::move(url)), token(std::move(tok)) {}
  TunnelClientConfig& with_service(ServiceConfig s) {
    services.push_back(std::move(s));
    return *this;
  }

  // "server_url cannot be empty", "server_url must start with ws:// or wss://",
  // "token cannot be empty", "max_reconnect_interval (60s) must be >= reconnect_interval (5s)",
  // "services[{i}]: {service error}", "duplicate service name: {name}", then the additions.
  Status validate() const;
  void validate_all(ErrorList& errors) const;
  friend bool operator==(const TunnelClientConfig&, const TunnelClientConfig&) = default;
};

struct NodeTunnel {
  std::string name;
  std::string from;  // source node (runs the agent side)
  std::string to;    // destination node (runs the server side)
  std::uint16_t local_port = 0;
  std::uint16_t remote_port = 0;
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  ExposeType expose = ExposeType::internal;
  std::optional<std::string> token;
  RoutingMode routing_mode = RoutingMode::prefer_overlay;

  // This project's additions: where the source node reaches the destination's tunnel server
  // (ws:// or wss://) directly, and through the overlay network. Without overlay_url an overlay
  // resolver may derive one from direct_url (same scheme, port and path, the node's overlay
  // address as host).
  std::optional<std::string> direct_url;
  std::optional<std::string> overlay_url;
  // A file whose first line is the token, instead of `token` in the node file (not both):
  // load_node_config and parse_node_config read it into `token` (read_node_token_files), and
  // to_json writes only the path back.
  std::optional<std::string> token_file;

  NodeTunnel() = default;
  NodeTunnel(std::string n, std::string f, std::string t)
      : name(std::move(n)), from(std::move(f)), to(std::move(t)) {}
  NodeTunnel& with_ports(std::uint16_t local, std::uint16_t remote) {
    local_port = local;
    remote_port = remote;
    return *this;
  }

  // The original had none. "name: ..." (the service name rules), "from: cannot be empty",
  // "to: cannot be empty", "to: must differ from from", "local_port: cannot be 0",
  // "token: cannot be empty", "token_file: cannot be empty", "direct_url: ...",
  // "overlay_url: ...". remote_port 0 lets the
  // destination choose (a kernel-chosen port).
  Status validate() const;
  void validate_all(ErrorList& errors) const;
  friend bool operator==(const NodeTunnel&, const NodeTunnel&) = default;
};

// A node: its name, optionally the server side for tunnels whose `to` is this node, and the
// tunnels it takes part in (as source, destination, or neither: those are ignored).
struct NodeConfig {
  std::string node_name;
  std::optional<TunnelServerConfig> server;  // absent: no inbound side
  std::vector<NodeTunnel> tunnels;
  // Where internal inbound tunnels listen (their remote_port), on the destination node.
  std::string internal_bind = "127.0.0.1";
  // The outbound side's agents.
  Duration reconnect_interval = 5s;
  Duration max_reconnect_interval = 60s;
  Duration heartbeat_interval = 30s;
  Duration heartbeat_timeout = 40s;
  Duration connect_timeout = 10s;
  std::optional<std::string> ca_file;  // PEM bundle for wss (default: the system store)
  bool insecure = false;               // skip certificate verification (tests only)
  // Where /metrics, /healthz and /ready are served (off by default), and the listener's bounds.
  std::optional<std::string> metrics_listen;
  HttpListenerLimits http_limits;

  // "node_name: cannot be empty", "server: <server rule>", "tunnels[i].<field>: ...",
  // "tunnels[i].name: duplicate tunnel name 'x'", "tunnels[i].token: same token as tunnel 'x'",
  // "tunnels[i].token: required for a tunnel whose destination is this node",
  // "tunnels[i]: its destination is this node, which needs 'server'",
  // "tunnels[i].direct_url: required for routing_mode directonly", then the timings.
  Status validate() const;
  void validate_all(ErrorList& errors) const;
  friend bool operator==(const NodeConfig&, const NodeConfig&) = default;
};

// The outgoing-queue settings shared by server and client configs: max_session_queue holds at
// least one largest message (64 KiB), slow_peer_timeout > 0.
Status validate_session_queue(std::size_t max_session_queue, Duration slow_peer_timeout);

// On-demand access (AccessManager) settings.
struct AccessConfig {
  std::optional<Duration> default_ttl;   // none: sessions need an explicit TTL or never expire
  std::string local_bind = "127.0.0.1";  // never wider unless asked
  friend bool operator==(const AccessConfig&, const AccessConfig&) = default;
};

// What an access manager is created from. In JSON one object holds both: the client
// configuration's keys (server_url, token, TLS, ...) next to the access keys (default_ttl,
// local_bind).
struct AccessSetup {
  TunnelClientConfig client;
  AccessConfig access;
  friend bool operator==(const AccessSetup&, const AccessSetup&) = default;
};

// One on-demand access session to open: {"target": "service:db", "local_port": 0,
// "ttl": "10m", "protocol": "tcp"}; only target is required. The target's syntax and the TTL's
// range are the access manager's to check.
struct AccessSessionRequest {
  std::string target;
  std::uint16_t local_port = 0;  // 0: the kernel chooses
  std::optional<Duration> ttl;   // none: the access configuration's default_ttl
  proto::ServiceProtocol protocol = proto::ServiceProtocol::tcp;
  friend bool operator==(const AccessSessionRequest&, const AccessSessionRequest&) = default;
};

// JSON. Every reader rejects unknown keys ("unknown key 'x'") and wrong types, prefixing the
// path of the field ("services[1].local_port: expected an integer 0..65535"). Readers do not
// call validate(); load_* helpers do.
Result<TunnelServerConfig> server_config_from_json(const nlohmann::json& j);
Result<TunnelClientConfig> client_config_from_json(const nlohmann::json& j);
Result<ServiceConfig> service_config_from_json(const nlohmann::json& j);
Result<NodeTunnel> node_tunnel_from_json(const nlohmann::json& j);
Result<AccessConfig> access_config_from_json(const nlohmann::json& j);
Result<AccessSetup> access_setup_from_json(const nlohmann::json& j);
Result<AccessSessionRequest> access_session_request_from_json(const nlohmann::json& j);
Result<NodeConfig> node_config_from_json(const nlohmann::json& j);
// The same three readers, collecting: they record every error in `errors` and read on (a bad
// field keeps its default, a bad list entry is left out), so the result holds what read well;
// they fail only when `j` is not an object. The first error recorded is the one the plain
// reader returns.
Result<TunnelServerConfig> collect_server_config(const nlohmann::json& j, ErrorList& errors);
Result<TunnelClientConfig> collect_client_config(const nlohmann::json& j, ErrorList& errors);
Result<NodeConfig> collect_node_config(const nlohmann::json& j, ErrorList& errors);
nlohmann::json to_json(const TunnelServerConfig& c);
nlohmann::json to_json(const TunnelClientConfig& c);
nlohmann::json to_json(const ServiceConfig& c);
nlohmann::json to_json(const NodeTunnel& c);
nlohmann::json to_json(const AccessConfig& c);
nlohmann::json to_json(const NodeConfig& c);

// Parse text (the C ABI's config strings) and validate.
Result<TunnelServerConfig> parse_server_config(std::string_view json_text);
Result<TunnelClientConfig> parse_client_config(std::string_view json_text);
// Reads every tunnel's token_file (see read_node_token_files in secret.hpp).
Result<NodeConfig> parse_node_config(std::string_view json_text);
// The access setup's client configuration is validated; the access settings are checked when
// the access manager is created. A session request is read only.
Result<AccessSetup> parse_access_setup(std::string_view json_text);
Result<AccessSessionRequest> parse_access_session_request(std::string_view json_text);
// Read a file, parse, validate. Errors name the file. Files may carry `//` and `/* */`
// comments (outside strings); the text forms above do not.
Result<TunnelServerConfig> load_server_config(const std::string& path);
Result<TunnelClientConfig> load_client_config(const std::string& path);
// Reads every tunnel's token_file before validating; warnings about those files (readable by
// others) are appended to `warnings` when given.
Result<NodeConfig> load_node_config(const std::string& path,
                                    std::vector<std::string>* warnings = nullptr);
// Write atomically (temp file + rename).
Status save_json_file(const std::string& path, const nlohmann::json& j);
// A config file's JSON value, comments allowed; errors name the path (Errc::io when it cannot
// be read, Errc::config for bad syntax).
Result<nlohmann::json> read_json_config_file(const std::string& path);
// A whole file as text, or its first `max_bytes` and a little more (reading stops once that
// many are in); errors (Errc::io) name the path.
Result<std::string> read_text_file(const std::string& path,
                                   std::size_t max_bytes = static_cast<std::size_t>(-1));

}  // namespace zlt::config
