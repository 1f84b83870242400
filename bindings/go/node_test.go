package zlt_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

const nodeToken = "tok-db-5f1e"

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitState returns the n-th "tunnel_state" event of tunnel with state, failing after patience.
func (r *recorder) waitState(t *testing.T, tunnel, state string, n int) zlt.Event {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		seen := 0
		for _, e := range r.events {
			if e.Name == "tunnel_state" && e.StringField("tunnel") == tunnel &&
				e.StringField("state") == state {
				if seen++; seen == n {
					r.mu.Unlock()
					return e
				}
			}
		}
		wake := r.wake
		r.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("no %s %q event (#%d) within %v; got %v", tunnel, state, n, patience, r.names())
		}
	}
}

// twoNodes is node b (server side, the inbound tunnel "db") and node a (outbound side, no
// tunnels yet), each on its own runtime as two processes would be, both started.
type twoNodes struct {
	echo        *echoService
	a, b        *zlt.NodeManager
	aEv, bEv    *recorder
	controlPort int
	remotePort  int
}

func (n *twoNodes) tunnel() zlt.NodeTunnel {
	return zlt.NodeTunnel{
		Name: "db", From: "node-a", To: "node-b",
		LocalPort: n.echo.port, RemotePort: n.remotePort,
		Expose: "internal", Token: nodeToken,
	}
}

func newManager(t *testing.T, config any) (*zlt.NodeManager, *recorder) {
	t.Helper()
	rt, err := zlt.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("Runtime.Close: %v", err)
		}
	})
	m, err := zlt.NewNodeManager(rt, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	events := newRecorder()
	m.OnEvent(events.record)
	return m, events
}

func startTwoNodes(t *testing.T) *twoNodes {
	t.Helper()
	n := &twoNodes{echo: startEcho(t), remotePort: freePort(t)}
	n.b, n.bEv = newManager(t, zlt.NodeConfig{
		NodeName: "node-b",
		Server: &zlt.ServerConfig{
			Listen: "127.0.0.1:0", PublicBind: "127.0.0.1", DataPortRange: &zlt.PortRange{0, 0},
		},
		Tunnels: []zlt.NodeTunnel{n.tunnel()},
	})
	if err := n.b.Start(); err != nil {
		t.Fatal(err)
	}
	st, err := n.b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if n.controlPort = st.ServerPort(); n.controlPort == 0 {
		t.Fatalf("node b listens nowhere: %s", st.JSON)
	}
	n.a, n.aEv = newManager(t, zlt.NodeConfig{
		NodeName:             "node-a",
		ReconnectInterval:    50 * time.Millisecond,
		MaxReconnectInterval: 200 * time.Millisecond,
		ConnectTimeout:       2 * time.Second,
	})
	if err := n.a.Start(); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *twoNodes) url() string {
	return "ws://127.0.0.1:" + strconv.Itoa(n.controlPort) + "/tunnel/v1"
}

func TestNodeTunnelCarriesBytesThroughTheOverlayRoute(t *testing.T) {
	n := startTwoNodes(t)
	var mu sync.Mutex
	var asked []string
	n.a.SetOverlayResolver(func(node string) (string, bool) {
		mu.Lock()
		asked = append(asked, node)
		mu.Unlock()
		return "127.0.0.1", node == "node-b"
	})
	tun := n.tunnel()
	tun.DirectURL = n.url()
	if err := n.a.AddTunnel(tun); err != nil {
		t.Fatal(err)
	}
	n.aEv.waitState(t, "db", "connected", 1)
	n.bEv.waitState(t, "db", "connected", 1)
	if first := n.aEv.waitN(t, "tunnel_state", 1); first.StringField("state") != "connecting" {
		t.Errorf("first state event: %s", first)
	}
	route := n.aEv.wait(t, "route")
	if route.StringField("route") != "overlay" || route.StringField("url") != n.url() {
		t.Errorf("route event: %s", route)
	}
	mu.Lock()
	if len(asked) == 0 || asked[0] != "node-b" {
		t.Errorf("the resolver was asked %v", asked)
	}
	mu.Unlock()

	// b's inbound listener reaches the echo service next to a.
	if err := roundTrip(n.remotePort, pattern(1<<20, 7)); err != nil {
		t.Fatal(err)
	}
	st, err := n.a.Status()
	if err != nil {
		t.Fatal(err)
	}
	db := st.Tunnel("db")
	if !st.Running || st.Server != nil || db == nil || db.State != "connected" ||
		db.Direction != "outbound" || db.Route != "overlay" || db.ConnectedAt == nil {
		t.Fatalf("node a status: %s", st.JSON)
	}
	stb, err := n.b.Status()
	if err != nil {
		t.Fatal(err)
	}
	if in := stb.Tunnel("db"); in == nil || in.Direction != "inbound" ||
		in.Listen != "127.0.0.1:"+strconv.Itoa(n.remotePort) {
		t.Fatalf("node b status: %s", stb.JSON)
	}

	// Removing the tunnel on a ends it on b too.
	if err := n.a.RemoveTunnel("db"); err != nil {
		t.Fatal(err)
	}
	n.bEv.waitState(t, "db", "disconnected", 1)
	if err := n.a.RemoveTunnel("db"); !errors.Is(err, zlt.ErrNotFound) {
		t.Errorf("second RemoveTunnel: %v", err)
	}
}

