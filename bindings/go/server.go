package zlt

/*
#include "bridge.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/cgo"
	"syscall"
	"time"
	"unsafe"
)

// TokenValidator decides whether an agent's token may open a tunnel. token is the token as
// the agent sent it and hash its [HashToken]. To refuse, return ok false and optionally a
// reason, which the agent receives as "Authentication error: <reason>" (default: "invalid
// tunnel token"). To accept, return ok true and optionally a grant limiting what the tunnel
// may do (nil: any public port, no open targets). An invalid grant refuses the token.
//
// It runs on the loop thread while the agent waits, so it must be quick.
type TokenValidator func(token, hash string) (ok bool, reason string, grant *Grant)

// Server is the server side of a tunnel: the token policy, the WebSocket control endpoint
// agents connect to, the registry of tunnels and services, and the public listeners.
type Server struct {
	c    *C.zlt_registry
	cb   *callbacks
	h    cgo.Handle
	life lifetime
}

// NewServer creates a server on rt. config is a [ServerConfig], another value encoding/json
// can marshal (such as a map), JSON text (string, []byte, json.RawMessage), or nil for the
// defaults. Nothing listens until [Server.Listen] or [Server.Accept].
//
// An invalid configuration fails with ErrConfig and a message naming the field.
func NewServer(rt *Runtime, config any) (*Server, error) {
	var c *C.zlt_registry
	err := newFromConfig(rt, config, func(crt *C.zlt_runtime, ctext *C.char) C.int {
		return C.zlt_registry_new(crt, ctext, &c)
	})
	if err != nil {
		return nil, err
	}
	s := &Server{c: c, cb: &callbacks{}}
	s.h = cgo.NewHandle(s.cb)
	h := s.h
	s.life.init(func() error {
		C.zlt_registry_free(c)
		h.Delete() // no callback runs once the free has returned
		return nil
	})
	// Events always come to Go, and OnEvent only swaps the function: setting it then never
	// has to wait for the loop thread.
	if err := call(func() C.int { return C.zltgo_registry_on_event(c, C.uintptr_t(h)) }); err != nil {
		s.life.close()
		return nil, err
	}
	return s, nil
}

func (s *Server) use(f func() error) error {
	return s.life.use("server", f)
}

// Listen starts the control endpoint for agents on host:port and returns the port actually
// bound. An empty host means the host of the configuration's "listen"; port -1 means its
// port and 0 lets the kernel choose. Listen may be called several times to listen on several
// addresses.
func (s *Server) Listen(host string, port int) (int, error) {
	var chost *C.char // NULL: the configured host
	if host != "" {
		var err error
		if chost, err = cString(host, "host"); err != nil {
			return 0, err
		}
		defer C.free(unsafe.Pointer(chost))
	}
	if int(C.int(port)) != port {
		// Cut down to C's int it could look valid; the library checks the rest.
		return 0, newError(ErrInvalid, fmt.Sprintf("port %d out of range", port))
	}
	var bound C.int
	err := s.use(func() error {
		return call(func() C.int { return C.zlt_registry_listen(s.c, chost, C.int(port), &bound) })
	})
	return int(bound), err
}

// Accept serves a connection the host accepted itself, for hosts that own their listening
// socket. conn is typically a *net.TCPConn. Ownership passes to the server whatever the
// outcome: conn is closed on return, and the connection lives on in the library until it
// ends.
func (s *Server) Accept(conn syscall.Conn) error {
	fd, err := dupConn(conn)
	if c, ok := conn.(io.Closer); ok {
		_ = c.Close() // the library holds its own descriptor now
	}
	if err != nil {
		return err
	}
	return s.AcceptFD(fd)
}

func dupConn(conn syscall.Conn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1, newError(ErrConnection, "accept: "+err.Error())
	}
	fd := C.int(-1)
	var dupErr error
	if err := raw.Control(func(f uintptr) { fd, dupErr = C.zltgo_dup_cloexec(C.int(f)) }); err != nil {
		return -1, newError(ErrConnection, "accept: "+err.Error())
	}
	if fd < 0 {
		return -1, newError(ErrConnection, "accept: duplicating the descriptor: "+dupErr.Error())
	}
	return int(fd), nil
}

// AcceptFD is [Server.Accept] for a raw descriptor of a connected stream socket. Ownership of
// fd passes to the library whatever the outcome: on failure it has been closed when AcceptFD
// returns.
func (s *Server) AcceptFD(fd int) error {
	if int(C.int(fd)) != fd {
		return newError(ErrInvalid, fmt.Sprintf("fd %d is not a descriptor", fd))
	}
	handed := false
	err := s.use(func() error {
		handed = true
		return call(func() C.int { return C.zlt_registry_accept(s.c, C.int(fd)) })
	})
	if !handed && fd >= 0 {
		_ = syscall.Close(fd) // the server was closed: the library never saw it
	}
	return err
}

// SetTokenValidator replaces the configured token list with fn, which decides for every
// agent that authenticates. nil restores the configured token list; that cannot be done
// from inside the validator itself (ErrInvalid).
func (s *Server) SetTokenValidator(fn TokenValidator) error {
	var p *TokenValidator
	if fn != nil {
		p = &fn
	}
	return s.use(func() error {
		prev := s.cb.validator.Swap(p)
		// Concurrent calls may reach C in another order than they stored their function:
		// whoever returns last makes C agree with the function stored last.
		for {
			cur := s.cb.validator.Load()
			var h cgo.Handle // 0: C goes back to the configured token list
			if cur != nil {
				h = s.h
			}
			err := call(func() C.int { return C.zltgo_registry_set_token_validator(s.c, C.uintptr_t(h)) })
			if err != nil {
				s.cb.validator.CompareAndSwap(p, prev)
				return err
			}
			if s.cb.validator.Load() == cur {
				return nil
			}
		}
	})
}

// OnEvent reports the server's events to fn (nil: stop reporting), replacing any previous
// function. The kinds are "tunnel_connected" (with "tunnel", "name", "peer"),
// "tunnel_disconnected" (with "tunnel", "reason"), "service_registered" (with "tunnel" and a
// "service" object holding its "assigned_port") and "service_unregistered".
//
// fn runs on the loop thread and must return quickly.
func (s *Server) OnEvent(fn func(Event)) {
	if fn == nil {
		s.cb.event.Store(nil)
		return
	}
	s.cb.event.Store(&fn)
}

// Status returns a snapshot of the server: tunnels, services and traffic.
func (s *Server) Status() (*ServerStatus, error) {
	var out *C.char
	err := s.use(func() error {
		return call(func() C.int { return C.zlt_registry_status(s.c, &out) })
	})
	if err != nil {
		return nil, err
	}
	text := []byte(takeString(out))
	st := &ServerStatus{JSON: text}
	if err := json.Unmarshal(text, st); err != nil {
		return nil, newError(ErrInternal, "unreadable status: "+err.Error())
	}
	return st, nil
}

// ReloadReport is what [Server.Reload] changed.
type ReloadReport struct {
	// Tokens is how many tokens the configuration has now.
	Tokens int `json:"tokens"`
	// Revoked counts the sessions disconnected because their token is gone.
	Revoked int `json:"revoked"`
	// Reconnected counts the sessions asked to reconnect because their token no longer
	// allows a service they hold.
	Reconnected int `json:"reconnected"`
	// TLSReloaded says the certificate and key were read again.
	TLSReloaded bool `json:"tls_reloaded"`
	// NeedsRestart names the fields that changed but keep their running value (those bound
	// to sockets: "listen", "public_bind", "data_port_range", ...).
	NeedsRestart []string `json:"needs_restart"`
}

// Reload applies a new configuration (the forms [NewServer] takes) without dropping what it
// still allows: tokens, allow lists, limits, the admin token and the TLS certificate and key
// (read again from their files) take effect; a session whose token is gone is disconnected
// ("fatal: token revoked"). nil applies the last configuration again (a certificate
// rotation). A bad configuration fails with ErrConfig naming the field and changes nothing.
func (s *Server) Reload(config any) (*ReloadReport, error) {
	text, ok, err := configJSON(config)
	if err != nil {
		return nil, err
	}
	var ctext *C.char
	if ok {
		if ctext, err = cString(text, "config"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(ctext))
	}
	var out *C.char
	err = s.use(func() error {
		return call(func() C.int { return C.zlt_registry_reload(s.c, ctext, &out) })
	})
	if err != nil {
		return nil, err
	}
	report := &ReloadReport{}
	if err := json.Unmarshal([]byte(takeString(out)), report); err != nil {
		return nil, newError(ErrInternal, "unreadable reload report: "+err.Error())
	}
	return report, nil
}

// Drain stops gracefully: no new agent sessions, public connections, registrations or Opens
// are taken from now on (the metrics /ready answers 503); open streams carry on until they
// end or grace has passed, then the server stops as [Server.Stop] does. It returns once the
// server has stopped. A negative grace fails with ErrInvalid.
func (s *Server) Drain(grace time.Duration) error {
	if grace < 0 {
		return newError(ErrInvalid, "grace must be >= 0, got "+grace.String())
	}
	ms := C.longlong(grace / time.Millisecond) // whole milliseconds, rounded up
	if grace%time.Millisecond != 0 {
		ms++
	}
	return s.use(func() error {
		return call(func() C.int { return C.zlt_registry_drain(s.c, ms) })
	})
}

// Stop stops serving: every agent is told the server is shutting down, and the listeners and
// public ports are closed. It is idempotent; a stopped server cannot be restarted.
func (s *Server) Stop() error {
	return s.use(func() error {
		return call(func() C.int { return C.zlt_registry_stop(s.c) })
	})
}

// Close stops the server if needed and releases it. Once Close has returned no callback of
// the server runs again (unless another goroutine is inside a call on it: then that call
// releases it as it returns). It is idempotent.
func (s *Server) Close() error {
	return s.life.close()
}
