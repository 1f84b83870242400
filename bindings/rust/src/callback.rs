//! Rust closures as C callbacks.
//!
//! Each closure is boxed in a slot whose address is the C `user` pointer, and a generic
//! `extern "C"` trampoline turns the call back into a closure call. Three rules make that
//! sound:
//!
//! * Nothing unwinds into C: every call runs under `catch_unwind`; a panic is reported on
//!   standard error and the callback answers with its safe default (refuse, ignore).
//! * A slot is freed only once the library no longer calls it: after the setter that replaced
//!   it or the object's free function has returned ([`Retained`]). When that happens on the
//!   loop thread inside a callback, the closure being replaced or freed may be the one running
//!   further up the stack, so the slot is kept until the outermost callback returns.
//! * An `FnMut` is never entered twice: a call made from inside a callback runs inline, so
//!   (say) `agent.start()` in an agent's event handler reports a `state` event while that
//!   handler is still running. Such events are queued and handed over, in order, once the
//!   running call returns; a re-entered decision callback (never expected) refuses.

use std::any::Any;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use crate::error::Error;
use crate::event::{Event, IncomingConnection, Verdict};
use crate::ffi::{borrow_str, cstring};
use crate::sys;

thread_local! {
    // How many of our trampolines are running on this thread's stack.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    // Slots retired while DEPTH > 0: dropped when the outermost trampoline returns.
    static DEFERRED: RefCell<Vec<Box<dyn Send>>> = const { RefCell::new(Vec::new()) };
}

/// Writes to standard error without ever panicking (a panic here would have nowhere to go).
fn report(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "zlayer-tunnel: {message}");
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Runs `body`, turning a panic into `fallback` and a line on standard error.
pub(crate) fn guarded<R>(what: &str, fallback: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => {
            report(format_args!(
                "a panic in the {what} was caught before reaching the library: {}",
                panic_text(&*payload)
            ));
            // Even dropping a payload can panic; it must not escape either.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            fallback
        }
    }
}

/// The frame of every trampoline: panic guard, depth count, and the deferred drops.
fn enter<R>(what: &str, fallback: R, body: impl FnOnce() -> R) -> R {
    let depth = DEPTH.with(|d| {
        d.set(d.get() + 1);
        d.get()
    });
    let r = guarded(what, fallback, body);
    if depth == 1 {
        // Still counted as inside a callback, so that slots retired by these drops (a
        // closure that owned a Server, say) join the queue rather than vanish mid-loop.
        loop {
            let batch = DEFERRED
                .try_with(|q| std::mem::take(&mut *q.borrow_mut()))
                .unwrap_or_default();
            if batch.is_empty() {
                break;
            }
            for slot in batch {
                guarded("drop of a callback", (), move || drop(slot));
            }
        }
    }
    DEPTH.with(|d| d.set(d.get() - 1));
    r
}

/// A boxed callback slot the library may still call, owned by the Rust object that registered
/// it. Dropping it frees the slot, or defers that while a callback is running on this thread.
/// Drop it only once the library is done with it (the replacing setter or the free function
/// returned).
pub(crate) struct Retained {
    ptr: NonNull<dyn Send>,
}

// SAFETY: the slot's contents are Send (enforced by `new`), and the only thing done through a
// Retained is dropping it; no reference to the contents is ever handed out, so sharing a
// Retained between threads exposes nothing.
unsafe impl Send for Retained {}
unsafe impl Sync for Retained {}

impl Retained {
    /// Boxes `slot` and returns it with the address to give the library as `user`.
    fn new<T: Send + 'static>(slot: T) -> (Self, *mut c_void) {
        // A raw pointer rather than a Box field, so that moving the owner around never asserts
        // uniqueness over memory the library reaches through `user`.
        let raw: *mut T = Box::into_raw(Box::new(slot));
        let ptr = NonNull::new(raw as *mut dyn Send).expect("Box::into_raw is never null");
        (Self { ptr }, raw.cast())
    }
}

impl Drop for Retained {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from Box::into_raw in `new` and is reclaimed only here, once.
        let slot: Box<dyn Send> = unsafe { Box::from_raw(self.ptr.as_ptr()) };
        if DEPTH.try_with(Cell::get).unwrap_or(0) == 0 {
            drop(slot);
        } else if let Err(err) = DEFERRED.try_with(|q| q.borrow_mut().push(slot)) {
            // Only while this thread's locals are being torn down: leaking is the safe choice.
            report(format_args!(
                "a callback was leaked during thread exit ({err})"
            ));
        }
    }
}

/// A closure that must not be re-entered.
struct Slot<F> {
    busy: Cell<bool>,
    f: UnsafeCell<F>,
}

impl<F> Slot<F> {
    fn new(f: F) -> Self {
        Self {
            busy: Cell::new(false),
            f: UnsafeCell::new(f),
        }
    }

