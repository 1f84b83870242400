package zlt

/*
#include "bridge.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"runtime/cgo"
	"sort"
	"sync"
)

// logSink is what the library's log callback reaches through its handle.
type logSink struct {
	logger *slog.Logger
}

// The library's levels (ZLT_LOG_TRACE..ZLT_LOG_ERROR) as slog levels; trace sits below debug.
var logLevels = [...]slog.Level{slog.LevelDebug - 4, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

func (s *logSink) emit(level int, component, message string, fields []byte) {
	lvl := slog.LevelError
	if level >= 0 && level < len(logLevels) {
		lvl = logLevels[level]
	}
	ctx := context.Background()
	if !s.logger.Enabled(ctx, lvl) {
		return
	}
	attrs := []slog.Attr{slog.String("component", component)}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(fields))
	dec.UseNumber() // keeps integers such as ports and byte counts exact
	if dec.Decode(&m) == nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			attrs = append(attrs, slog.Any(k, m[k]))
		}
	}
	s.logger.LogAttrs(ctx, lvl, message, attrs...)
}

var (
	logMu     sync.Mutex
	logHandle cgo.Handle // the current sink's handle; 0 while the library writes to stderr
)

// SetLogger sends the library's log records to l instead of standard error; nil restores
// standard error. Each record carries a "component" attribute and the record's structured
// fields as further attributes. Library levels map to slog levels, with trace at
// slog.LevelDebug-4. [SetLogLevel] still decides which records the library produces.
//
// Records arrive from the library's threads, one at a time under its logger lock: l's
// handler must be quick and must not call this package.
func SetLogger(l *slog.Logger) error {
	logMu.Lock()
	defer logMu.Unlock()
	var h cgo.Handle
	if l != nil {
		h = cgo.NewHandle(&logSink{logger: l})
	}
	if err := call(func() C.int { return C.zltgo_set_log_callback(C.uintptr_t(h)) }); err != nil {
		if h != 0 {
			h.Delete()
		}
		return err
	}
	// The library no longer calls the previous sink once the call above has returned.
	if logHandle != 0 {
		logHandle.Delete()
	}
	logHandle = h
	return nil
}
