package zlt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

func TestVersion(t *testing.T) {
	if v := zlt.Version(); !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(v) {
		t.Fatalf("Version() = %q", v)
	}
}

func TestHashToken(t *testing.T) {
	got, err := zlt.HashToken("test")
	if err != nil {
		t.Fatal(err)
	}
	if want := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"; got != want {
		t.Fatalf("HashToken(\"test\") = %s, want %s", got, want)
	}
	// C would see a shorter token than the caller meant.
	if _, err := zlt.HashToken("te\x00st"); !errors.Is(err, zlt.ErrInvalid) {
		t.Fatalf("a token with a NUL byte: err = %v, want ErrInvalid", err)
	}
}

func TestNewToken(t *testing.T) {
	a, err := zlt.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := zlt.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^tun_[0-9a-f]{32}$`).MatchString(a) || a == b {
		t.Fatalf("NewToken() = %q then %q", a, b)
	}
}

func TestSetLogLevel(t *testing.T) {
	if err := zlt.SetLogLevel("warn"); err != nil {
		t.Fatal(err)
	}
	err := zlt.SetLogLevel("chatty")
	var e *zlt.Error
	if !errors.As(err, &e) || e.Code != zlt.ErrInvalid || !strings.Contains(e.Message, "unknown level 'chatty'") {
		t.Fatalf("SetLogLevel(\"chatty\") = %v", err)
	}
}

func TestEveryCodeHasTheLibrarysText(t *testing.T) {
	codes := []zlt.Code{zlt.ErrProtocol, zlt.ErrAuth, zlt.ErrConnection, zlt.ErrRegistry,
		zlt.ErrConfig, zlt.ErrTimeout, zlt.ErrShutdown, zlt.ErrInvalid, zlt.ErrNotFound,
		zlt.ErrExists, zlt.ErrLimit, zlt.ErrIO, zlt.ErrInternal, zlt.ErrNoMemory, zlt.ErrClosed}
	seen := map[string]zlt.Code{}
	for _, c := range codes {
		text := c.Error()
		if text == "" || text == "unknown error" {
			t.Errorf("code %d: %q", int(c), text)
		}
		if other, dup := seen[text]; dup {
			t.Errorf("codes %d and %d share the text %q", int(c), int(other), text)
		}
		seen[text] = c
	}
	if int(zlt.ErrClosed) != -15 {
		t.Fatalf("ErrClosed = %d", int(zlt.ErrClosed))
	}
}

func TestErrorsCarryCodeAndMessage(t *testing.T) {
	rt, err := zlt.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()

	cases := []struct {
		name    string
		server  bool
		config  any
		mention string
	}{
		{"server wrong type", true, `{"listen":5}`, "listen"},
		{"server bad JSON", true, `{`, "invalid JSON"},
		{"server unknown key from a map", true, map[string]any{"bogus": true}, "unknown key 'bogus'"},
		{"server bad port range", true, json.RawMessage(`{"data_port_range":[1]}`), "data_port_range"},
		{"agent without config", false, nil, "server_url"},
		{"agent wrong type", false, []byte(`{"server_url":"ws://127.0.0.1:1/tunnel/v1","token":"t",` +
			`"services":[{"name":"a","local_port":"x"}]}`), "services[0].local_port"},
		{"agent typed config without token", false, zlt.AgentConfig{ServerURL: "ws://127.0.0.1:1/tunnel/v1"}, "token"},
		{"agent bad scheme", false, zlt.AgentConfig{ServerURL: "http://x", Token: "t"}, "server_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.server {
				var s *zlt.Server
				s, err = zlt.NewServer(rt, c.config)
				if s != nil {
					t.Error("a server came back with the error")
				}
			} else {
				var a *zlt.Agent
				a, err = zlt.NewAgent(rt, c.config)
				if a != nil {
					t.Error("an agent came back with the error")
				}
			}
			if !errors.Is(err, zlt.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			var e *zlt.Error
			if !errors.As(err, &e) || e.Code != zlt.ErrConfig || !strings.Contains(e.Message, c.mention) {
				t.Fatalf("err = %#v, want a message naming %q", err, c.mention)
			}
			if !strings.HasPrefix(err.Error(), "zlt: invalid configuration: ") {
				t.Errorf("Error() = %q", err.Error())
			}
			if errors.Is(err, zlt.ErrInvalid) {
				t.Error("errors.Is matched another code")
			}
		})
	}

	// The defaults are a valid server; the port check is the library's.
	srv, err := zlt.NewServer(rt, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, port := range []int{70000, 1<<32 + 80} {
		_, err := srv.Listen("127.0.0.1", port)
		if !errors.Is(err, zlt.ErrInvalid) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
			t.Errorf("Listen on port %d: %v", port, err)
		}
	}
}

func TestTunnelCarriesBytes(t *testing.T) {
	echo := startEcho(t)
	f := newFixture(t)
	agent, events := f.agent(t, testToken, echo.port)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	port := publicPort(t, events)
	connected := f.events.wait(t, "tunnel_connected")
	if name := connected.StringField("name"); name != "test" {
		t.Errorf("tunnel_connected name = %q, want the token's name", name)
	}

	if err := roundTrip(port, []byte("hello from Go")); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(port, pattern(1<<20, 1)); err != nil {
		t.Fatalf("1 MB: %v", err)
	}
	// Several connections at once, each its own stream in the one tunnel.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs <- roundTrip(port, pattern(256<<10, byte(i+2)))
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent connection: %v", err)
		}
	}

	st, err := agent.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "connected" || len(st.Services) != 1 || st.Services[0].PublicPort != port ||
		st.Services[0].Status != "registered" || st.TunnelID == "" || st.ConnectedAt.IsZero() {
		t.Errorf("agent status: %s", st.JSON)
	}
	ss, err := f.srv.Status()
	if err != nil {
		t.Fatal(err)
	}
	if ss.TunnelCount != 1 || len(ss.Tunnels) != 1 || len(ss.Tunnels[0].Services) != 1 ||
		ss.Tunnels[0].Services[0].AssignedPort != port {
		t.Errorf("server status: %s", ss.JSON)
	}
	if min := uint64(2*(1<<20) + 2*4*(256<<10)); ss.Traffic.BytesIn+ss.Traffic.BytesOut < min {
		t.Errorf("server traffic %+v, want at least %d bytes in all", ss.Traffic, min)
	}

	if err := agent.Stop(); err != nil {
		t.Fatal(err)
	}
	f.events.wait(t, "tunnel_disconnected")
	if err := agent.Stop(); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
}

func TestTokenValidatorAccepts(t *testing.T) {
	echo := startEcho(t)
	f := newFixture(t)
	type call struct{ token, hash string }
	calls := make(chan call, 8)
	err := f.srv.SetTokenValidator(func(token, hash string) (bool, string, *zlt.Grant) {
		offer(calls, call{token, hash})
		return true, "", &zlt.Grant{Name: "from-host", AllowedPorts: &zlt.PortRange{1024, 65535}}
	})
	if err != nil {
		t.Fatal(err)
	}
	// The configured list knows nothing of this token: only the validator admits it.
	agent, events := f.agent(t, "host-token", echo.port)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	port := publicPort(t, events)
	if err := roundTrip(port, []byte("validated")); err != nil {
		t.Fatal(err)
	}
	c := recv(t, calls, "validator call")
	want, _ := zlt.HashToken("host-token")
	if c.token != "host-token" || c.hash != want {
		t.Errorf("validator saw %+v", c)
	}
	if name := f.events.wait(t, "tunnel_connected").StringField("name"); name != "from-host" {
		t.Errorf("the grant's name did not reach the server: %q", name)
	}
}

func TestTokenValidatorRefuses(t *testing.T) {
	f := newFixture(t)
	err := f.srv.SetTokenValidator(func(token, hash string) (bool, string, *zlt.Grant) {
		return false, "go away, said the host", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	agent, events := f.agent(t, testToken, 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	failed := events.wait(t, "auth_failed")
	if reason := failed.StringField("reason"); !strings.Contains(reason, "go away, said the host") {
		t.Fatalf("auth_failed reason %q", reason)
	}
	// Back to the configured token list, which knows the agent's token; it retries.
	if err := f.srv.SetTokenValidator(nil); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated")
}

func TestInvalidGrantRefusesTheToken(t *testing.T) {
	log.SetOutput(io.Discard) // the refusal is logged
	defer log.SetOutput(defaultLogOutput())
	f := newFixture(t)
	err := f.srv.SetTokenValidator(func(token, hash string) (bool, string, *zlt.Grant) {
		return true, "", &zlt.Grant{AllowedPorts: &zlt.PortRange{0, 10}} // port 0 is not allowed
	})
	if err != nil {
		t.Fatal(err)
	}
	agent, events := f.agent(t, testToken, 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "auth_failed")
}

func TestValidatorPanicIsRecovered(t *testing.T) {
	var logged lockedBuffer
	log.SetOutput(&logged)
	defer log.SetOutput(defaultLogOutput())
	f := newFixture(t)
	err := f.srv.SetTokenValidator(func(token, hash string) (bool, string, *zlt.Grant) {
		panic("validator bug")
	})
	if err != nil {
		t.Fatal(err)
	}
	agent, events := f.agent(t, testToken, 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "auth_failed")
	if !strings.Contains(logged.String(), "panic in token validator callback (recovered): validator bug") {
		t.Errorf("log: %q", logged.String())
	}
	// The runtime carries on.
	if _, err := f.srv.Status(); err != nil {
		t.Fatal(err)
	}
}

func TestValidatorCannotRemoveItself(t *testing.T) {
	f := newFixture(t)
	errs := make(chan error, 8)
	err := f.srv.SetTokenValidator(func(token, hash string) (bool, string, *zlt.Grant) {
		offer(errs, f.srv.SetTokenValidator(nil))
		return true, "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	agent, events := f.agent(t, "any", 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated")
	if err := recv(t, errs, "validator call"); !errors.Is(err, zlt.ErrInvalid) {
		t.Fatalf("removing the validator from inside it: %v", err)
	}
}

func TestOnConnectionRefuses(t *testing.T) {
	echo := startEcho(t)
	f := newFixture(t)
	agent, events := f.agent(t, testToken, echo.port)
	type decision struct{ service, conn, addr string }
	decisions := make(chan decision, 8)
	agent.OnConnection(func(serviceID, connectionID, clientAddr string) bool {
		offer(decisions, decision{serviceID, connectionID, clientAddr})
		return false
	})
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	port := publicPort(t, events)

	if err := refusedConnection(port); err != nil {
		t.Fatal(err)
	}
	d := recv(t, decisions, "connection decision")
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if !uuid.MatchString(d.service) || !uuid.MatchString(d.conn) || !strings.HasPrefix(d.addr, "127.0.0.1:") {
		t.Errorf("the filter saw %+v", d)
	}
	if n := echo.accepted.Load(); n != 0 {
		t.Errorf("the local service was dialed %d times", n)
	}

	// Without the filter everything is accepted again.
	agent.OnConnection(nil)
	if err := roundTrip(port, []byte("now accepted")); err != nil {
		t.Fatal(err)
	}
}

// refusedConnection checks that a connection to the public port is closed without an answer.
// The refusal takes only a loopback round trip to the agent, so the reset may already be
// there when the dial completes.
func refusedConnection(port int) error {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	} else if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(patience))
	_, _ = c.Write([]byte("let me in"))
	n, err := c.Read(make([]byte, 16))
	switch {
	case err == nil:
		return fmt.Errorf("a refused connection read %d bytes", n)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("a refused connection stayed open")
	}
	return nil // end of file or reset
}

func TestRunStopsWhenContextIsDone(t *testing.T) {
	f := newFixture(t)
	agent, events := f.agent(t, testToken, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	events.wait(t, "authenticated")
	f.events.wait(t, "tunnel_connected")

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2 s of the cancellation")
	}
	f.events.wait(t, "tunnel_disconnected")
	st, err := agent.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "disconnected" {
		t.Errorf("state after Run: %q", st.State)
	}
}

func TestRunReturnsWhenClosed(t *testing.T) {
	f := newFixture(t)
	agent, events := f.agent(t, testToken, 0)
	done := make(chan error, 1)
	go func() { done <- agent.Run(context.Background()) }()
	events.wait(t, "authenticated")
	if err := agent.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, zlt.ErrShutdown) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}

func TestCloseIsIdempotent(t *testing.T) {
	f := newFixture(t)
	agent, events := f.agent(t, testToken, 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated")

	for i := 0; i < 2; i++ {
		if err := agent.Close(); err != nil {
			t.Fatalf("agent Close #%d: %v", i+1, err)
		}
	}
	seen := events.count()
	for name, err := range map[string]error{
		"Start":  agent.Start(),
		"Stop":   agent.Stop(),
		"Status": func() error { _, err := agent.Status(); return err }(),
	} {
		if !errors.Is(err, zlt.ErrShutdown) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	for i := 0; i < 2; i++ {
		if err := f.srv.Close(); err != nil {
			t.Fatalf("server Close #%d: %v", i+1, err)
		}
	}
	if _, err := f.srv.Listen("127.0.0.1", 0); !errors.Is(err, zlt.ErrShutdown) {
		t.Errorf("Listen after Close: %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := f.rt.Close(); err != nil {
			t.Fatalf("runtime Close #%d: %v", i+1, err)
		}
	}
	if _, err := zlt.NewServer(f.rt, nil); !errors.Is(err, zlt.ErrShutdown) {
		t.Errorf("NewServer on a closed runtime: %v", err)
	}
	if events.count() != seen {
		t.Errorf("events after Close: %v", events.names()[seen:])
	}
}

// Close may come while other goroutines are inside calls on the same objects: they either
// complete or fail with ErrShutdown, and nothing is used after it is freed.
func TestCloseWhileCallsAreInFlight(t *testing.T) {
	f := newFixture(t)
	agent, events := f.agent(t, testToken, 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated")
	var wg sync.WaitGroup
	unexpected := make(chan error, 16)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, aerr := agent.Status()
				_, serr := f.srv.Status()
				for _, err := range []error{aerr, serr} {
					if err != nil && !errors.Is(err, zlt.ErrShutdown) {
						offer(unexpected, err)
					}
				}
				if aerr != nil && serr != nil {
					return
				}
			}
		}()
	}
	if err := agent.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(unexpected)
	for err := range unexpected {
		t.Error(err)
	}
}

func TestRuntimeClosedBeforeItsObjects(t *testing.T) {
	f := newFixture(t)
	agent, events := f.agent(t, testToken, 0)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated")
	if err := f.rt.Close(); err != nil {
		t.Fatal(err)
	}
	seen := events.count()
	// The library answers for objects whose runtime is gone, with its own message.
	_, err := agent.Status()
	var e *zlt.Error
	if !errors.As(err, &e) || e.Code != zlt.ErrShutdown || e.Message == "" {
		t.Fatalf("Status after the runtime closed: %#v", err)
	}
	if _, err := f.srv.Status(); !errors.Is(err, zlt.ErrShutdown) {
		t.Fatalf("server Status after the runtime closed: %v", err)
	}
	if err := agent.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if events.count() != seen {
		t.Errorf("events after the runtime closed: %v", events.names()[seen:])
	}
}

func TestCallbacksMayCallBack(t *testing.T) {
	echo := startEcho(t)
	f := newFixture(t)
	type inner struct {
		state  string
		server int
		err    error
	}
	results := make(chan inner, 1)
	var agent *zlt.Agent
	var ready sync.WaitGroup
	ready.Add(1)
	events := newRecorder()
	events.hook = func(e zlt.Event) {
		if e.Name != "service_registered" {
			return
		}
		ready.Wait() // agent is assigned before the agent starts; this orders it for the race detector
		var r inner
		st, err := agent.Status()
		if err == nil {
			r.state = st.State
			var ss *zlt.ServerStatus
			if ss, err = f.srv.Status(); err == nil {
				r.server = ss.ServiceCount
			}
		}
		r.err = err
		offer(results, r)
	}
	var err error
	agent, err = zlt.NewAgent(f.rt, agentConfig(f.port, testToken, echo.port))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	agent.OnEvent(events.record)
	ready.Done()
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	r := recv(t, results, "status from the callback")
	if r.err != nil || r.state != "connected" || r.server != 1 {
		t.Fatalf("status from inside a callback: %+v", r)
	}
}

func TestCloseFromInsideItsOwnCallback(t *testing.T) {
	f := newFixture(t)
	agent, err := zlt.NewAgent(f.rt, agentConfig(f.port, testToken, 0))
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	agent.OnEvent(func(e zlt.Event) {
		if e.Name == "authenticated" {
			offer(closed, agent.Close())
		}
	})
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(patience):
		t.Fatal("no authenticated event")
	}
	// Freeing the agent closes its session; the server notices.
	f.events.wait(t, "tunnel_disconnected")
}

func TestRuntimeCannotBeClosedFromItsCallback(t *testing.T) {
	f := newFixture(t)
	agent, err := zlt.NewAgent(f.rt, agentConfig(f.port, testToken, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	result := make(chan error, 1)
	agent.OnEvent(func(e zlt.Event) {
		if e.Name == "authenticated" {
			offer(result, f.rt.Close())
		}
	})
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	err = recv(t, result, "Runtime.Close from the callback")
	var e *zlt.Error
	if !errors.As(err, &e) || e.Code != zlt.ErrInvalid || !strings.Contains(e.Message, "zlt_runtime_free") {
		t.Fatalf("Runtime.Close from a callback: %#v", err)
	}
	// Still running.
	if _, err := agent.Status(); err != nil {
		t.Fatal(err)
	}
}

func TestEventPanicIsRecovered(t *testing.T) {
	var logged lockedBuffer
	log.SetOutput(&logged)
	defer log.SetOutput(defaultLogOutput())
	f := newFixture(t)
	agent, events := f.agent(t, testToken, 0)
	agent.OnEvent(func(e zlt.Event) {
		events.record(e)
		panic("event handler bug")
	})
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated") // later events still arrive
	if !strings.Contains(logged.String(), "panic in event callback (recovered): event handler bug") {
		t.Errorf("log: %q", logged.String())
	}
}

func TestAcceptTakesAHostConnection(t *testing.T) {
	echo := startEcho(t)
	f := newFixture(t)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			accepted <- err
			return
		}
		accepted <- f.srv.Accept(c)
	}()
	a, err := zlt.NewAgent(f.rt, agentConfig(ln.Addr().(*net.TCPAddr).Port, testToken, echo.port))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	events := newRecorder()
	a.OnEvent(events.record)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, accepted, "accepted connection"); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if err := roundTrip(publicPort(t, events), []byte("adopted")); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptAfterStopClosesTheConnection(t *testing.T) {
	f := newFixture(t)
	if err := f.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	ours, theirs := tcpPair(t)
	defer ours.Close()
	if err := f.srv.Accept(theirs); !errors.Is(err, zlt.ErrShutdown) {
		t.Fatalf("Accept on a stopped server: %v", err)
	}
	_ = ours.SetReadDeadline(time.Now().Add(patience))
	if _, err := ours.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the connection handed over was not closed: %v", err)
	}
}

func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	return c, s
}

func TestSetLogger(t *testing.T) {
	var out lockedBuffer
	if err := zlt.SetLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))); err != nil {
		t.Fatal(err)
	}
	defer zlt.SetLogger(nil)
	if err := zlt.SetLogLevel("info"); err != nil {
		t.Fatal(err)
	}
	defer zlt.SetLogLevel("warn")
	rt, err := zlt.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	// No tokens: the server warns that every agent will be refused.
	srv, err := zlt.NewServer(rt, `{"listen":"127.0.0.1:0"}`)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if !strings.Contains(out.String(), "level=WARN msg=\"no tokens configured") ||
		!strings.Contains(out.String(), "component=server") {
		t.Fatalf("records: %s", out.String())
	}
}

func TestConfigJSON(t *testing.T) {
	b, err := json.Marshal(zlt.ServerConfig{
		Listen:            "127.0.0.1:0",
		DataPortRange:     &zlt.PortRange{0, 0},
		HeartbeatInterval: 1500 * time.Millisecond,
		AuthTimeout:       2 * time.Second,
		UDPIdleTimeout:    time.Microsecond, // rounded up, not down to zero
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"listen":"127.0.0.1:0","data_port_range":[0,0],"heartbeat_interval":"1500ms",` +
		`"auth_timeout":"2s","udp_idle_timeout":"1ms"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}

	var a zlt.AgentConfig
	in := `{"server_url":"ws://h:1/tunnel/v1","token":"t","reconnect_interval":"250ms",` +
		`"max_reconnect_interval":60,"connect_timeout":"10","services":[{"name":"web","local_port":8080}]}`
	if err := json.Unmarshal([]byte(in), &a); err != nil {
		t.Fatal(err)
	}
	if a.ReconnectInterval != 250*time.Millisecond || a.MaxReconnectInterval != time.Minute ||
		a.ConnectTimeout != 10*time.Second || len(a.Services) != 1 || a.Services[0].LocalPort != 8080 {
		t.Fatalf("decoded %+v", a)
	}
	back, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(back, []byte(`"max_reconnect_interval":"60s"`)) {
		t.Fatalf("re-encoded %s", back)
	}
	// The library agrees with what the types produce.
	rt, err := zlt.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	agent, err := zlt.NewAgent(rt, a)
	if err != nil {
		t.Fatal(err)
	}
	agent.Close()
	full := serverConfig()
	full.ControlPath = "/tunnel/v1"
	full.MaxTunnels, full.MaxServicesPerTunnel, full.MaxStreamsPerTunnel = 10, 5, 100
	full.HeartbeatInterval, full.HeartbeatTimeout = 2*time.Second, 3*time.Second
	full.AuthTimeout, full.ConnectTimeout, full.UDPIdleTimeout = time.Second, time.Second, time.Minute
	enabled := true
	full.Enabled = &enabled
	full.RoutingMode = "directonly"
	sha, _ := zlt.HashToken("other")
	full.Tokens = append(full.Tokens, zlt.TokenEntry{Name: "b", SHA256: sha, AllowedPorts: &zlt.PortRange{40000, 40010},
		Allow: []string{"service:db"}})
	srv, err := zlt.NewServer(rt, &full)
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
}

func TestEventFields(t *testing.T) {
	e := zlt.Event{Name: "service_registered",
		JSON: json.RawMessage(`{"event":"service_registered","name":"web","public_port":30001,"service_id":null}`)}
	if p, ok := e.IntField("public_port"); !ok || p != 30001 {
		t.Errorf("IntField(public_port) = %d, %v", p, ok)
	}
	if _, ok := e.IntField("service_id"); ok {
		t.Error("a null field read as a number")
	}
	if _, ok := e.IntField("name"); ok {
		t.Error("a string field read as a number")
	}
	if s := e.StringField("name"); s != "web" {
		t.Errorf("StringField(name) = %q", s)
	}
	var v struct {
		PublicPort int `json:"public_port"`
	}
	if err := e.Decode(&v); err != nil || v.PublicPort != 30001 {
		t.Errorf("Decode: %+v, %v", v, err)
	}
	if e.String() != string(e.JSON) {
		t.Error("String() is not the JSON")
	}
}
