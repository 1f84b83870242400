package zlt

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime/cgo"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// OverlayResolver tells a [NodeManager] where a node is on the overlay network: its address
// (an IP literal, without brackets, or a host name) and true, or false when the node is not
// reachable through the overlay. It runs on the loop thread, whenever an outbound tunnel
// picks its route, and must be quick; it must not call methods of the same NodeManager (they
// fail with ErrInvalid there).
type OverlayResolver func(node string) (address string, ok bool)

// NodeTunnel is one node-to-node tunnel: the service LocalPort of node From, reachable on node
// To (as RemotePort of To's internal listener, or a public port of To's server).
type NodeTunnel struct {
	Name       string   `json:"name"`
	From       string   `json:"from"` // the source node: runs the agent side
	To         string   `json:"to"`   // the destination node: runs the server side
	LocalPort  int      `json:"local_port"`
	RemotePort int      `json:"remote_port"`        // 0: the destination's kernel chooses
	Protocol   Protocol `json:"protocol,omitempty"` // TCP when empty
	// Expose is "internal" (the default: a listener on the destination's InternalBind) or
	// "public" (a public port of the destination's server).
	Expose string `json:"expose,omitempty"`
	// Token authenticates the source with the destination; both ends need the same one.
	Token string `json:"token,omitempty"`
	// RoutingMode is "preferoverlay" (the default), "overlayonly" or "directonly".
	RoutingMode string `json:"routing_mode,omitempty"`
	// DirectURL is the destination's tunnel server reached directly, e.g.
	// "ws://10.1.0.2:3680/tunnel/v1"; OverlayURL through the overlay. Without OverlayURL an
	// [OverlayResolver] may derive one from DirectURL.
	DirectURL  string `json:"direct_url,omitempty"`
	OverlayURL string `json:"overlay_url,omitempty"`
}

// NodeConfig is the configuration of a [NodeManager], the schema of the `zlt node --config`
// file. NodeName is required; Server only on a node that accepts tunnels. Zero fields take the
// library's defaults. Durations have millisecond resolution.
type NodeConfig struct {
	NodeName string        `json:"node_name"`
	Server   *ServerConfig `json:"server,omitempty"`
	Tunnels  []NodeTunnel  `json:"tunnels,omitempty"`
	// InternalBind is where internal inbound tunnels listen ("127.0.0.1").
	InternalBind string `json:"internal_bind,omitempty"`

	// The outbound tunnels' agents.
	ReconnectInterval    time.Duration `json:"reconnect_interval,omitempty"`
	MaxReconnectInterval time.Duration `json:"max_reconnect_interval,omitempty"`
	HeartbeatInterval    time.Duration `json:"heartbeat_interval,omitempty"`
	HeartbeatTimeout     time.Duration `json:"heartbeat_timeout,omitempty"`
	ConnectTimeout       time.Duration `json:"connect_timeout,omitempty"`
	CAFile               string        `json:"ca_file,omitempty"`
	Insecure             bool          `json:"insecure,omitempty"`
}

// MarshalJSON writes the configuration in the library's schema; durations become "30s" or
// "1500ms".
func (c NodeConfig) MarshalJSON() ([]byte, error) {
	type plain NodeConfig
	return json.Marshal(struct {
		plain
		ReconnectInterval    duration `json:"reconnect_interval,omitempty"`
		MaxReconnectInterval duration `json:"max_reconnect_interval,omitempty"`
		HeartbeatInterval    duration `json:"heartbeat_interval,omitempty"`
		HeartbeatTimeout     duration `json:"heartbeat_timeout,omitempty"`
		ConnectTimeout       duration `json:"connect_timeout,omitempty"`
	}{
		plain(c),
		duration(c.ReconnectInterval), duration(c.MaxReconnectInterval),
		duration(c.HeartbeatInterval), duration(c.HeartbeatTimeout), duration(c.ConnectTimeout),
	})
}

