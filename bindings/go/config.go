package zlt

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PortRange is an inclusive range of ports, [start, end]. As a server's DataPortRange,
// [0, 0] lets the kernel choose every public port.
type PortRange [2]uint16

// Protocol is the transport of a service.
type Protocol string

// The protocols a service may use.
const (
	TCP Protocol = "tcp"
	UDP Protocol = "udp"
)

// ServerConfig is the configuration of a [Server]. Zero fields are left out of the JSON, so
// the library's defaults apply to them (listen "0.0.0.0:3679", public ports 30000-31000, no
// tokens). Durations have millisecond resolution.
type ServerConfig struct {
	// Listen is the control endpoint's "HOST:PORT", used by [Server.Listen] with an empty
	// host or port -1.
	Listen string `json:"listen,omitempty"`
	// PublicBind is the address the public service ports bind to.
	PublicBind string `json:"public_bind,omitempty"`
	// DataPortRange is where public ports are allocated; nil means the default range.
	DataPortRange *PortRange `json:"data_port_range,omitempty"`
	// Tokens are the tokens agents may authenticate with, unless a validator is set
	// ([Server.SetTokenValidator]).
	Tokens []TokenEntry `json:"tokens,omitempty"`
	// AcceptAnyToken accepts every non-empty token (the library logs a warning).
	AcceptAnyToken bool `json:"accept_any_token,omitempty"`
	// ControlPath is the WebSocket path of the control endpoint ("/tunnel/v1").
	ControlPath string `json:"control_path,omitempty"`
	// TLSCert and TLSKey are PEM files; both or neither (then the endpoint is plain ws://).
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`

	MaxTunnels           int `json:"max_tunnels,omitempty"`
	MaxServicesPerTunnel int `json:"max_services_per_tunnel,omitempty"`
	MaxStreamsPerTunnel  int `json:"max_streams_per_tunnel,omitempty"`

	HeartbeatInterval time.Duration `json:"heartbeat_interval,omitempty"`
	HeartbeatTimeout  time.Duration `json:"heartbeat_timeout,omitempty"`
	// AuthTimeout bounds the WebSocket upgrade and authentication of a new agent.
	AuthTimeout time.Duration `json:"auth_timeout,omitempty"`
	// ConnectTimeout closes a stream the agent has not acknowledged by then.
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	UDPIdleTimeout time.Duration `json:"udp_idle_timeout,omitempty"`

	// RoutingMode is "preferoverlay", "overlayonly" or "directonly".
	RoutingMode     string `json:"routing_mode,omitempty"`
	Enabled         *bool  `json:"enabled,omitempty"` // nil: enabled
	BindOverlay     bool   `json:"bind_overlay,omitempty"`
	DNSRegistration bool   `json:"dns_registration,omitempty"`
}

// TokenEntry is a token a server accepts: exactly one of Token (plain text, hashed when the
// configuration is loaded) and SHA256 ([HashToken] of the token) must be set.
type TokenEntry struct {
	Name   string `json:"name,omitempty"` // shown in logs and status
	Token  string `json:"token,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	// AllowedPorts limits the public ports the token may hold (nil: any).
	AllowedPorts *PortRange `json:"allowed_ports,omitempty"`
	// Allow lists the targets the token may open: "service:NAME", "HOST:PORT", "CIDR:PORT".
	Allow []string `json:"allow,omitempty"`
}

