package zlt

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"runtime/cgo"
	"time"
	"unsafe"
)

// AccessConfig is the configuration of an [Access]: the client settings of an [AgentConfig]
// (ServerURL and Token are required; Services must stay empty, access exposes nothing) and
// two access settings.
type AccessConfig struct {
	AgentConfig
	// DefaultTTL is the TTL of sessions started without one (0: they live until stopped).
	DefaultTTL time.Duration
	// LocalBind is the address sessions listen on ("127.0.0.1" when empty; an IP literal).
	LocalBind string
}

// MarshalJSON writes the configuration in the library's schema: the client settings with
// "default_ttl" and "local_bind" next to them.
func (c AccessConfig) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(c.AgentConfig)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	if c.DefaultTTL != 0 {
		if fields["default_ttl"], err = json.Marshal(duration(c.DefaultTTL)); err != nil {
			return nil, err
		}
	}
	if c.LocalBind != "" {
		if fields["local_bind"], err = json.Marshal(c.LocalBind); err != nil {
			return nil, err
		}
	}
	return json.Marshal(fields)
}

// SessionRequest describes an access session.
type SessionRequest struct {
	// Target is "service:NAME" (a service registered on the server, internal or public) or
	// "HOST:PORT" (an address the server connects to; "[v6]:PORT" for IPv6).
	Target string `json:"target"`
	// LocalPort is the local port to listen on; 0 lets the kernel choose.
	LocalPort int `json:"local_port"`
	// TTL is how long the session lives; 0 means the configuration's DefaultTTL, else until
	// stopped. It must not be negative.
	TTL time.Duration `json:"-"`
	// Protocol is TCP (the default when empty) or UDP.
	Protocol Protocol `json:"protocol,omitempty"`
}

// MarshalJSON writes the request in the library's schema.
func (r SessionRequest) MarshalJSON() ([]byte, error) {
	type plain SessionRequest
	var ttl *duration
	if r.TTL != 0 {
		d := duration(r.TTL)
		ttl = &d
	}
	return json.Marshal(struct {
		plain
		TTL *duration `json:"ttl,omitempty"`
	}{plain(r), ttl})
}

// AccessSession is a snapshot of one access session.
type AccessSession struct {
	ID        string    `json:"id"`
	Target    string    `json:"target"`
	LocalAddr string    `json:"local_addr"` // "HOST:PORT" it listens on
	LocalPort int       `json:"local_port"`
	Protocol  Protocol  `json:"protocol"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the session ends by itself; nil: it lives until stopped.
	ExpiresAt         *time.Time `json:"expires_at"`
	RemainingMillis   *int64     `json:"remaining_ms"`
	BytesIn           uint64     `json:"bytes_in"`
	BytesOut          uint64     `json:"bytes_out"`
	ConnectionsActive uint64     `json:"connections_active"`
	ConnectionsTotal  uint64     `json:"connections_total"`

	JSON json.RawMessage `json:"-"` // the whole snapshot
}

// Access is on-demand access through a tunnel server: each session listens on a local port
// and carries what arrives there to one target on the server's side, until its TTL runs out,
// it is stopped, or the server ends access (the grant expired or was revoked). The sessions
// share one connection to the server, made by the first [Access.StartSession] and
// re-established with backoff.
type Access struct {
	c    *C.zlt_access
	cb   *callbacks
	h    cgo.Handle
	life lifetime
}

// NewAccess creates an access object on rt. config is an [AccessConfig], another value
// encoding/json can marshal, or JSON text (string, []byte, json.RawMessage); "server_url" and
// "token" (typically the token of a grant, see [Server.GrantAccess]) are required. It does
// not connect until the first session starts.
//
// An invalid configuration fails with ErrConfig and a message naming the field.
func NewAccess(rt *Runtime, config any) (*Access, error) {
	var c *C.zlt_access
	err := newFromConfig(rt, config, func(crt *C.zlt_runtime, ctext *C.char) C.int {
		return C.zlt_access_new(crt, ctext, &c)
	})
	if err != nil {
		return nil, err
	}
	a := &Access{c: c, cb: &callbacks{}}
	a.h = cgo.NewHandle(a.cb)
	h := a.h
	a.life.init(func() error {
		C.zlt_access_free(c)
		h.Delete() // no callback runs once the free has returned
		return nil
	})
	// Events always come to Go, and OnEvent only swaps the function: setting it then never
	// has to wait for the loop thread.
	if err := call(func() C.int { return C.zltgo_access_on_event(c, C.uintptr_t(h)) }); err != nil {
		a.life.close()
		return nil, err
	}
	return a, nil
}

func (a *Access) use(f func() error) error {
	return a.life.use("access", f)
}

// OnEvent reports events to fn (nil: stop reporting), replacing any previous function. The
// kinds are "session_started", "session_stopped" and "session_expired" (with "session", a
// snapshot, and "reason" when it ended); "fatal" (with "reason", e.g. "fatal: token revoked":
// the server ended access for good, every session is closed and StartSession fails with
// ErrShutdown from then on); and the connection's own events as an [Agent] reports them:
// "state", "authenticated", "auth_failed", "disconnected", "error".
//
// fn runs on the loop thread and must return quickly.
func (a *Access) OnEvent(fn func(Event)) {
	if fn == nil {
		a.cb.event.Store(nil)
		return
	}
	a.cb.event.Store(&fn)
}

// StartSession binds a local port and carries every connection (or, for UDP, every datagram)
// made there to req.Target through the server. The session is stopped when ctx is done (use
// context.Background() to keep it until its TTL, [Access.StopSession] or Close); a ctx that
// is already done starts nothing. The returned snapshot holds the port in LocalPort.
//
// Connections that arrive before the server has accepted the token (the "authenticated"
// event) are closed at once, as are those the server refuses (a target the token may not
// reach). Errors: ErrInvalid (a TTL of 0 or less, an invalid target), ErrConfig (a bad
// protocol or port), ErrConnection (the port cannot be bound), ErrShutdown (the server ended
// access, or the object is closed).
func (a *Access) StartSession(ctx context.Context, req SessionRequest) (*AccessSession, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.TTL < 0 {
		return nil, newError(ErrInvalid, "ttl must be > 0, got "+req.TTL.String())
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, newError(ErrInvalid, "cannot encode the session request: "+err.Error())
	}
	creq, err := cString(string(b), "session request")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(creq))
	var out *C.char
	err = a.use(func() error {
		return call(func() C.int { return C.zlt_access_start_session(a.c, creq, &out) })
	})
	if err != nil {
		return nil, err
	}
	s, err := parseSession([]byte(takeString(out)))
	if err != nil {
		return nil, err
	}
	if done := ctx.Done(); done != nil {
		id := s.ID
		go func() {
			select {
			case <-done:
				if err := a.StopSession(id); err != nil && !errors.Is(err, ErrNotFound) &&
					!errors.Is(err, ErrShutdown) {
					log.Printf("zlt: stopping access session %s: %v", id, err)
				}
			case <-a.life.done:
			}
		}()
	}
	return s, nil
}

func parseSession(text []byte) (*AccessSession, error) {
	s := &AccessSession{JSON: text}
	if err := json.Unmarshal(text, s); err != nil {
		return nil, newError(ErrInternal, "unreadable session: "+err.Error())
	}
	return s, nil
}

// StopSession closes a session's listener and every connection it carries. It fails with
// ErrNotFound for a session that is not live (never started, already stopped or expired).
func (a *Access) StopSession(id string) error {
	cid, err := cString(id, "session id")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cid))
	return a.use(func() error {
		return call(func() C.int { return C.zlt_access_stop_session(a.c, cid) })
	})
}

// Sessions returns the live sessions, oldest first, with their traffic so far.
func (a *Access) Sessions() ([]AccessSession, error) {
	var out *C.char
	err := a.use(func() error {
		return call(func() C.int { return C.zlt_access_list(a.c, &out) })
	})
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(takeString(out)), &raw); err != nil {
		return nil, newError(ErrInternal, "unreadable session list: "+err.Error())
	}
	sessions := make([]AccessSession, 0, len(raw))
	for _, r := range raw {
		s, err := parseSession(r)
		if err != nil {
			return nil, err
		}
		sessions = append(sessions, *s)
	}
	return sessions, nil
}

// Close closes every session, says goodbye to the server and releases the object. Once
// Close has returned no callback of it runs again (unless another goroutine is inside a call
// on it: then that call releases it as it returns). It is idempotent.
func (a *Access) Close() error {
	return a.life.close()
}

// AccessGrant is an access grant issued by a [Server].
type AccessGrant struct {
	GrantID   string    `json:"grant_id"`
	Name      string    `json:"name"`
	Targets   []string  `json:"targets"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Token is what an [Access] authenticates with. Only [Server.GrantAccess] returns it: the
	// server keeps only its hash.
	Token string `json:"token,omitempty"`
}

