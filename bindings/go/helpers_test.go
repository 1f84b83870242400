package zlt_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

// How long a test waits for something the tunnel should do within milliseconds on loopback.
const patience = 10 * time.Second

const testToken = "s3cret"

// recorder keeps the events of one object. Waiters are woken by closing a channel that each
// new event replaces, so any number of them can wait for different things.
type recorder struct {
	mu     sync.Mutex
	events []zlt.Event
	wake   chan struct{}
	hook   func(zlt.Event) // runs on the loop thread before the event is recorded
}

func newRecorder() *recorder {
	return &recorder{wake: make(chan struct{})}
}

func (r *recorder) record(e zlt.Event) {
	if r.hook != nil {
		r.hook(e)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	close(r.wake)
	r.wake = make(chan struct{})
}

// waitN returns the n-th event (1-based) named name, failing the test after patience.
func (r *recorder) waitN(t *testing.T, name string, n int) zlt.Event {
	t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		seen := 0
		for _, e := range r.events {
			if e.Name == name {
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
			t.Fatalf("no %q event (#%d) within %v; got %v", name, n, patience, r.names())
		}
	}
}

func (r *recorder) wait(t *testing.T, name string) zlt.Event {
	t.Helper()
	return r.waitN(t, name, 1)
}

func (r *recorder) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Name)
	}
	return out
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// fixture is a runtime and a server listening on a kernel-chosen loopback port, closed when
// the test ends.
type fixture struct {
	rt     *zlt.Runtime
	srv    *zlt.Server
	port   int
	events *recorder
}

func serverConfig() zlt.ServerConfig {
	return zlt.ServerConfig{
		Listen:        "127.0.0.1:0",
		PublicBind:    "127.0.0.1",
		DataPortRange: &zlt.PortRange{0, 0},
		Tokens:        []zlt.TokenEntry{{Name: "test", Token: testToken}},
	}
}

func newFixture(t *testing.T) *fixture {
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
	srv, err := zlt.NewServer(rt, serverConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &fixture{rt: rt, srv: srv, events: newRecorder()}
	srv.OnEvent(f.events.record)
	if f.port, err = srv.Listen("127.0.0.1", 0); err != nil {
		t.Fatal(err)
	}
	if f.port <= 0 {
		t.Fatalf("Listen returned port %d", f.port)
	}
	return f
}

func agentConfig(controlPort int, token string, localPort int) zlt.AgentConfig {
	c := zlt.AgentConfig{
		ServerURL:            "ws://127.0.0.1:" + strconv.Itoa(controlPort) + "/tunnel/v1",
		Token:                token,
		ReconnectInterval:    100 * time.Millisecond,
		MaxReconnectInterval: time.Second,
	}
	if localPort != 0 {
		c.Services = []zlt.Service{{Name: "echo", Protocol: zlt.TCP, LocalPort: localPort}}
	}
	return c
}

// agent creates an agent for the fixture's server (not started), closed when the test ends.
func (f *fixture) agent(t *testing.T, token string, localPort int) (*zlt.Agent, *recorder) {
	t.Helper()
	a, err := zlt.NewAgent(f.rt, agentConfig(f.port, token, localPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	events := newRecorder()
	a.OnEvent(events.record)
	return a, events
}

// publicPort waits for the agent's service to be registered and returns its public port.
func publicPort(t *testing.T, events *recorder) int {
	t.Helper()
	e := events.wait(t, "service_registered")
	port, ok := e.IntField("public_port")
	if !ok || port <= 0 {
		t.Fatalf("service_registered without a public port: %s", e)
	}
	return port
}

// echoService is a local TCP service that sends back whatever it receives.
type echoService struct {
	port     int
	accepted atomic.Int32
}

func startEcho(t *testing.T) *echoService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoService{port: ln.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(patience))
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return s
}

// roundTrip sends payload to 127.0.0.1:port and checks that the same bytes come back.
func roundTrip(port int, payload []byte) error {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), patience)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(patience))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	back := make([]byte, len(payload))
	if _, err := io.ReadFull(c, back); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	if sha256.Sum256(back) != sha256.Sum256(payload) {
		return fmt.Errorf("the %d bytes came back changed", len(payload))
	}
	return nil
}

// pattern returns n bytes that are not a repetition of a short block, so that misplaced
// chunks show up in the hash.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// lockedBuffer collects log output written from the loop thread.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// defaultLogOutput is where the standard logger writes when no test has redirected it.
func defaultLogOutput() io.Writer { return os.Stderr }

// recv receives from ch, failing the test after patience.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(patience):
		t.Fatalf("no %s within %v", what, patience)
		panic("unreachable")
	}
}

// offer sends v if ch has room. Callbacks use it: blocking there would stall the loop thread.
func offer[T any](ch chan<- T, v T) {
	select {
	case ch <- v:
	default:
	}
}