// AgentConfig is the configuration of an [Agent]. ServerURL and Token are required; zero
// fields otherwise take the library's defaults. Durations have millisecond resolution.
type AgentConfig struct {
	// ServerURL is the server's control endpoint, e.g. "ws://127.0.0.1:3679/tunnel/v1".
	ServerURL string    `json:"server_url"`
	Token     string    `json:"token"`
	Services  []Service `json:"services,omitempty"`

	// ReconnectInterval is the first reconnection delay; it doubles up to
	// MaxReconnectInterval.
	ReconnectInterval    time.Duration `json:"reconnect_interval,omitempty"`
	MaxReconnectInterval time.Duration `json:"max_reconnect_interval,omitempty"`
	// ConnectTimeout bounds TCP, TLS and the upgrade, and the dial of a local service.
	ConnectTimeout    time.Duration `json:"connect_timeout,omitempty"`
	HeartbeatInterval time.Duration `json:"heartbeat_interval,omitempty"`
	HeartbeatTimeout  time.Duration `json:"heartbeat_timeout,omitempty"`

	// LocalHost is where the agent dials its local services ("127.0.0.1").
	LocalHost string `json:"local_host,omitempty"`
	// CAFile is a PEM bundle to verify a wss:// server with (default: the system store).
	CAFile string `json:"ca_file,omitempty"`
	// Insecure skips certificate verification; for tests only.
	Insecure bool `json:"insecure,omitempty"`
	// Proxy is an http://HOST:PORT CONNECT proxy (default: $https_proxy or $http_proxy).
	Proxy            string `json:"proxy,omitempty"`
	OverlayServerURL string `json:"overlay_server_url,omitempty"`
	RoutingMode      string `json:"routing_mode,omitempty"`
}

// Service is a local service an agent exposes through the tunnel.
type Service struct {
	Name      string   `json:"name"`               // letters, digits, '-' and '_'
	Protocol  Protocol `json:"protocol,omitempty"` // TCP when empty
	LocalPort int      `json:"local_port"`         // where the agent dials it on LocalHost
	// RemotePort asks for a particular public port (0: any).
	RemotePort int `json:"remote_port,omitempty"`
	// Internal services get no public port: other agents reach them as "service:NAME".
	Internal bool `json:"internal,omitempty"`
	// ProxyProtocol makes the agent send the local service a PROXY protocol header with the
	// public client's address: "v1" (TCP only) or "v2" ("": none).
	ProxyProtocol string `json:"proxy_protocol,omitempty"`
}

// Grant is what an accepted token may do, as decided by a [TokenValidator].
type Grant struct {
	Name string `json:"name,omitempty"` // shown in logs, events and status
	// AllowedPorts limits the public ports the tunnel may hold (nil: any).
	AllowedPorts *PortRange `json:"allowed_ports,omitempty"`
	// Allow lists the targets it may open ("service:db", "10.0.0.0/8:5432"); none by default.
	Allow []string `json:"allow,omitempty"`
}

// duration is a time.Duration as the configuration schema writes it: "30s" or "1500ms".
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) {
	if d < 0 {
		return nil, fmt.Errorf("negative duration %v", time.Duration(d))
	}
	// The library counts milliseconds; rounding up keeps a small positive value from
	// turning into zero.
	ms := (time.Duration(d) + time.Millisecond - 1) / time.Millisecond
	if ms%1000 == 0 {
		return json.Marshal(strconv.FormatInt(int64(ms/1000), 10) + "s")
	}
	return json.Marshal(strconv.FormatInt(int64(ms), 10) + "ms")
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		return nil
	case float64: // a bare number is seconds
		*d = duration(v * float64(time.Second))
		return nil
	case string:
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseUint(s, 10, 63); err == nil {
			*d = duration(time.Duration(n) * time.Second)
			return nil
		}
		parsed, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q", v)
		}
		*d = duration(parsed)
		return nil
	}
	return fmt.Errorf("invalid duration %s", b)
}

// MarshalJSON writes the configuration in the library's schema; durations become "30s" or
// "1500ms".
func (c ServerConfig) MarshalJSON() ([]byte, error) {
	type plain ServerConfig // the same fields without these methods
	// Outer fields hide the embedded ones of the same JSON name.
	return json.Marshal(struct {
		plain
		HeartbeatInterval duration `json:"heartbeat_interval,omitempty"`
		HeartbeatTimeout  duration `json:"heartbeat_timeout,omitempty"`
		AuthTimeout       duration `json:"auth_timeout,omitempty"`
		ConnectTimeout    duration `json:"connect_timeout,omitempty"`
		UDPIdleTimeout    duration `json:"udp_idle_timeout,omitempty"`
	}{
		plain(c),
		duration(c.HeartbeatInterval), duration(c.HeartbeatTimeout), duration(c.AuthTimeout),
		duration(c.ConnectTimeout), duration(c.UDPIdleTimeout),
	})
}

