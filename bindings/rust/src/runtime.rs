//! The runtime: an event loop on its own thread, shared by the objects created on it.

use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{Result, check};
use crate::sys;

/// An event loop running on a thread of its own. Every [`Server`](crate::Server) and
/// [`Agent`](crate::Agent) lives on a runtime and does its work, callbacks included, on that
/// runtime's loop thread.
///
/// `Runtime` is a cheap handle: clones share one loop, and each server and agent holds one too,
/// so a runtime can never be freed under its objects. The loop thread stops and is joined when
/// the last handle (including the ones inside servers and agents) is dropped.
///
/// ```
/// let rt = zlayer_tunnel::Runtime::new()?;
/// let server = zlayer_tunnel::Server::new(&rt, r#"{"listen":"127.0.0.1:0"}"#)?;
/// drop(rt); // the server keeps the loop running
/// assert!(server.status()?.starts_with('{'));
/// # Ok::<(), zlayer_tunnel::Error>(())
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RawRuntime>,
}

struct RawRuntime {
    raw: NonNull<sys::zlt_runtime>,
}

// SAFETY: the C interface may be called from any thread (calls are carried to the loop
// thread), and the handle itself is only read.
unsafe impl Send for RawRuntime {}
unsafe impl Sync for RawRuntime {}

impl Runtime {
    /// Starts a runtime: an event loop on a new thread.
    pub fn new() -> Result<Self> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: `raw` is a valid output location.
        check(unsafe { sys::zlt_runtime_new(&mut raw) })?;
        let raw = NonNull::new(raw).expect("zlt_runtime_new succeeded with a NULL runtime");
        Ok(Self {
            inner: Arc::new(RawRuntime { raw }),
        })
    }

    /// The C handle, for use with [`sys`](crate::sys). It stays valid while `self` lives.
    pub fn as_raw(&self) -> *mut sys::zlt_runtime {
        self.inner.raw.as_ptr()
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Runtime").field(&self.inner.raw).finish()
    }
}

impl Drop for RawRuntime {
    fn drop(&mut self) {
        // SAFETY: the handle is live and, being the last reference, freed only here.
        let rc = unsafe { sys::zlt_runtime_free(self.raw.as_ptr()) };
        if rc == sys::ZLT_EINVAL {
            // The last handle went away inside a callback of this runtime (a closure that
            // owned the last object), and the loop thread cannot join itself. Another thread
            // can: it frees the runtime as soon as the callback has returned.
            struct Handle(NonNull<sys::zlt_runtime>);
            // SAFETY: see RawRuntime; nothing else refers to the handle any more.
            unsafe impl Send for Handle {}
            let handle = Handle(self.raw);
            let spawned = std::thread::Builder::new()
                .name("zlt-runtime-free".to_owned())
                .spawn(move || {
                    let handle = handle;
                    // SAFETY: the handle is live and freed only here.
                    unsafe { sys::zlt_runtime_free(handle.0.as_ptr()) };
                });
            if let Err(err) = spawned {
                // Without a thread the runtime cannot be stopped; leaking it is the only safe
                // choice.
                let _ = std::io::Write::write_fmt(
                    &mut std::io::stderr(),
                    format_args!(
                        "zlayer-tunnel: a runtime was leaked: no thread to free it ({err})\n"
                    ),
                );
            }
        }
    }
}