// NodeTunnelStatus is the status of one tunnel of a [NodeManager].
type NodeTunnelStatus struct {
	Name       string `json:"name"`
	From       string `json:"from"`
	To         string `json:"to"`
	Direction  string `json:"direction"` // "outbound", "inbound" or "none"
	LocalPort  int    `json:"local_port"`
	RemotePort int    `json:"remote_port"`
	// State is "pending", "connecting", "connected", "disconnected" or "failed".
	State        string     `json:"state"`
	Reason       string     `json:"reason,omitempty"` // why it failed or went down
	ConnectedAt  *time.Time `json:"connected_at"`
	LastActivity *time.Time `json:"last_activity"`
	BytesIn      uint64     `json:"bytes_in"`
	BytesOut     uint64     `json:"bytes_out"`
	LatencyMs    *float64   `json:"latency_ms"`
	Reconnects   uint64     `json:"reconnects"`
	Route        string     `json:"route,omitempty"` // outbound: "overlay" or "direct"
	RouteReason  string     `json:"route_reason,omitempty"`
	URL          string     `json:"url,omitempty"`         // outbound: the server URL in use
	PublicPort   int        `json:"public_port,omitempty"` // public tunnels, once registered
	Listen       string     `json:"listen,omitempty"`      // internal inbound: "HOST:PORT"
}

// NodeServerStatus is the server side of a [NodeManager].
type NodeServerStatus struct {
	Listen   []string `json:"listen"`   // "HOST:PORT" it listens on
	Sessions int      `json:"sessions"` // connected source nodes
}

// NodeStatus is a snapshot of a [NodeManager].
type NodeStatus struct {
	NodeName string `json:"node_name"`
	Running  bool   `json:"running"`
	// Server is nil on a node without a server side.
	Server  *NodeServerStatus  `json:"server"`
	Tunnels []NodeTunnelStatus `json:"tunnels"`

	JSON json.RawMessage `json:"-"` // the whole snapshot
}

// ServerPort is the port the node's server listens on, 0 without one (or before Start).
func (s *NodeStatus) ServerPort() int {
	if s.Server == nil || len(s.Server.Listen) == 0 {
		return 0
	}
	addr := s.Server.Listen[0]
	port, _ := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
	return port
}

// Tunnel returns the status of the tunnel called name, or nil.
func (s *NodeStatus) Tunnel(name string) *NodeTunnelStatus {
	for i := range s.Tunnels {
		if s.Tunnels[i].Name == name {
			return &s.Tunnels[i]
		}
	}
	return nil
}

// NodeManager is one node's side of node-to-node tunnels. A tunnel whose From is this node is
// outbound: an agent registers the node's service with the destination's tunnel server,
// through the overlay network or directly. A tunnel whose To is this node is inbound: the
// node's server accepts its token and, for an internal tunnel, listens on RemotePort so that
// connections there reach the source's service.
type NodeManager struct {
	c    *C.zlt_node_manager
	cb   *callbacks
	h    cgo.Handle
	life lifetime
}

// NewNodeManager creates a node manager on rt. config is a [NodeConfig], another value
// encoding/json can marshal, or JSON text (string, []byte, json.RawMessage). Nothing connects
// or listens until [NodeManager.Start] or [NodeManager.Run].
//
// An invalid configuration fails with ErrConfig and a message naming the field.
func NewNodeManager(rt *Runtime, config any) (*NodeManager, error) {
	var c *C.zlt_node_manager
	err := newFromConfig(rt, config, func(crt *C.zlt_runtime, ctext *C.char) C.int {
		return C.zlt_node_manager_new(crt, ctext, &c)
	})
	if err != nil {
		return nil, err
	}
	m := &NodeManager{c: c, cb: &callbacks{}}
	m.h = cgo.NewHandle(m.cb)
	h := m.h
	m.life.init(func() error {
		C.zlt_node_manager_free(c)
		h.Delete() // no callback runs once the free has returned
		return nil
	})
	// Both callbacks always come to Go, and OnEvent and SetOverlayResolver only swap the
	// function: setting one then never has to wait for the loop thread. With no resolver set,
	// the Go side answers "unreachable", as the library does without one.
	err = call(func() C.int { return C.zltgo_node_manager_on_event(c, C.uintptr_t(h)) })
	if err == nil {
		err = call(func() C.int { return C.zltgo_node_manager_set_overlay_resolver(c, C.uintptr_t(h)) })
	}
	if err != nil {
		m.life.close()
		return nil, err
	}
	return m, nil
}

