package zlt

import (
	"log"
	"sync"
)

// lifetime keeps a C object alive while calls are using it. Go code may call Close on one
// goroutine while another is inside a method; freeing the C object under that call would be
// a use after free, so the last one out frees it.
//
// Close must not wait for calls in flight: a call made from another goroutine may itself be
// waiting for the loop thread, and if Close runs inside a callback on that thread the two
// would wait for each other forever. When calls are in flight, Close only marks the object
// closed and the last call to return frees it.
//
// No lock is held across a C call, for the same reason: callbacks may call methods.
type lifetime struct {
	mu       sync.Mutex
	closed   bool
	inflight int
	done     chan struct{} // closed by close(), so that waiters (Agent.Run) notice
	release  func() error  // frees the C object and what C referred to; runs once
}

// init sets the function that frees the object; it must be called before any other method.
func (l *lifetime) init(release func() error) {
	l.done = make(chan struct{})
	l.release = release
}

// enter reports whether the object is still open; each true must be matched by leave.
func (l *lifetime) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.inflight++
	return true
}

func (l *lifetime) leave() {
	l.mu.Lock()
	l.inflight--
	last := l.closed && l.inflight == 0
	l.mu.Unlock()
	if last {
		// A fresh goroutine is never the loop thread, which may not free its own runtime.
		go func() {
			if err := l.release(); err != nil {
				log.Printf("zlt: deferred close failed: %v", err)
			}
		}()
	}
}

// use runs f while holding the object open, or fails with ErrShutdown once it is closed.
func (l *lifetime) use(what string, f func() error) error {
	if !l.enter() {
		return newError(ErrShutdown, what+" is closed")
	}
	defer l.leave()
	return f()
}

// close marks the object closed and frees it unless calls are in flight (then the last of
// them does). It is idempotent. If freeing fails the object stays open and usable.
func (l *lifetime) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	now := l.inflight == 0
	l.mu.Unlock()
	if !now {
		close(l.done)
		return nil
	}
	if err := l.release(); err != nil {
		l.mu.Lock()
		l.closed = false
		l.mu.Unlock()
		return err
	}
	close(l.done)
	return nil
}
