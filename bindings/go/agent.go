package zlt

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime/cgo"
)

// ConnectionFilter decides whether an agent accepts a connection that arrived on a public
// port, before the local service is dialed. The ids are canonical UUID text; clientAddr is
// "HOST:PORT" of the public client. Returning false closes the client's connection.
//
// It runs on the loop thread and must be quick.
type ConnectionFilter func(serviceID, connectionID, clientAddr string) bool

// Agent is the client side of a tunnel: it connects to a server, registers local services,
// carries their connections, and reconnects with backoff until stopped.
type Agent struct {
	c    *C.zlt_agent
	cb   *callbacks
	h    cgo.Handle
	life lifetime
}

// NewAgent creates an agent on rt. config is an [AgentConfig], another value encoding/json
// can marshal, or JSON text (string, []byte, json.RawMessage); "server_url" and "token" are
// required. The agent does not connect until [Agent.Start] or [Agent.Run].
//
// An invalid configuration fails with ErrConfig and a message naming the field.
func NewAgent(rt *Runtime, config any) (*Agent, error) {
	var c *C.zlt_agent
	err := newFromConfig(rt, config, func(crt *C.zlt_runtime, ctext *C.char) C.int {
		return C.zlt_agent_new(crt, ctext, &c)
	})
	if err != nil {
		return nil, err
	}
	a := &Agent{c: c, cb: &callbacks{}}
	a.h = cgo.NewHandle(a.cb)
	h := a.h
	a.life.init(func() error {
		C.zlt_agent_free(c)
		h.Delete() // no callback runs once the free has returned
		return nil
	})
	// Both callbacks always come to Go, and OnEvent and OnConnection only swap the function:
	// setting one then never has to wait for the loop thread. With no filter set, the
	// connection callback accepts, as the library does without one.
	err = call(func() C.int { return C.zltgo_agent_on_event(c, C.uintptr_t(h)) })
	if err == nil {
		err = call(func() C.int { return C.zltgo_agent_on_connection(c, C.uintptr_t(h)) })
	}
	if err != nil {
		a.life.close()
		return nil, err
	}
	return a, nil
}

func (a *Agent) use(f func() error) error {
	return a.life.use("agent", f)
}

// OnEvent reports the agent's events to fn (nil: stop reporting), replacing any previous
// function. The kinds are "state" (with "state": "connecting", "connected", "reconnecting"
// or "disconnected"), "authenticated", "auth_failed" (with "reason"), "service_registered"
// (with "name" and "public_port"), "service_failed" (with "name" and "reason"),
// "incoming_connection", "disconnected" (with "reason") and "error".
//
// fn runs on the loop thread and must return quickly.
func (a *Agent) OnEvent(fn func(Event)) {
	if fn == nil {
		a.cb.event.Store(nil)
		return
	}
	a.cb.event.Store(&fn)
}

// OnConnection lets fn accept or refuse each incoming connection before the local service is
// dialed (nil: accept all, the default), replacing any previous filter.
func (a *Agent) OnConnection(fn ConnectionFilter) {
	if fn == nil {
		a.cb.connection.Store(nil)
		return
	}
	a.cb.connection.Store(&fn)
}

// Start starts connecting; the agent then reconnects with backoff until stopped. Progress is
// reported through events, not through the returned error. It is idempotent, and a stopped
// agent may be started again.
func (a *Agent) Start() error {
	return a.use(func() error {
		return call(func() C.int { return C.zlt_agent_start(a.c) })
	})
}

// Stop says goodbye to the server, closes the session and stops reconnecting. It is
// idempotent.
func (a *Agent) Stop() error {
	return a.use(func() error {
		return call(func() C.int { return C.zlt_agent_stop(a.c) })
	})
}

// Run starts the agent and keeps it running until ctx is done, then stops it and returns
// ctx.Err(). It returns early with an error if the agent cannot start, or with ErrShutdown
// if the agent is closed meanwhile.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.Start(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		if err := a.Stop(); err != nil {
			return err
		}
		return ctx.Err()
	case <-a.life.done:
		return newError(ErrShutdown, "agent is closed")
	}
}

// Status returns a snapshot of the agent: state, tunnel, services with their public ports,
// traffic.
func (a *Agent) Status() (*AgentStatus, error) {
	var out *C.char
	err := a.use(func() error {
		return call(func() C.int { return C.zlt_agent_status(a.c, &out) })
	})
	if err != nil {
		return nil, err
	}
	text := []byte(takeString(out))
	st := &AgentStatus{JSON: text}
	if err := json.Unmarshal(text, st); err != nil {
		return nil, newError(ErrInternal, "unreadable status: "+err.Error())
	}
	return st, nil
}

// Close stops the agent if needed and releases it. Once Close has returned no callback of
// the agent runs again (unless another goroutine is inside a call on it: then that call
// releases it as it returns). It is idempotent.
func (a *Agent) Close() error {
	return a.life.close()
}