    /// Calls the closure, or returns `None` if it is already running on this stack or panics.
    fn call<R>(&self, what: &str, body: impl FnOnce(&mut F) -> R) -> Option<R> {
        if self.busy.replace(true) {
            report(format_args!("the {what} was re-entered; refusing"));
            return None;
        }
        let _idle = Idle(&self.busy);
        // SAFETY: `busy` was false, so no other reference to the closure exists; the library
        // calls slots only on one thread (the runtime's loop thread).
        let f = unsafe { &mut *self.f.get() };
        guarded(what, None, || Some(body(f)))
    }
}

struct Idle<'a>(&'a Cell<bool>);

impl Drop for Idle<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

// ---- events ----

struct EventSlot<F> {
    slot: Slot<F>,
    queued: RefCell<VecDeque<Event>>,
}

impl<F: FnMut(&Event)> EventSlot<F> {
    fn deliver(&self, event: Event) {
        self.queued.borrow_mut().push_back(event);
        if self.slot.busy.get() {
            return; // re-entered: the call running below us hands it over
        }
        loop {
            let Some(event) = self.queued.borrow_mut().pop_front() else {
                break;
            };
            self.slot.call("event handler", |f| f(&event));
        }
    }
}

/// Boxes an event handler: the slot to keep, and the callback and `user` to register.
pub(crate) fn event_handler<F>(f: F) -> (Retained, sys::zlt_event_cb, *mut c_void)
where
    F: FnMut(&Event) + Send + 'static,
{
    let slot = EventSlot {
        slot: Slot::new(f),
        queued: RefCell::new(VecDeque::new()),
    };
    let (retained, user) = Retained::new(slot);
    (retained, Some(event_trampoline::<F>), user)
}

unsafe extern "C" fn event_trampoline<F: FnMut(&Event)>(
    user: *mut c_void,
    ev: *const sys::zlt_event,
) {
    enter("event handler", (), || {
        // SAFETY: `user` is the EventSlot<F> registered together with this trampoline, kept
        // alive (Retained) until the library stops calling it.
        let slot = unsafe { &*user.cast::<EventSlot<F>>() };
        if ev.is_null() {
            return;
        }
        // SAFETY: the library passes a valid event whose strings live during this call; they
        // are copied before it returns.
        let event = unsafe {
            let ev = &*ev;
            Event::new(borrow_str(ev.name), borrow_str(ev.json))
        };
        slot.deliver(event);
    })
}

// ---- token validator ----

/// Boxes a token validator: the slot to keep, and the callback and `user` to register.
pub(crate) fn token_validator<F>(f: F) -> (Retained, sys::zlt_token_validator_cb, *mut c_void)
where
    F: FnMut(&str, &str) -> Verdict + Send + 'static,
{
    let (retained, user) = Retained::new(Slot::new(f));
    (retained, Some(validator_trampoline::<F>), user)
}

unsafe extern "C" fn validator_trampoline<F: FnMut(&str, &str) -> Verdict>(
    user: *mut c_void,
    token: *const c_char,
    token_hash: *const c_char,
    verdict: *mut sys::zlt_token_verdict,
) -> c_int {
    enter("token validator", 0, || {
        // SAFETY: `user` is the Slot<F> registered together with this trampoline, kept alive
        // until the library stops calling it.
        let slot = unsafe { &*user.cast::<Slot<F>>() };
        if token.is_null() || token_hash.is_null() || verdict.is_null() {
            return 0;
        }
        // SAFETY: the library passes NUL-terminated strings valid during this call.
        let (token, hash) = unsafe { (std::ffi::CStr::from_ptr(token), borrow_str(token_hash)) };
        let answer = match token.to_str() {
            // A lossy conversion could make two different tokens look alike to the validator.
            Err(_) => Verdict::Reject("the token is not valid UTF-8".to_owned()),
            Ok(token) => slot
                .call("token validator", |f| f(token, &hash))
                .unwrap_or_else(|| Verdict::Reject("the token validator failed".to_owned())),
        };
        // SAFETY: `verdict` is the live verdict of this very callback.
        unsafe { apply_verdict(verdict, answer) }
    })
}

/// # Safety
/// `verdict` is the verdict passed to the validator callback that is running now.
unsafe fn apply_verdict(verdict: *mut sys::zlt_token_verdict, answer: Verdict) -> c_int {
    let refuse = |reason: &str| {
        if !reason.is_empty() {
            // A NUL would end the reason early; it cannot be passed through whole.
            let reason = cstring("reason", &reason.replace('\0', " "))
                .expect("NUL bytes were just replaced");
            // SAFETY: valid verdict (this function's contract) and C string. Failure (ENOMEM)
            // leaves the library's default reason, which is still a refusal.
            let _ = unsafe { sys::zlt_verdict_set_reason(verdict, reason.as_ptr()) };
        }
        0
    };
    match answer {
        Verdict::Accept => 1,
        Verdict::Reject(reason) => refuse(&reason),
        Verdict::Grant(grant) => {
            let rc = match cstring("grant", &grant) {
                // SAFETY: valid verdict (this function's contract) and C string.
                Ok(json) => match unsafe { sys::zlt_verdict_set_grant(verdict, json.as_ptr()) } {
                    sys::ZLT_OK => Ok(()),
                    rc => Err(Error::last(rc)),
                },
                Err(err) => Err(err),
            };
            match rc {
                Ok(()) => 1,
                Err(err) => {
                    report(format_args!(
                        "token validator: agent refused, invalid grant: {err}"
                    ));
                    refuse(&format!("invalid grant: {}", err.message()))
                }
            }
        }
    }
}