// UnmarshalJSON reads a configuration in the library's schema, so that a configuration file
// can be loaded, adjusted and passed on.
func (c *ServerConfig) UnmarshalJSON(b []byte) error {
	type plain ServerConfig
	return json.Unmarshal(b, &struct {
		*plain
		HeartbeatInterval *duration `json:"heartbeat_interval,omitempty"`
		HeartbeatTimeout  *duration `json:"heartbeat_timeout,omitempty"`
		AuthTimeout       *duration `json:"auth_timeout,omitempty"`
		ConnectTimeout    *duration `json:"connect_timeout,omitempty"`
		UDPIdleTimeout    *duration `json:"udp_idle_timeout,omitempty"`
	}{
		(*plain)(c),
		(*duration)(&c.HeartbeatInterval), (*duration)(&c.HeartbeatTimeout),
		(*duration)(&c.AuthTimeout), (*duration)(&c.ConnectTimeout),
		(*duration)(&c.UDPIdleTimeout),
	})
}

// MarshalJSON writes the configuration in the library's schema; durations become "30s" or
// "1500ms".
func (c AgentConfig) MarshalJSON() ([]byte, error) {
	type plain AgentConfig
	return json.Marshal(struct {
		plain
		ReconnectInterval    duration `json:"reconnect_interval,omitempty"`
		MaxReconnectInterval duration `json:"max_reconnect_interval,omitempty"`
		ConnectTimeout       duration `json:"connect_timeout,omitempty"`
		HeartbeatInterval    duration `json:"heartbeat_interval,omitempty"`
		HeartbeatTimeout     duration `json:"heartbeat_timeout,omitempty"`
	}{
		plain(c),
		duration(c.ReconnectInterval), duration(c.MaxReconnectInterval),
		duration(c.ConnectTimeout), duration(c.HeartbeatInterval), duration(c.HeartbeatTimeout),
	})
}

// UnmarshalJSON reads a configuration in the library's schema.
func (c *AgentConfig) UnmarshalJSON(b []byte) error {
	type plain AgentConfig
	return json.Unmarshal(b, &struct {
		*plain
		ReconnectInterval    *duration `json:"reconnect_interval,omitempty"`
		MaxReconnectInterval *duration `json:"max_reconnect_interval,omitempty"`
		ConnectTimeout       *duration `json:"connect_timeout,omitempty"`
		HeartbeatInterval    *duration `json:"heartbeat_interval,omitempty"`
		HeartbeatTimeout     *duration `json:"heartbeat_timeout,omitempty"`
	}{
		(*plain)(c),
		(*duration)(&c.ReconnectInterval), (*duration)(&c.MaxReconnectInterval),
		(*duration)(&c.ConnectTimeout), (*duration)(&c.HeartbeatInterval),
		(*duration)(&c.HeartbeatTimeout),
	})
}

// configJSON turns a configuration argument into the JSON text the library reads. Text is
// passed through untouched so that the library, not this package, judges it and names the
// offending field. ok is false for a nil config, which the library reads as "{}".
func configJSON(config any) (text string, ok bool, err error) {
	switch c := config.(type) {
	case nil:
		return "", false, nil
	case string:
		return c, true, nil
	case []byte:
		return string(c), true, nil
	case json.RawMessage:
		return string(c), true, nil
	}
	b, err := json.Marshal(config)
	if err != nil {
		return "", false, newError(ErrConfig, "cannot encode the configuration as JSON: "+err.Error())
	}
	return string(b), true, nil
}
