package zlt_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

// exposeInternalEcho starts an agent exposing an echo service as the internal service "echo"
// (reachable only as "service:echo") and waits until it is registered.
func (f *fixture) exposeInternalEcho(t *testing.T) *echoService {
	t.Helper()
	echo := startEcho(t)
	config := agentConfig(f.port, testToken, 0)
	config.Services = []zlt.Service{{Name: "echo", LocalPort: echo.port, Internal: true}}
	a, err := zlt.NewAgent(f.rt, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	events := newRecorder()
	a.OnEvent(events.record)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	e := events.wait(t, "service_registered")
	if port, ok := e.IntField("public_port"); ok && port != 0 {
		t.Fatalf("an internal service got a public port: %s", e)
	}
	return echo
}

// access creates an access object for the fixture's server with token, closed when the test
// ends.
func (f *fixture) access(t *testing.T, token string, defaultTTL time.Duration) (*zlt.Access, *recorder) {
	t.Helper()
	a, err := zlt.NewAccess(f.rt, zlt.AccessConfig{
		AgentConfig: zlt.AgentConfig{
			ServerURL:         "ws://127.0.0.1:" + strconv.Itoa(f.port) + "/tunnel/v1",
			Token:             token,
			ReconnectInterval: 100 * time.Millisecond,
		},
		DefaultTTL: defaultTTL,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	events := newRecorder()
	a.OnEvent(events.record)
	return a, events
}

func TestAccessThroughAGrantUntilRevoked(t *testing.T) {
	f := newFixture(t)
	echo := f.exposeInternalEcho(t)
	grant, err := f.srv.GrantAccess([]string{"service:echo"}, 10*time.Minute, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(grant.Token, "tun_") || grant.Name != "alice" || grant.GrantID == "" {
		t.Fatalf("grant = %+v", grant)
	}
	if d := time.Until(grant.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
		t.Errorf("the grant expires in %v, want about 10m", d)
	}
	grants, err := f.srv.Grants()
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || grants[0].GrantID != grant.GrantID || grants[0].Token != "" {
		t.Fatalf("Grants() = %+v", grants)
	}

	access, events := f.access(t, grant.Token, 0)
	session, err := access.StartSession(context.Background(), zlt.SessionRequest{Target: "service:echo", TTL: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if session.LocalPort <= 0 || session.LocalAddr != "127.0.0.1:"+strconv.Itoa(session.LocalPort) ||
		session.ExpiresAt == nil || session.Protocol != zlt.TCP {
		t.Fatalf("session = %+v", session)
	}
	events.wait(t, "authenticated")
	if err := roundTrip(session.LocalPort, []byte("hello from Go")); err != nil {
		t.Fatal(err)
	}
	if err := roundTrip(session.LocalPort, pattern(300_000, 3)); err != nil {
		t.Fatal(err)
	}
	if echo.accepted.Load() < 2 {
		t.Errorf("the echo service saw %d connections", echo.accepted.Load())
	}
	sessions, err := access.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].ID != session.ID || sessions[0].ConnectionsTotal < 2 {
		t.Fatalf("Sessions() = %+v", sessions)
	}

	// A connection open while the grant is revoked is closed with the session.
	held, err := net.DialTimeout("tcp", session.LocalAddr, patience)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	_ = held.SetDeadline(time.Now().Add(patience))
	if _, err := held.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := held.Read(buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}

	if err := f.srv.RevokeAccess(grant.GrantID); err != nil {
		t.Fatal(err)
	}
	fatal := events.wait(t, "fatal")
	if !strings.Contains(fatal.StringField("reason"), "revoked") {
		t.Errorf("fatal event: %s", fatal)
	}
	if n, err := held.Read(buf); err == nil {
		t.Errorf("the held connection is still open (read %d bytes)", n)
	}
	if sessions, err := access.Sessions(); err != nil || len(sessions) != 0 {
		t.Errorf("Sessions() after the revocation = %+v, %v", sessions, err)
	}
	if _, err := access.StartSession(context.Background(), zlt.SessionRequest{Target: "service:echo"}); !errors.Is(err, zlt.ErrShutdown) {
		t.Errorf("StartSession after the revocation: err = %v, want ErrShutdown", err)
	}
	if err := f.srv.RevokeAccess(grant.GrantID); !errors.Is(err, zlt.ErrNotFound) {
		t.Errorf("revoking twice: err = %v, want ErrNotFound", err)
	}
	if grants, err := f.srv.Grants(); err != nil || len(grants) != 0 {
		t.Errorf("Grants() after the revocation = %+v, %v", grants, err)
	}
}

func TestAccessSessionEndsWithItsContext(t *testing.T) {
	f := newFixture(t)
	f.exposeInternalEcho(t)
	grant, err := f.srv.GrantAccess([]string{"service:*"}, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	access, events := f.access(t, grant.Token, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	session, err := access.StartSession(ctx, zlt.SessionRequest{Target: "service:echo"})
	if err != nil {
		t.Fatal(err)
	}
	if session.ExpiresAt == nil {
		t.Errorf("the default TTL did not apply: %s", session.JSON)
	}
	events.wait(t, "authenticated")
	if err := roundTrip(session.LocalPort, []byte("before cancel")); err != nil {
		t.Fatal(err)
	}
	cancel()
	stopped := events.wait(t, "session_stopped")
	if !strings.Contains(string(stopped.JSON), session.ID) {
		t.Errorf("session_stopped for another session: %s", stopped)
	}
	if err := access.StopSession(session.ID); !errors.Is(err, zlt.ErrNotFound) {
		t.Errorf("stopping a stopped session: err = %v, want ErrNotFound", err)
	}

	// A short TTL ends a session by itself.
	brief, err := access.StartSession(context.Background(), zlt.SessionRequest{Target: "service:echo", TTL: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	expired := events.wait(t, "session_expired")
	if !strings.Contains(string(expired.JSON), brief.ID) {
		t.Errorf("session_expired for another session: %s", expired)
	}
	if _, err := access.StartSession(ctx, zlt.SessionRequest{Target: "service:echo"}); !errors.Is(err, context.Canceled) {
		t.Errorf("StartSession with a cancelled context: err = %v", err)
	}
}

func TestAccessErrors(t *testing.T) {
	f := newFixture(t)
	if _, err := f.srv.GrantAccess([]string{"service:echo"}, 0, ""); !errors.Is(err, zlt.ErrConfig) ||
		!strings.Contains(err.Error(), "ttl") {
		t.Errorf("a TTL of 0: err = %v", err)
	}
	if _, err := f.srv.GrantAccess([]string{"nonsense"}, time.Minute, ""); !errors.Is(err, zlt.ErrConfig) ||
		!strings.Contains(err.Error(), "targets[0]") {
		t.Errorf("a bad target: err = %v", err)
	}
	if _, err := f.srv.GrantAccess(nil, time.Minute, ""); !errors.Is(err, zlt.ErrConfig) {
		t.Errorf("no targets: err = %v", err)
	}
	if err := f.srv.RevokeAccess("not-a-uuid"); !errors.Is(err, zlt.ErrInvalid) {
		t.Errorf("revoking a non-UUID: err = %v", err)
	}
	if err := f.srv.RevokeAccess("00000000-0000-4000-8000-000000000000"); !errors.Is(err, zlt.ErrNotFound) {
		t.Errorf("revoking an unknown grant: err = %v", err)
	}

	if _, err := zlt.NewAccess(f.rt, zlt.AccessConfig{AgentConfig: zlt.AgentConfig{ServerURL: "ws://127.0.0.1:1/tunnel/v1"}}); !errors.Is(err, zlt.ErrConfig) ||
		!strings.Contains(err.Error(), "token") {
		t.Errorf("no token: err = %v", err)
	}
	withService := zlt.AccessConfig{AgentConfig: agentConfig(f.port, "t", 9)}
	if _, err := zlt.NewAccess(f.rt, withService); !errors.Is(err, zlt.ErrConfig) ||
		!strings.Contains(err.Error(), "services") {
		t.Errorf("an access with services: err = %v", err)
	}
	if _, err := zlt.NewAccess(f.rt, zlt.AccessConfig{AgentConfig: agentConfig(f.port, "t", 0), LocalBind: "nowhere"}); !errors.Is(err, zlt.ErrConfig) ||
		!strings.Contains(err.Error(), "local_bind") {
		t.Errorf("a bad local_bind: err = %v", err)
	}

	access, _ := f.access(t, "tun_unknown", 0)
	ctx := context.Background()
	if _, err := access.StartSession(ctx, zlt.SessionRequest{Target: "nonsense"}); !errors.Is(err, zlt.ErrInvalid) ||
		!strings.Contains(err.Error(), "invalid target") {
		t.Errorf("a bad target: err = %v", err)
	}
	if _, err := access.StartSession(ctx, zlt.SessionRequest{Target: "service:echo", TTL: -time.Second}); !errors.Is(err, zlt.ErrInvalid) {
		t.Errorf("a negative TTL: err = %v", err)
	}
	if _, err := access.StartSession(ctx, zlt.SessionRequest{Target: "service:echo", Protocol: "sctp"}); !errors.Is(err, zlt.ErrConfig) {
		t.Errorf("a bad protocol: err = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	if _, err := access.StartSession(ctx, zlt.SessionRequest{Target: "service:echo", LocalPort: taken}); !errors.Is(err, zlt.ErrConnection) {
		t.Errorf("a port in use: err = %v", err)
	}
	if err := access.StopSession("x"); !errors.Is(err, zlt.ErrInvalid) {
		t.Errorf("stopping a non-UUID: err = %v", err)
	}
	if sessions, err := access.Sessions(); err != nil || len(sessions) != 0 {
		t.Errorf("Sessions() = %+v, %v", sessions, err)
	}
	if err := access.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := access.Sessions(); !errors.Is(err, zlt.ErrShutdown) {
		t.Errorf("Sessions() after Close: err = %v", err)
	}
}