// ---- connection decisions ----

/// Boxes a connection decider: the slot to keep, and the callback and `user` to register.
pub(crate) fn connection_handler<F>(f: F) -> (Retained, sys::zlt_connection_cb, *mut c_void)
where
    F: FnMut(&IncomingConnection<'_>) -> bool + Send + 'static,
{
    let (retained, user) = Retained::new(Slot::new(f));
    (retained, Some(connection_trampoline::<F>), user)
}

unsafe extern "C" fn connection_trampoline<F: FnMut(&IncomingConnection<'_>) -> bool>(
    user: *mut c_void,
    service_id: *const c_char,
    connection_id: *const c_char,
    client_addr: *const c_char,
) -> c_int {
    enter("connection handler", 0, || {
        // SAFETY: `user` is the Slot<F> registered together with this trampoline, kept alive
        // until the library stops calling it.
        let slot = unsafe { &*user.cast::<Slot<F>>() };
        // SAFETY: the library passes NUL-terminated strings valid during this call.
        let (service_id, connection_id, client_addr) = unsafe {
            (
                borrow_str(service_id),
                borrow_str(connection_id),
                borrow_str(client_addr),
            )
        };
        let incoming = IncomingConnection {
            service_id: &service_id,
            connection_id: &connection_id,
            client_addr: &client_addr,
        };
        let accept = slot
            .call("connection handler", |f| f(&incoming))
            .unwrap_or(false);
        c_int::from(accept)
    })
}

// ---- overlay resolver ----

/// Boxes an overlay resolver: the slot to keep, and the callback and `user` to register.
pub(crate) fn overlay_resolver<F>(f: F) -> (Retained, sys::zlt_overlay_resolver_cb, *mut c_void)
where
    F: FnMut(&str) -> Option<String> + Send + 'static,
{
    let (retained, user) = Retained::new(Slot::new(f));
    (retained, Some(resolver_trampoline::<F>), user)
}

unsafe extern "C" fn resolver_trampoline<F: FnMut(&str) -> Option<String>>(
    user: *mut c_void,
    node: *const c_char,
    address_out: *mut c_char,
    address_size: usize,
) -> c_int {
    enter("overlay resolver", 0, || {
        // SAFETY: `user` is the Slot<F> registered together with this trampoline, kept alive
        // until the library stops calling it.
        let slot = unsafe { &*user.cast::<Slot<F>>() };
        if node.is_null() || address_out.is_null() {
            return 0;
        }
        // SAFETY: the library passes a NUL-terminated string valid during this call.
        let node = unsafe { borrow_str(node) };
        // A node nobody could resolve is unreachable through the overlay.
        let Some(address) = slot.call("overlay resolver", |f| f(&node)).flatten() else {
            return 0;
        };
        let bytes = address.as_bytes();
        if bytes.is_empty() || bytes.contains(&0) || bytes.len() + 1 > address_size {
            return 0;
        }
        // SAFETY: the library's buffer holds `address_size` bytes, more than written here.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), address_out.cast::<u8>(), bytes.len());
            *address_out.add(bytes.len()) = 0;
        }
        1
    })
}

// ---- log records ----

/// Boxes a log handler. Log records arrive on any thread, one at a time, so the handler is
/// `Fn + Sync` and neither counted as a callback frame nor allowed to drop deferred slots
/// (that could call the library, which a log handler must not do).
pub(crate) fn log_handler<F>(f: F) -> (Retained, sys::zlt_log_cb, *mut c_void)
where
    F: Fn(&crate::LogRecord<'_>) + Send + Sync + 'static,
{
    let (retained, user) = Retained::new(f);
    (retained, Some(log_trampoline::<F>), user)
}

unsafe extern "C" fn log_trampoline<F: Fn(&crate::LogRecord<'_>) + Sync>(
    user: *mut c_void,
    level: c_int,
    component: *const c_char,
    message: *const c_char,
    fields_json: *const c_char,
) {
    guarded("log handler", (), || {
        // SAFETY: `user` is the F registered together with this trampoline, kept alive until
        // the library stops calling it; F is Sync, so calls from several threads are fine.
        let f = unsafe { &*user.cast::<F>() };
        // SAFETY: the library passes NUL-terminated strings valid during this call.
        let (component, message, fields_json) = unsafe {
            (
                borrow_str(component),
                borrow_str(message),
                borrow_str(fields_json),
            )
        };
        f(&crate::LogRecord {
            level: crate::LogLevel::from_raw(level),
            component: &component,
            message: &message,
            fields_json: &fields_json,
        });
    })
}