func (m *NodeManager) use(f func() error) error {
	return m.life.use("node manager", f)
}

// OnEvent reports events to fn (nil: stop reporting), replacing any previous function. The
// kinds are "tunnel_state" (with "tunnel", "state", "direction" and, when it failed or went
// down, "reason") and "route" (with "tunnel", "route": "overlay" or "direct", "url" and, for
// a fallback, "reason").
//
// fn runs on the loop thread, shortly after the change and never from inside the manager's
// own processing, so it may call any method of this manager; it must return quickly.
func (m *NodeManager) OnEvent(fn func(Event)) {
	if fn == nil {
		m.cb.event.Store(nil)
		return
	}
	m.cb.event.Store(&fn)
}

// SetOverlayResolver sets the function that gives nodes' overlay addresses (nil: none). An
// outbound tunnel without OverlayURL asks it whenever it picks a route, and uses its DirectURL
// with the host replaced by the answer.
func (m *NodeManager) SetOverlayResolver(fn OverlayResolver) {
	if fn == nil {
		m.cb.resolver.Store(nil)
		return
	}
	m.cb.resolver.Store(&fn)
}

// AddTunnel adds a tunnel: a [NodeTunnel], another value encoding/json can marshal, or JSON
// text. On a started manager it starts at once; progress is reported through events. Errors:
// ErrConfig (a missing or invalid field, named in the message), ErrExists (a tunnel of that
// name exists).
func (m *NodeManager) AddTunnel(tunnel any) error {
	text, given, err := configJSON(tunnel)
	if err != nil {
		return err
	}
	if !given {
		return newError(ErrInvalid, "nil tunnel")
	}
	ct, err := cString(text, "tunnel")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(ct))
	return m.use(func() error {
		return call(func() C.int { return C.zlt_node_manager_add_tunnel(m.c, ct) })
	})
}

// RemoveTunnel removes a tunnel: its agent stops (outbound), or its listener is closed and its
// source's session ended (inbound). It fails with ErrNotFound for an unknown name.
func (m *NodeManager) RemoveTunnel(name string) error {
	cn, err := cString(name, "name")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cn))
	return m.use(func() error {
		return call(func() C.int { return C.zlt_node_manager_remove_tunnel(m.c, cn) })
	})
}

// Start starts the node: its server listens (if configured), inbound listeners are bound and
// outbound tunnels connect (and reconnect with backoff until stopped). It is idempotent, and a
// stopped manager may be started again. Errors: ErrConnection (the server cannot listen).
func (m *NodeManager) Start() error {
	return m.use(func() error {
		return call(func() C.int { return C.zlt_node_manager_start(m.c) })
	})
}

// Stop stops every tunnel and the server; the tunnels are kept for Start. It is idempotent.
func (m *NodeManager) Stop() error {
	return m.use(func() error {
		return call(func() C.int { return C.zlt_node_manager_stop(m.c) })
	})
}

// Run starts the node and keeps it running until ctx is done, then stops it and returns
// ctx.Err(). It returns early with an error if the node cannot start, or with ErrShutdown if
// the manager is closed meanwhile.
func (m *NodeManager) Run(ctx context.Context) error {
	if err := m.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		if err := m.Stop(); err != nil {
			return err
		}
		return ctx.Err()
	case <-m.life.done:
		return newError(ErrShutdown, "node manager is closed")
	}
}

// Status returns a snapshot of the node: its server and every tunnel's state, route and
// traffic.
func (m *NodeManager) Status() (*NodeStatus, error) {
	var out *C.char
	err := m.use(func() error {
		return call(func() C.int { return C.zlt_node_manager_status(m.c, &out) })
	})
	if err != nil {
		return nil, err
	}
	text := []byte(takeString(out))
	st := &NodeStatus{JSON: text}
	if err := json.Unmarshal(text, st); err != nil {
		return nil, newError(ErrInternal, "unreadable status: "+err.Error())
	}
	return st, nil
}

// Close stops the node if needed and releases the manager. Once Close has returned no
// callback of it runs again (unless another goroutine is inside a call on it: then that call
// releases it as it returns). It is idempotent.
func (m *NodeManager) Close() error {
	return m.life.close()
}
