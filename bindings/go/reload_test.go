package zlt_test

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

const otherToken = "other-token"

func withOther() zlt.ServerConfig {
	c := serverConfig()
	c.Tokens = append(c.Tokens, zlt.TokenEntry{Name: "other", Token: otherToken})
	return c
}

func TestReloadRevokesARemovedTokenAndKeepsTheOthers(t *testing.T) {
	f := newFixture(t)
	echo := startEcho(t)
	added, err := f.srv.Reload(withOther())
	if err != nil {
		t.Fatal(err)
	}
	if added.Tokens != 2 || added.Revoked != 0 || len(added.NeedsRestart) != 0 {
		t.Fatalf("adding a token: %+v", added)
	}
	kept, keptEvents := f.agent(t, testToken, echo.port)
	gone, goneEvents := f.agent(t, otherToken, 0)
	if err := kept.Start(); err != nil {
		t.Fatal(err)
	}
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	port := publicPort(t, keptEvents)
	goneEvents.wait(t, "authenticated")

	report, err := f.srv.Reload(serverConfig())
	if err != nil {
		t.Fatal(err)
	}
	if report.Tokens != 1 || report.Revoked != 1 {
		t.Fatalf("removing a token: %+v", report)
	}
	if e := goneEvents.wait(t, "disconnected"); !strings.Contains(e.String(), "token revoked") {
		t.Fatalf("the revoked agent's disconnect: %s", e)
	}
	if err := roundTrip(port, pattern(100000, 3)); err != nil {
		t.Fatalf("the kept tunnel: %v", err)
	}

	// A bad configuration names the field and changes nothing: the kept agent stays.
	_, err = f.srv.Reload(`{"max_connections": 0}`)
	var zerr *zlt.Error
	if !errors.As(err, &zerr) || zerr.Code != zlt.ErrConfig || !strings.Contains(err.Error(), "max_connections") {
		t.Fatalf("a bad reload: %v", err)
	}
	if _, err := f.srv.Reload(nil); err != nil {
		t.Fatalf("Reload(nil): %v", err)
	}
	if err := roundTrip(port, []byte("still here")); err != nil {
		t.Fatalf("after the refused reload: %v", err)
	}
	for _, name := range keptEvents.names() {
		if name == "disconnected" {
			t.Fatal("the kept agent was disconnected")
		}
	}
}

func TestReloadNilAppliesTheLastConfigurationAgain(t *testing.T) {
	f := newFixture(t)
	if _, err := f.srv.Reload(withOther()); err != nil {
		t.Fatal(err)
	}
	// A refused configuration does not become the last one.
	if _, err := f.srv.Reload(`{"tokens": [{"token": ""}]}`); !errors.Is(err, zlt.ErrConfig) {
		t.Fatalf("an empty token: %v", err)
	}
	report, err := f.srv.Reload(nil)
	if err != nil {
		t.Fatal(err)
	}
	if report.Tokens != 2 || report.Revoked != 0 || report.Reconnected != 0 ||
		report.TLSReloaded || len(report.NeedsRestart) != 0 {
		t.Fatalf("Reload(nil): %+v", report)
	}
	// The token the last configuration added still opens a tunnel.
	a, events := f.agent(t, otherToken, 0)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	events.wait(t, "authenticated")
}

func TestReloadReportsFieldsBoundToSockets(t *testing.T) {
	f := newFixture(t)
	c := serverConfig()
	c.PublicBind = "127.0.0.2"
	report, err := f.srv.Reload(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.NeedsRestart) != 1 || report.NeedsRestart[0] != "public_bind" {
		t.Fatalf("needs_restart: %v", report.NeedsRestart)
	}
}

func TestDrainLetsTheOpenStreamFinishThenStops(t *testing.T) {
	f := newFixture(t)
	port, _, held := openStream(t, f)

	if err := f.srv.Drain(-time.Second); !errors.Is(err, zlt.ErrInvalid) {
		t.Fatalf("a negative grace: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- f.srv.Drain(time.Minute) }()

	// Nothing new is taken, while the open stream carries on.
	deadline := time.Now().Add(5 * time.Second)
	refused := false
	for !refused && time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Fatal("the public port still takes connections during the drain")
	}
	payload := pattern(200000, 9)
	go func() { _, _ = held.Write(payload) }()
	back := make([]byte, len(payload))
	if _, err := readFull(held, back); err != nil || string(back) != string(payload) {
		t.Fatalf("the open stream during the drain: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Drain returned while a stream was open: %v", err)
	default:
	}
	held.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return after the last stream ended")
	}
	_, err := f.srv.Reload(nil)
	var zerr *zlt.Error
	if !errors.As(err, &zerr) || zerr.Code != zlt.ErrShutdown {
		t.Fatalf("Reload after the drain: %v", err)
	}
}

func TestDrainEndsTheStreamsStillOpenWhenTheGraceEnds(t *testing.T) {
	f := newFixture(t)
	_, events, held := openStream(t, f)
	buf := make([]byte, 4)

	const grace = 500 * time.Millisecond
	started := time.Now()
	done := make(chan error, 1)
	go func() { done <- f.srv.Drain(grace) }()
	if err := recv(t, done, "return from Drain"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(started); took < grace {
		t.Fatalf("Drain returned after %v, before the grace of %v with a stream open", took, grace)
	}
	// The stream was ended, the agent told, and the control endpoint is closed.
	if n, err := held.Read(buf); err == nil {
		t.Fatalf("the held stream still reads after the drain: %q", buf[:n])
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the held stream was not ended by the drain")
	}
	events.wait(t, "disconnected")
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(f.port), patience); err == nil {
		c.Close()
		t.Fatal("the control port still takes connections after the drain")
	}
	if err := f.srv.Drain(0); err != nil && !errors.Is(err, zlt.ErrShutdown) {
		t.Fatalf("Drain on a stopped server: %v", err)
	}
}

// openStream starts an agent serving an echo service through f's server and opens a
// connection to its public port that has carried a first message; it is closed when the test
// ends.
func openStream(t *testing.T, f *fixture) (port int, events *recorder, held net.Conn) {
	t.Helper()
	echo := startEcho(t)
	a, events := f.agent(t, testToken, echo.port)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	port = publicPort(t, events)
	held, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	_ = held.SetDeadline(time.Now().Add(patience))
	if _, err := held.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := readFull(held, buf); err != nil || string(buf) != "before" {
		t.Fatalf("before the drain: %q %v", buf, err)
	}
	return port, events, held
}

func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
