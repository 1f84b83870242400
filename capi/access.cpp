// zlt_access: an AccessManager (on-demand access through a server), and the host's event
// callback wired into it.
#include <memory>
#include <string>
#include <utility>

#include "capi/capi.hpp"
#include "zlt/access.hpp"
#include "zlt/config.hpp"
#include "zlt/event_json.hpp"

struct zlt_access final : zlt::capi::Object {
  // Loop-thread only, like every field below. Outlived by this handle, so the sink installed
  // on it may point back here.
  std::unique_ptr<zlt::AccessObserver> observer;  // outlives the manager that reports to it
  std::unique_ptr<zlt::AccessManager> manager;

  void destroy() noexcept override {
    silence();
    if (manager) manager->shutdown();
    manager.reset();
  }
};

namespace {

using namespace zlt::capi;
using zlt::Errc;
using zlt::Status;

template <class Fn>
int with_manager(zlt_access* access, Fn&& fn) {
  return run_on_handle(*access, [&]() -> Status {
    if (!access->manager) return zlt::make_error(Errc::shutdown, "the runtime has been freed");
    return fn(*access->manager);
  });
}

}  // namespace

extern "C" {

ZLT_EXPORT int zlt_access_new(zlt_runtime* rt, const char* config_json, zlt_access** out) {
  return guard([&] {
    if (out == nullptr) return invalid("zlt_access_new", "out must not be NULL");
    *out = nullptr;
    if (rt == nullptr) return invalid("zlt_access_new", "rt must not be NULL");
    auto setup = zlt::config::parse_access_setup(config_json != nullptr ? config_json : "{}");
    if (!setup) return fail(setup.error());
    return create_handle(rt->core, out, [&](zlt::Runtime& runtime, zlt_access* h) -> Status {
      auto manager =
          zlt::AccessManager::create(runtime, std::move(setup->client), std::move(setup->access));
      if (!manager) return manager.take_error();
      h->manager = std::move(*manager);
      h->observer = std::make_unique<zlt::JsonAccessObserver>(events_to_host(h));
      h->manager->set_observer(h->observer.get());
      return {};
    });
  });
}

ZLT_EXPORT int zlt_access_on_event(zlt_access* access, zlt_event_cb cb, void* user) {
  return guard([&] {
    if (access == nullptr) return invalid("zlt_access_on_event", "access must not be NULL");
    return with_manager(access, [&](zlt::AccessManager&) -> Status {
      set_event_callback(*access, cb, user);
      return {};
    });
  });
}

ZLT_EXPORT int zlt_access_start_session(zlt_access* access, const char* request_json,
                                        char** json_out) {
  return guard([&] {
    if (json_out == nullptr)
      return invalid("zlt_access_start_session", "json_out must not be NULL");
    *json_out = nullptr;
    if (access == nullptr) return invalid("zlt_access_start_session", "access must not be NULL");
    if (request_json == nullptr)
      return invalid("zlt_access_start_session", "request_json must not be NULL");
    auto request = zlt::config::parse_access_session_request(request_json);
    if (!request) return fail(request.error());
    std::string text;
    int rc = with_manager(access, [&](zlt::AccessManager& m) -> Status {
      auto info =
          m.start_session(request->target, request->local_port, request->ttl, request->protocol);
      if (!info) return info.take_error();
      text = json_text(info->to_json());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_access_stop_session(zlt_access* access, const char* session_id) {
  return guard([&] {
    if (access == nullptr) return invalid("zlt_access_stop_session", "access must not be NULL");
    if (session_id == nullptr)
      return invalid("zlt_access_stop_session", "session_id must not be NULL");
    auto id = zlt::Uuid::parse(session_id);
    if (!id)
      return invalid("zlt_access_stop_session",
                     "session_id '" + std::string(session_id) + "' is not a session id (a UUID)");
    return with_manager(access, [&](zlt::AccessManager& m) -> Status {
      if (!m.stop_session(*id))
        return zlt::make_error(Errc::not_found, "no such session '" + id->to_string() + "'");
      return {};
    });
  });
}

ZLT_EXPORT int zlt_access_list(zlt_access* access, char** json_out) {
  return guard([&] {
    if (json_out == nullptr) return invalid("zlt_access_list", "json_out must not be NULL");
    *json_out = nullptr;
    if (access == nullptr) return invalid("zlt_access_list", "access must not be NULL");
    std::string text;
    int rc = with_manager(access, [&](zlt::AccessManager& m) -> Status {
      text = json_text(m.list_sessions());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_access_metrics(zlt_access* access, char** text_out) {
  return guard([&] {
    if (text_out == nullptr) return invalid("zlt_access_metrics", "text_out must not be NULL");
    *text_out = nullptr;
    if (access == nullptr) return invalid("zlt_access_metrics", "access must not be NULL");
    std::string text;
    int rc = with_manager(access, [&](zlt::AccessManager& x) -> Status {
      text = x.metrics();
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *text_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT void zlt_access_free(zlt_access* access) {
  if (access == nullptr) return;
  release(zlt::capi::HeldObject(access));
}

}  // extern "C"
