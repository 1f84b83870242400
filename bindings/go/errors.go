package zlt

/*
#include <zlayer_tunnel.h>
*/
import "C"

import "strings"

// Code is the kind of a failure: one of the library's ZLT_E* result codes. Codes are errors,
// so they serve as sentinels for errors.Is:
//
//	if errors.Is(err, zlt.ErrConfig) { ... }
type Code int

// The library's result codes (ZLT_E* in zlayer_tunnel.h).
const (
	ErrProtocol   Code = -1  // malformed or unexpected data from a peer
	ErrAuth       Code = -2  // authentication refused
	ErrConnection Code = -3  // socket, TLS, DNS or WebSocket failure
	ErrRegistry   Code = -4  // tunnel, service or port bookkeeping (e.g. port taken)
	ErrConfig     Code = -5  // invalid configuration or JSON argument
	ErrTimeout    Code = -6  // an operation ran out of time
	ErrShutdown   Code = -7  // the object or its runtime is stopping, stopped or closed
	ErrInvalid    Code = -8  // invalid argument
	ErrNotFound   Code = -9  // no such object
	ErrExists     Code = -10 // already exists
	ErrLimit      Code = -11 // a configured limit was reached
	ErrIO         Code = -12 // local file I/O
	ErrInternal   Code = -13 // a bug in the library: please report it with the message
	ErrNoMemory   Code = -14 // out of memory
	ErrClosed     Code = -15 // the object was freed (by another goroutine) before this call ran
)

// The values above are spelled out so that godoc shows them; these constant expressions
// overflow, and the package fails to compile, if the header ever disagrees.
const (
	_ = uint(ErrProtocol-C.ZLT_EPROTOCOL) + uint(C.ZLT_EPROTOCOL-ErrProtocol)
	_ = uint(ErrAuth-C.ZLT_EAUTH) + uint(C.ZLT_EAUTH-ErrAuth)
	_ = uint(ErrConnection-C.ZLT_ECONNECTION) + uint(C.ZLT_ECONNECTION-ErrConnection)
	_ = uint(ErrRegistry-C.ZLT_EREGISTRY) + uint(C.ZLT_EREGISTRY-ErrRegistry)
	_ = uint(ErrConfig-C.ZLT_ECONFIG) + uint(C.ZLT_ECONFIG-ErrConfig)
	_ = uint(ErrTimeout-C.ZLT_ETIMEOUT) + uint(C.ZLT_ETIMEOUT-ErrTimeout)
	_ = uint(ErrShutdown-C.ZLT_ESHUTDOWN) + uint(C.ZLT_ESHUTDOWN-ErrShutdown)
	_ = uint(ErrInvalid-C.ZLT_EINVAL) + uint(C.ZLT_EINVAL-ErrInvalid)
	_ = uint(ErrNotFound-C.ZLT_ENOTFOUND) + uint(C.ZLT_ENOTFOUND-ErrNotFound)
	_ = uint(ErrExists-C.ZLT_EEXISTS) + uint(C.ZLT_EEXISTS-ErrExists)
	_ = uint(ErrLimit-C.ZLT_ELIMIT) + uint(C.ZLT_ELIMIT-ErrLimit)
	_ = uint(ErrIO-C.ZLT_EIO) + uint(C.ZLT_EIO-ErrIO)
	_ = uint(ErrInternal-C.ZLT_EINTERNAL) + uint(C.ZLT_EINTERNAL-ErrInternal)
	_ = uint(ErrNoMemory-C.ZLT_ENOMEM) + uint(C.ZLT_ENOMEM-ErrNoMemory)
	_ = uint(ErrClosed-C.ZLT_ECLOSED) + uint(C.ZLT_ECLOSED-ErrClosed)
)

// Error returns the library's short description of the code ("invalid configuration").
func (c Code) Error() string {
	return C.GoString(C.zlt_strerror(C.int(c)))
}

// Error is a failure reported by the library, or by this package on its behalf.
type Error struct {
	Code    Code   // the kind of failure
	Message string // what failed, naming the argument or configuration field where there is one
}

// Error formats the failure as "zlt: <kind>: <message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("zlt: ")
	b.WriteString(e.Code.Error())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the code, which makes errors.Is(err, ErrConfig) and errors.As(err, &code)
// work on wrapped errors.
func (e *Error) Unwrap() error { return e.Code }

func newError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}
