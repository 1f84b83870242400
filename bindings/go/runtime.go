package zlt

/*
#include <stdlib.h>
#include "bridge.h"
*/
import "C"

import "unsafe"

// Runtime is an event loop running on a thread of its own. Servers and agents created on it
// do all their work on that thread, and their callbacks run there.
type Runtime struct {
	c    *C.zlt_runtime
	life lifetime
}

// NewRuntime starts a runtime. Close it when done.
func NewRuntime() (*Runtime, error) {
	var c *C.zlt_runtime
	if err := call(func() C.int { return C.zlt_runtime_new(&c) }); err != nil {
		return nil, err
	}
	rt := &Runtime{c: c}
	rt.life.init(func() error {
		return call(func() C.int { return C.zlt_runtime_free(c) })
	})
	return rt, nil
}

// Close stops the runtime and joins its thread. Servers and agents still open on it are torn
// down first (sessions and sockets closed, no callbacks afterwards); their methods then fail
// with ErrShutdown, and they must still be closed. Close is idempotent.
//
// Close cannot be called from a callback of this runtime, since the loop thread cannot join
// itself: that fails with ErrInvalid and leaves the runtime running.
func (rt *Runtime) Close() error {
	return rt.life.close()
}

// use runs f with the C runtime held open.
func (rt *Runtime) use(f func(c *C.zlt_runtime) error) error {
	if rt == nil {
		return newError(ErrInvalid, "nil *Runtime")
	}
	return rt.life.use("runtime", func() error { return f(rt.c) })
}

// newFromConfig runs create on rt's handle with config as C text: config is a Go value that
// encoding/json can marshal, or JSON text; none is passed as NULL, which the library reads as
// "{}" so that it names the first missing field itself.
func newFromConfig(rt *Runtime, config any, create func(*C.zlt_runtime, *C.char) C.int) error {
	text, given, err := configJSON(config)
	if err != nil {
		return err
	}
	var ctext *C.char
	if given {
		if ctext, err = cString(text, "config"); err != nil {
			return err
		}
		defer C.free(unsafe.Pointer(ctext))
	}
	return rt.use(func(crt *C.zlt_runtime) error {
		return call(func() C.int { return create(crt, ctext) })
	})
}
