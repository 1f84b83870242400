// Library-wide entry points (version, errors, memory, tokens, logging) and the plumbing
// declared in capi.hpp.
#include <cstdlib>
#include <cstring>
#include <utility>

#include "capi/capi.hpp"
#include "zlt/common.hpp"
#include "zlt/crypto.hpp"
#include "zlt/log.hpp"

namespace zlt::capi {
namespace {

// The last error of this thread. A fixed text is used when even the message cannot be
// allocated, so reporting ENOMEM never needs memory.
struct LastError {
  std::string text;
  const char* fixed = "";
  bool use_fixed = true;
};

LastError& last_error() {
  thread_local LastError e;
  return e;
}

}  // namespace

RuntimeCore::~RuntimeCore() {
  // Reached only after zlt_runtime_free emptied `live`, destroyed `deferred` on the loop and
  // stopped the runtime (or when creating the runtime failed), so nothing here needs the loop.
  runtime.reset();
}

int code_of(Errc code) {
  switch (code) {
    case Errc::protocol:
      return ZLT_EPROTOCOL;
    case Errc::auth:
      return ZLT_EAUTH;
    case Errc::connection:
      return ZLT_ECONNECTION;
    case Errc::registry:
      return ZLT_EREGISTRY;
    case Errc::config:
      return ZLT_ECONFIG;
    case Errc::timeout:
      return ZLT_ETIMEOUT;
    case Errc::shutdown:
      return ZLT_ESHUTDOWN;
    case Errc::invalid_argument:
      return ZLT_EINVAL;
    case Errc::not_found:
      return ZLT_ENOTFOUND;
    case Errc::exists:
      return ZLT_EEXISTS;
    case Errc::limit:
      return ZLT_ELIMIT;
    case Errc::io:
      return ZLT_EIO;
    case Errc::internal:
      return ZLT_EINTERNAL;
  }
  return ZLT_EINTERNAL;
}

int fail(int code, std::string_view message) noexcept {
  LastError& e = last_error();
  try {
    e.text.assign(message);
    e.use_fixed = false;
  } catch (...) {
    e.fixed = "out of memory (while recording an error)";
    e.use_fixed = true;
  }
  return code;
}

int fail(const Error& error) noexcept {
  // The core leaves some messages empty (a plain shutdown); say at least what kind it was.
  if (error.message.empty()) return fail(code_of(error.code), zlt_strerror(code_of(error.code)));
  return fail(code_of(error.code), error.message);
}

int invalid(const char* function, std::string_view what) noexcept {
  try {
    return fail(ZLT_EINVAL, std::string(function) + ": " + std::string(what));
  } catch (...) {
    return fail(ZLT_EINVAL, what);
  }
}

int run_on_loop(RuntimeCore& core, const std::function<Status()>& fn) {
  int rc = ZLT_OK;
  std::string message;
  const bool ran = core.runtime->invoke([&] {
    try {
      Status st = fn();
      if (!st) {
        rc = code_of(st.error().code);
        message = st.error().message;
        if (message.empty()) message = zlt_strerror(rc);
      }
    } catch (const std::bad_alloc&) {
      rc = ZLT_ENOMEM;
    } catch (const std::exception& e) {
      rc = ZLT_EINTERNAL;
      message = e.what();
    } catch (...) {
      rc = ZLT_EINTERNAL;
      message = "unknown exception";
    }
  });
  if (!ran) return fail(ZLT_ESHUTDOWN, "the runtime has been freed");
  if (rc == ZLT_ENOMEM) return fail(rc, "out of memory");
  if (rc != ZLT_OK) return fail(rc, message);
  return ZLT_OK;
}

void DropHold::operator()(Object* object) const noexcept {
  if (object->holds.fetch_sub(Object::kHold) == (Object::kFreed | Object::kHold)) delete object;
}

int run_on_handle(Object& object, const std::function<Status()>& fn) {
  // From here until `hold` ends, the handle's memory stays, whatever other threads do.
  const std::uint64_t before = object.holds.fetch_add(Object::kHold);
  const HeldObject hold(&object);
  if ((before & Object::kFreed) != 0) return fail(ZLT_ECLOSED, "the handle has been freed");
  bool overtaken = false;
  int rc = run_on_loop(*object.core, [&]() -> Status {
    if (object.freed()) {
      overtaken = true;
      return {};
    }
    return fn();
  });
  if (overtaken) return fail(ZLT_ECLOSED, "the handle was freed while this call waited");
  return rc;
}

void forget(RuntimeCore& core, Object* object) noexcept {
  std::erase(core.live, object);
}

namespace {

// Loop thread: a hold on `object` (see Object::holds) for work queued on its behalf.
HeldObject hold(Object& object) noexcept {
  object.holds.fetch_add(Object::kHold);
  return HeldObject(&object);
}

// Loop thread: destroys `object` (freed inside a callback) at the loop's next turn.
void destroy_later(RuntimeCore& core, HeldObject object) noexcept {
  if (!core.deferred) {
    // Only while zlt_runtime_free tears down, which destroyed every object already.
    (void)object.release();
    return;
  }
  std::shared_ptr<HeldObject> buried;
  try {
    buried = std::make_shared<HeldObject>(std::move(object));
    core.deferred->later_run([buried] { (*buried)->destroy(); });
  } catch (...) {
    // Without memory to defer the destruction, leaking the object is the only safe choice:
    // destroying it here would pull it from under the code that called us.
    if (buried) (void)buried->release();
    if (object) (void)object.release();
  }
}

void deliver_event(zlt_event_cb cb, void* user, const nlohmann::json& event) noexcept {
  try {
    std::string name;
    if (auto it = event.find("event"); it != event.end() && it->is_string())
      name = it->get<std::string>();
    const std::string text = json_text(event);
    const zlt_event ev{name.c_str(), text.c_str()};
    cb(user, &ev);
  } catch (...) {
    // Only building the strings can throw; the event is lost rather than the loop unwound.
    ZLT_LOG(error, "capi") << "event dropped: out of memory";
  }
}

// Loop thread, at the turn after the event: hands it to the callback current now, unless the
// object was freed or silenced, or its callback removed, meanwhile. Every field is read here,
// not when queued: an earlier callback of this turn may have changed any of them.
void deliver_queued(Object& object, std::uint64_t epoch, const nlohmann::json& event) noexcept {
  if (object.freed() || object.silenced || object.event_epoch != epoch) return;
  const zlt_event_cb cb = object.event_cb;
  if (cb == nullptr) return;
  deliver_event(cb, object.event_user, event);
}

}  // namespace

void queue_event(Object& object, const nlohmann::json& event) noexcept {
  RuntimeCore& core = *object.core;
  if (object.freed() || object.silenced || object.event_cb == nullptr || !core.deferred) return;
  try {
    // The hold keeps the handle's memory until delivery, even if another thread frees it.
    auto held = std::make_shared<HeldObject>(hold(object));
    core.deferred->later_run(
        [held, epoch = object.event_epoch, event] { deliver_queued(**held, epoch, event); });
  } catch (...) {
    ZLT_LOG(error, "capi") << "event dropped: out of memory";
  }
}

void set_event_callback(Object& object, zlt_event_cb cb, void* user) noexcept {
  if (cb == nullptr) ++object.event_epoch;
  object.event_cb = cb;
  object.event_user = cb != nullptr ? user : nullptr;
}

void release(HeldObject object) noexcept {
  // Calls that begin from now on answer ZLT_ECLOSED without touching the core object.
  object->holds.fetch_or(Object::kFreed);
  std::shared_ptr<RuntimeCore> core = object->core;
  Runtime& runtime = *core->runtime;
  if (runtime.on_loop_thread()) {
    object->silence();
    forget(*core, object.get());
    destroy_later(*core, std::move(object));
    return;
  }
  Object* raw = object.get();
  try {
    (void)runtime.invoke([core, raw] {
      forget(*core, raw);
      raw->destroy();
    });
  } catch (...) {
    // The command could not even be queued; the object cannot be destroyed off its loop.
    (void)object.release();
    return;
  }
  // Its core object is gone: destroyed just now, or by zlt_runtime_free if the runtime stopped
  // first (invoke then refuses, and that is fine).
  object.reset();
}

std::string json_text(const nlohmann::json& j) {
  return dump_json(j);
}

char* dup_string(std::string_view s) {
  auto* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  return p;
}

}  // namespace zlt::capi

