package zlt

// The functions C calls. cgo copies this file's preamble into _cgo_export.h, which bridge.c
// includes, so it may hold declarations only.

/*
#include "bridge.h"
*/
import "C"

import (
	"encoding/json"
	"log"
	"runtime/cgo"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"unsafe"
)

// callbacks holds what the host registered on one Server, Agent, Access or NodeManager. C
// reaches it through a cgo.Handle given as the user pointer; the handle is deleted only after
// the C object has been freed, when no callback can run any more. C always calls into Go for
// events, connections and overlay addresses, and the functions are swapped here atomically,
// so that setting one never waits for the loop thread (which may be running a callback that
// is itself setting one).
type callbacks struct {
	event      atomic.Pointer[func(Event)]
	validator  atomic.Pointer[TokenValidator]
	connection atomic.Pointer[ConnectionFilter]
	resolver   atomic.Pointer[OverlayResolver]
}

func callbacksOf(user C.uintptr_t) *callbacks {
	return cgo.Handle(user).Value().(*callbacks)
}

// logPanic reports a panic of a host callback: it must not unwind into the library, and the
// loop thread must carry on with its other work.
func logPanic(kind string, r any) {
	log.Printf("zlt: panic in %s callback (recovered): %v\n%s", kind, r, debug.Stack())
}

func goBytes(s *C.char) []byte {
	return C.GoBytes(unsafe.Pointer(s), C.int(C.strlen(s)))
}

//export zltgoEvent
func zltgoEvent(user C.uintptr_t, name, text *C.char) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("event", r)
		}
	}()
	fn := callbacksOf(user).event.Load()
	if fn == nil {
		return
	}
	(*fn)(Event{Name: C.GoString(name), JSON: json.RawMessage(goBytes(text))})
}

//export zltgoValidate
func zltgoValidate(user C.uintptr_t, token, hash *C.char, verdict *C.zlt_token_verdict) (accept C.int) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("token validator", r)
			accept = 0 // an undecided token is refused
		}
	}()
	fn := callbacksOf(user).validator.Load()
	if fn == nil {
		return 0
	}
	ok, reason, grant := (*fn)(C.GoString(token), C.GoString(hash))
	if !ok {
		if reason != "" {
			if cr, err := cString(reason, "reason"); err == nil {
				C.zlt_verdict_set_reason(verdict, cr)
				C.free(unsafe.Pointer(cr))
			}
		}
		return 0
	}
	if grant == nil {
		return 1
	}
	// A grant the library rejects would leave the default grant (any port) in place, wider
	// than what the host asked for: refuse the token instead.
	text, err := json.Marshal(grant)
	if err != nil {
		log.Printf("zlt: token refused: cannot encode the validator's grant: %v", err)
		return 0
	}
	cg, err := cString(string(text), "grant")
	if err != nil {
		log.Printf("zlt: token refused: %v", err)
		return 0
	}
	defer C.free(unsafe.Pointer(cg))
	// The callback's goroutine is locked to the loop thread, so the thread-local message is
	// this call's.
	if C.zlt_verdict_set_grant(verdict, cg) != C.ZLT_OK {
		log.Printf("zlt: token refused: the validator's grant was rejected: %s", C.GoString(C.zlt_last_error()))
		return 0
	}
	return 1
}

//export zltgoConnection
func zltgoConnection(user C.uintptr_t, serviceID, connectionID, clientAddr *C.char) (accept C.int) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("connection", r)
			accept = 0
		}
	}()
	fn := callbacksOf(user).connection.Load()
	if fn == nil || (*fn)(C.GoString(serviceID), C.GoString(connectionID), C.GoString(clientAddr)) {
		return 1
	}
	return 0
}

//export zltgoResolve
func zltgoResolve(user C.uintptr_t, node *C.char, out *C.char, size C.size_t) (found C.int) {
	defer func() {
		if r := recover(); r != nil {
			logPanic("overlay resolver", r)
			found = 0 // a node nobody could resolve is unreachable through the overlay
		}
	}()
	fn := callbacksOf(user).resolver.Load()
	if fn == nil || out == nil {
		return 0
	}
	address, ok := (*fn)(C.GoString(node))
	// The address and its NUL must fit; an empty one or one with a NUL inside is no answer.
	if !ok || address == "" || strings.IndexByte(address, 0) >= 0 || len(address)+1 > int(size) {
		return 0
	}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(size))
	copy(buf, address)
	buf[len(address)] = 0
	return 1
}

//export zltgoLog
func zltgoLog(user C.uintptr_t, level C.int, component, message, fields *C.char) {
	defer func() {
		// Not logged: the log package may itself be routed to the handler that panicked.
		_ = recover()
	}()
	h := cgo.Handle(user).Value().(*logSink)
	h.emit(int(level), C.GoString(component), C.GoString(message), goBytes(fields))
}
