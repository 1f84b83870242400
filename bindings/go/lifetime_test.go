package zlt

import (
	"errors"
	"testing"
	"time"
)

func TestLifetimeDefersTheReleaseToTheLastCall(t *testing.T) {
	released := make(chan struct{}, 2)
	var l lifetime
	l.init(func() error { released <- struct{}{}; return nil })
	if !l.enter() {
		t.Fatal("a new object is closed")
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-released:
		t.Fatal("released under a call in flight")
	default:
	}
	select {
	case <-l.done:
	default:
		t.Fatal("done is not closed after close")
	}
	if err := l.use("thing", func() error { return nil }); !errors.Is(err, ErrShutdown) {
		t.Fatalf("use after close: %v", err)
	}
	l.leave()
	select {
	case <-released:
	case <-time.After(5 * time.Second):
		t.Fatal("the last call out did not release")
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-released:
		t.Fatal("released twice")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestLifetimeStaysOpenWhenReleaseFails(t *testing.T) {
	fail := true
	var l lifetime
	l.init(func() error {
		if fail {
			return newError(ErrInvalid, "not from here")
		}
		return nil
	})
	if err := l.close(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("close: %v", err)
	}
	if err := l.use("thing", func() error { return nil }); err != nil {
		t.Fatalf("use after a failed close: %v", err)
	}
	fail = false
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
}
