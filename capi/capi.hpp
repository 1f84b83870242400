// The plumbing shared by the C entry points: the C++ side of the handles, error reporting
// (thread-local, set on the caller's thread) and the one place where exceptions are stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "zlayer_tunnel.h"
#include "zlt/error.hpp"
#include "zlt/runtime.hpp"

namespace zlt::capi {

struct Object;

// Drops the host's reference to a handle it has freed (see Object::holds).
struct DropHold {
  void operator()(Object* object) const noexcept;
};
using HeldObject = std::unique_ptr<Object, DropHold>;

// What a runtime handle and the objects created on it share. Objects hold a reference so that
// their handles stay safe to call (and fail with ZLT_ESHUTDOWN) after zlt_runtime_free: the
// stopped Runtime then only answers "not running".
struct RuntimeCore {
  std::unique_ptr<Runtime> runtime;

  // Loop-thread only.
  bool closing = false;       // zlt_runtime_free has begun
  std::vector<Object*> live;  // handles the host still holds (not owned)
  // The one queue of what must wait for the loop's next turn: every object's events for the
  // host, and the handles freed inside callbacks, in the order they happened. Created and
  // destroyed on the loop thread (zlt_runtime_new, zlt_runtime_free), as its uv handle must be.
  std::unique_ptr<DeferredDelete> deferred;

  ~RuntimeCore();
};

// The C++ side of an object handle (zlt_registry, zlt_agent, zlt_access, zlt_node_manager).
struct Object {
  virtual ~Object() = default;
  // Loop thread: from now on no callback of this object reaches the host, and the events
  // still queued for it are dropped.
  void silence() noexcept {
    silenced = true;
    event_cb = nullptr;
    event_user = nullptr;
    silence_callbacks();
  }
  // Loop thread: silence(), then stop and destroy the core object. Idempotent.
  virtual void destroy() noexcept = 0;

  bool freed() const noexcept { return (holds.load() & kFreed) != 0; }

  std::shared_ptr<RuntimeCore> core;

  // Loop-thread only: the host's event callback (see queue_event) and whether silence() ran.
  zlt_event_cb event_cb = nullptr;
  void* event_user = nullptr;
  // Advanced each time the host removes its event callback; an event queued before that
  // carries an older number and is dropped.
  std::uint64_t event_epoch = 0;
  bool silenced = false;

  // Who still needs this handle's memory, in units of kHold: the host until its free function
  // is done, each call in progress (run_on_handle) and each event queued for it. Bit kFreed is
  // set when the host frees it. Whoever drops the last hold deletes the handle, so a call that
  // another thread's free overtakes still finds its memory (and answers ZLT_ECLOSED).
  static constexpr std::uint64_t kFreed = 1;
  static constexpr std::uint64_t kHold = 2;
  std::atomic<std::uint64_t> holds{kHold};

 protected:
  // Loop thread: clears the object's other host callbacks (validator, connection, resolver).
  virtual void silence_callbacks() noexcept {}
};

// ---- errors ----

int code_of(Errc code);
// Records the message as this thread's last error and returns `code`.
int fail(int code, std::string_view message) noexcept;
int fail(const Error& error) noexcept;
// "<function>: <what>" as ZLT_EINVAL.
int invalid(const char* function, std::string_view what) noexcept;

// Runs an entry point's body with every exception stopped at the boundary.
template <class Body>
int guard(Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(ZLT_ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(ZLT_EINTERNAL, e.what());
  } catch (...) {
    return fail(ZLT_EINTERNAL, "unknown exception");
  }
}

// ---- running on the loop ----

// Runs fn on the runtime's loop thread (inline when already there) and waits. Exceptions are
// caught on the loop thread — one escaping there would end the process, and the caller would
// wait forever — and reported, like fn's error, as this thread's last error.
int run_on_loop(RuntimeCore& core, const std::function<Status()>& fn);

// Runs fn on the loop thread for a call on `object`, like run_on_loop, while holding the handle:
// a free on another thread meanwhile cannot take its memory away. A call on a handle whose free
// has begun, or that its free overtakes before fn runs, returns ZLT_ECLOSED instead.
int run_on_handle(Object& object, const std::function<Status()>& fn);

// Loop thread: forgets `object` as a live handle.
void forget(RuntimeCore& core, Object* object) noexcept;

// The shared body of every zlt_*_new: a handle of type H on `core`, registered as live, whose
// core object `init(runtime, handle)` builds on the loop thread. On failure nothing is left
// behind: the handle is forgotten, and an object half set up when an exception escaped is
// destroyed there, on the loop, not when the handle dies on the caller's thread.
template <class H, class Init>
int create_handle(const std::shared_ptr<RuntimeCore>& core, H** out, Init&& init) {
  auto handle = std::make_unique<H>();
  handle->core = core;
  H* h = handle.get();
  int rc = run_on_loop(*core, [&]() -> Status {
    if (core->closing) return make_error(Errc::shutdown, "the runtime is being freed");
    core->live.push_back(h);
    try {
      Status st = init(*core->runtime, h);
      if (!st) forget(*core, h);
      return st;
    } catch (...) {
      forget(*core, h);
      h->destroy();
      throw;
    }
  });
  if (rc != ZLT_OK) return rc;
  *out = handle.release();
  return ZLT_OK;
}

// Takes a handle the host has freed. Off the loop thread its core object is destroyed on the
// loop before this returns. On the loop thread we are inside a host callback, with the
// object's own code possibly below us on the stack: it is silenced now and destroyed at the
// loop's next turn, through the runtime's DeferredDelete, once the callback has returned.
// Calls on the handle still in progress on other threads complete or return ZLT_ECLOSED; the
// last of them deletes the handle.
void release(HeldObject object) noexcept;

// ---- values crossing the boundary ----

// A copy for the host to free with zlt_free (malloc'd). Throws std::bad_alloc.
char* dup_string(std::string_view s);
// JSON for the host: compact, and invalid UTF-8 (a peer's text) replaced rather than thrown on.
std::string json_text(const nlohmann::json& j);

// ---- events ----
//
// One policy for every object: a core event never reaches the host from inside core. It is
// queued on the runtime's DeferredDelete and delivered at the loop's next turn, in the order
// the events happened across all objects of the runtime, to the callback current then. An
// event whose object was freed or silenced, or whose callback was removed, before delivery is
// dropped. The callback may therefore free its own object or any other.

// Loop thread: queues `event` for the host callback of `object`, if it has one.
void queue_event(Object& object, const nlohmann::json& event) noexcept;

// Loop thread: sets the host's event callback of `object`. Removing it (NULL) drops the events
// still queued for it.
void set_event_callback(Object& object, zlt_event_cb cb, void* user) noexcept;

// A core event sink that queues events for the handle's host callback.
inline auto events_to_host(Object* h) {
  return [h](const nlohmann::json& event) { queue_event(*h, event); };
}

}  // namespace zlt::capi

struct zlt_runtime {
  std::shared_ptr<zlt::capi::RuntimeCore> core;
};
