package zlt

/*
#cgo pkg-config: zlayer-tunnel
#include "bridge.h"
*/
import "C"

import (
	"runtime"
	"strings"
	"unsafe"
)

// call runs one C call and turns its result into an error. The library keeps the message
// of a failure in a thread-local, so the goroutine must not move to another OS thread
// between the call and reading it.
func call(f func() C.int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if rc := f(); rc != C.ZLT_OK {
		return newError(Code(rc), C.GoString(C.zlt_last_error()))
	}
	return nil
}

// cString copies s for C. C strings end at the first NUL, so a Go string holding one would be
// silently cut short: it is refused instead. The result must be released with C.free.
func cString(s, what string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(ErrInvalid, what+" contains a NUL byte")
	}
	return C.CString(s), nil
}

// takeString copies a string the library allocated and releases it.
func takeString(s *C.char) string {
	defer C.zlt_free(unsafe.Pointer(s))
	return C.GoString(s)
}

// Version returns the version of the loaded library, e.g. "0.1.0".
func Version() string {
	return C.GoString(C.zlt_version())
}

// HashToken returns the server-side identity of a token: its SHA-256 as 64 lower-case hex
// digits, the value of "sha256" in a server's token list ([TokenEntry.SHA256]).
func HashToken(token string) (string, error) {
	ct, err := cString(token, "token")
	if err != nil {
		return "", err
	}
	defer C.free(unsafe.Pointer(ct))
	var out *C.char
	if err := call(func() C.int { return C.zlt_hash_token(ct, &out) }); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// NewToken returns a new random token ("tun_" and 32 hex digits) from a cryptographic
// generator.
func NewToken() (string, error) {
	var out *C.char
	if err := call(func() C.int { return C.zlt_token_new(&out) }); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// SetLogLevel sets the process-wide log threshold of the library: "trace", "debug", "info"
// (the default), "warn", "error" or "off". Records go to standard error unless [SetLogger]
// has redirected them.
func SetLogLevel(level string) error {
	cl, err := cString(level, "level")
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cl))
	return call(func() C.int { return C.zlt_set_log_level(cl) })
}