using namespace zlt::capi;

extern "C" {

// The build also defines ZLT_VERSION_STRING from the project version; if the header's numbers
// fall behind, that is a macro redefinition and the build fails (-Werror).
ZLT_EXPORT const char* zlt_version(void) {
  return ZLT_VERSION_STRING;
}

ZLT_EXPORT const char* zlt_strerror(int code) {
  switch (code) {
    case ZLT_OK:
      return "success";
    case ZLT_EPROTOCOL:
      return "protocol error";
    case ZLT_EAUTH:
      return "authentication refused";
    case ZLT_ECONNECTION:
      return "connection error";
    case ZLT_EREGISTRY:
      return "registry error";
    case ZLT_ECONFIG:
      return "invalid configuration";
    case ZLT_ETIMEOUT:
      return "operation timed out";
    case ZLT_ESHUTDOWN:
      return "shutting down";
    case ZLT_EINVAL:
      return "invalid argument";
    case ZLT_ENOTFOUND:
      return "not found";
    case ZLT_EEXISTS:
      return "already exists";
    case ZLT_ELIMIT:
      return "limit reached";
    case ZLT_EIO:
      return "I/O error";
    case ZLT_EINTERNAL:
      return "internal error";
    case ZLT_ENOMEM:
      return "out of memory";
    case ZLT_ECLOSED:
      return "the object has been freed";
    default:
      return "unknown error";
  }
}

ZLT_EXPORT const char* zlt_last_error(void) {
  const LastError& e = last_error();
  return e.use_fixed ? e.fixed : e.text.c_str();
}

ZLT_EXPORT void zlt_free(void* ptr) {
  std::free(ptr);
}

ZLT_EXPORT int zlt_hash_token(const char* token, char** out_hex) {
  return guard([&] {
    if (out_hex == nullptr) return invalid("zlt_hash_token", "out_hex must not be NULL");
    *out_hex = nullptr;
    if (token == nullptr) return invalid("zlt_hash_token", "token must not be NULL");
    *out_hex = dup_string(zlt::crypto::hash_token(token));
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_token_new(char** out) {
  return guard([&] {
    if (out == nullptr) return invalid("zlt_token_new", "out must not be NULL");
    *out = nullptr;
    *out = dup_string(zlt::crypto::new_token());
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_set_log_level(const char* level) {
  return guard([&] {
    if (level == nullptr) return invalid("zlt_set_log_level", "level must not be NULL");
    auto parsed = zlt::parse_log_level(level);
    if (!parsed)
      return invalid("zlt_set_log_level",
                     "unknown level '" + std::string(level) +
                         "' (expected trace, debug, info, warn, error or off)");
    zlt::Log::set_level(*parsed);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_set_log_callback(zlt_log_cb cb, void* user) {
  return guard([&] {
    if (cb == nullptr) {
      zlt::Log::set_sink(nullptr);
      return ZLT_OK;
    }
    zlt::Log::set_sink([cb, user](const zlt::LogRecord& r) {
      try {
        const std::string component(r.component);
        const std::string message(r.message);
        const std::string fields = json_text(r.fields);
        cb(user, static_cast<int>(r.level), component.c_str(), message.c_str(), fields.c_str());
      } catch (...) {
        // A record that cannot be formatted is dropped; logging never unwinds its caller.
      }
    });
    return ZLT_OK;
  });
}

}  // extern "C"