// GrantAccess issues an access grant: a fresh token that may open only targets
// ("service:NAME", "HOST:PORT" or "CIDR:PORT", with "*" segments) and expires after ttl
// (capped at the server's max_access_ttl; see ExpiresAt). name is shown in logs, events and
// status ("" picks one). A session using the token is disconnected when the grant expires or
// is revoked. Errors: ErrConfig (no target, an invalid target, a TTL of 0; the message names
// the field), ErrShutdown.
func (s *Server) GrantAccess(targets []string, ttl time.Duration, name string) (*AccessGrant, error) {
	if ttl < 0 {
		return nil, newError(ErrInvalid, "ttl must be > 0, got "+ttl.String())
	}
	if targets == nil {
		targets = []string{} // the library then says that one is required
	}
	req := struct {
		Targets []string `json:"targets"`
		TTL     duration `json:"ttl"`
		Name    string   `json:"name,omitempty"`
	}{targets, duration(ttl), name}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, newError(ErrInvalid, "cannot encode the grant request: "+err.Error())
	}
	creq, err := cString(string(b), "grant request")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(creq))
	var out *C.char
	err = s.use(func() error {
		return call(func() C.int { return C.zlt_registry_grant_access(s.c, creq, &out) })
	})
	if err != nil {
		return nil, err
	}
	g := &AccessGrant{}
	if err := json.Unmarshal([]byte(takeString(out)), g); err != nil {
		return nil, newError(ErrInternal, "unreadable grant: "+err.Error())
	}
	return g, nil
}

// RevokeAccess revokes a grant: its token is refused from now on, and a session using it is
// disconnected at once ("fatal: token revoked"). It fails with ErrNotFound for a grant that
// is not in force and ErrInvalid for an id that is not a UUID.
func (s *Server) RevokeAccess(grantID string) error {
	cid, err := cString(grantID, "grant id")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cid))
	return s.use(func() error {
		return call(func() C.int { return C.zlt_registry_revoke_access(s.c, cid) })
	})
}

// Grants returns the grants in force, without their tokens.
func (s *Server) Grants() ([]AccessGrant, error) {
	var out *C.char
	err := s.use(func() error {
		return call(func() C.int { return C.zlt_registry_list_grants(s.c, &out) })
	})
	if err != nil {
		return nil, err
	}
	var grants []AccessGrant
	if err := json.Unmarshal([]byte(takeString(out)), &grants); err != nil {
		return nil, newError(ErrInternal, "unreadable grant list: "+err.Error())
	}
	return grants, nil
}