func TestNodeRunStopsWithTheContextAndCallbacksCallBack(t *testing.T) {
	n := startTwoNodes(t)
	statuses := make(chan string, 4)
	// A fresh recorder, its hook set before OnEvent publishes it to the loop thread.
	n.aEv = newRecorder()
	n.aEv.hook = func(e zlt.Event) {
		if e.Name == "tunnel_state" && e.StringField("state") == "connected" {
			st, err := n.a.Status() // from inside the callback
			if err == nil && len(st.Tunnels) == 1 {
				offer(statuses, st.Tunnels[0].State)
			}
		}
	}
	n.a.OnEvent(n.aEv.record)
	tun := n.tunnel()
	tun.RoutingMode = "directonly"
	tun.DirectURL = n.url()
	if err := n.a.AddTunnel(tun); err != nil {
		t.Fatal(err)
	}
	n.aEv.waitState(t, "db", "connected", 1)
	if s := recv(t, statuses, "status from the callback"); s != "connected" {
		t.Errorf("status read in the callback: %q", s)
	}
	if err := n.a.Stop(); err != nil {
		t.Fatal(err)
	}
	if e := n.aEv.waitState(t, "db", "disconnected", 1); e.StringField("reason") != "node shutting down" {
		t.Errorf("disconnected: %s", e)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.a.Run(ctx) }()
	n.aEv.waitState(t, "db", "connected", 2)
	n.bEv.waitState(t, "db", "connected", 2)
	if err := roundTrip(n.remotePort, []byte("again")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := recv(t, done, "Run's return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	n.aEv.waitState(t, "db", "disconnected", 2)
}

func TestNodeErrors(t *testing.T) {
	rt, err := zlt.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if _, err := zlt.NewNodeManager(rt, nil); !errors.Is(err, zlt.ErrConfig) {
		t.Errorf("nil config: %v", err)
	}
	if _, err := zlt.NewNodeManager(rt, "{"); !errors.Is(err, zlt.ErrConfig) {
		t.Errorf("bad JSON: %v", err)
	}
	inbound := zlt.NodeConfig{NodeName: "node-b", Tunnels: []zlt.NodeTunnel{{
		Name: "db", From: "node-a", To: "node-b", LocalPort: 1, Token: "t"}}}
	if _, err := zlt.NewNodeManager(rt, inbound); !errors.Is(err, zlt.ErrConfig) {
		t.Errorf("inbound tunnel without a server: %v", err)
	}
	m, err := zlt.NewNodeManager(rt, zlt.NodeConfig{NodeName: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.AddTunnel(`{"name":"x"}`); !errors.Is(err, zlt.ErrConfig) {
		t.Errorf("incomplete tunnel: %v", err)
	}
	if err := m.AddTunnel(nil); !errors.Is(err, zlt.ErrInvalid) {
		t.Errorf("nil tunnel: %v", err)
	}
	tun := zlt.NodeTunnel{Name: "db", From: "node-a", To: "node-b", LocalPort: 1,
		DirectURL: "ws://127.0.0.1:1/tunnel/v1"}
	if err := m.AddTunnel(tun); err != nil {
		t.Fatal(err)
	}
	if err := m.AddTunnel(tun); !errors.Is(err, zlt.ErrExists) {
		t.Errorf("duplicate tunnel: %v", err)
	}
	if err := m.RemoveTunnel("nope"); !errors.Is(err, zlt.ErrNotFound) {
		t.Errorf("unknown tunnel: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Status(); !errors.Is(err, zlt.ErrShutdown) {
		t.Errorf("Status after Close: %v", err)
	}
}
