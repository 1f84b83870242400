// zlt_agent: a TunnelAgent, and the host's event and connection callbacks wired into it.
#include <string>
#include <utility>

#include "capi/capi.hpp"
#include "zlt/agent.hpp"
#include "zlt/config.hpp"
#include "zlt/event_json.hpp"

struct zlt_agent final : zlt::capi::Object {
  // Loop-thread only, like every field below. Outlived by this handle, so the sinks installed
  // on it may point back here. `events` is declared first, so it outlives the agent.
  std::unique_ptr<zlt::JsonTunnelAgentObserver> events;
  std::unique_ptr<zlt::TunnelAgent> agent;
  zlt_connection_cb connection_cb = nullptr;
  void* connection_user = nullptr;

  void destroy() noexcept override {
    silence();
    if (agent) agent->stop();
    agent.reset();
  }

 protected:
  void silence_callbacks() noexcept override { connection_cb = nullptr; }
};

namespace {

using namespace zlt::capi;
using zlt::Errc;
using zlt::Status;

// The connection callback the agent calls; it forwards to whatever host callback is current,
// so changing the callback never replaces the std::function while the agent is calling it.
bool accept_with_host(zlt_agent* h, const zlt::Uuid& service_id, const zlt::Uuid& connection_id,
                      const std::string& client_addr) {
  if (h->silenced) return false;  // freed from a callback; destroyed once it returns
  const zlt_connection_cb cb = h->connection_cb;
  if (cb == nullptr) return true;
  try {
    const std::string service = service_id.to_string();
    const std::string connection = connection_id.to_string();
    return cb(h->connection_user, service.c_str(), connection.c_str(), client_addr.c_str()) != 0;
  } catch (...) {
    return false;  // the ids could not be formatted; a connection nobody decided on is refused
  }
}

template <class Fn>
int with_agent(zlt_agent* agent, Fn&& fn) {
  return run_on_handle(*agent, [&]() -> Status {
    if (!agent->agent) return zlt::make_error(Errc::shutdown, "the runtime has been freed");
    return fn(*agent->agent);
  });
}

}  // namespace

extern "C" {

ZLT_EXPORT int zlt_agent_new(zlt_runtime* rt, const char* config_json, zlt_agent** out) {
  return guard([&] {
    if (out == nullptr) return invalid("zlt_agent_new", "out must not be NULL");
    *out = nullptr;
    if (rt == nullptr) return invalid("zlt_agent_new", "rt must not be NULL");
    auto config = zlt::config::parse_client_config(config_json != nullptr ? config_json : "{}");
    if (!config) return fail(config.error());
    return create_handle(rt->core, out, [&](zlt::Runtime& runtime, zlt_agent* h) -> Status {
      auto agent = zlt::TunnelAgent::create(runtime, std::move(*config));
      if (!agent) return agent.take_error();
      h->agent = std::move(*agent);
      h->events = std::make_unique<zlt::JsonTunnelAgentObserver>(events_to_host(h));
      h->agent->set_observer(h->events.get());
      h->agent->set_connection_callback(
          [h](const zlt::Uuid& service, const zlt::Uuid& connection, const std::string& addr) {
            return accept_with_host(h, service, connection, addr);
          });
      return {};
    });
  });
}

ZLT_EXPORT int zlt_agent_on_event(zlt_agent* agent, zlt_event_cb cb, void* user) {
  return guard([&] {
    if (agent == nullptr) return invalid("zlt_agent_on_event", "agent must not be NULL");
    return with_agent(agent, [&](zlt::TunnelAgent&) -> Status {
      set_event_callback(*agent, cb, user);
      return {};
    });
  });
}

ZLT_EXPORT int zlt_agent_on_connection(zlt_agent* agent, zlt_connection_cb cb, void* user) {
  return guard([&] {
    if (agent == nullptr) return invalid("zlt_agent_on_connection", "agent must not be NULL");
    return with_agent(agent, [&](zlt::TunnelAgent&) -> Status {
      agent->connection_cb = cb;
      agent->connection_user = cb != nullptr ? user : nullptr;
      return {};
    });
  });
}

ZLT_EXPORT int zlt_agent_start(zlt_agent* agent) {
  return guard([&] {
    if (agent == nullptr) return invalid("zlt_agent_start", "agent must not be NULL");
    return with_agent(agent, [](zlt::TunnelAgent& a) -> Status {
      a.start();
      return {};
    });
  });
}

ZLT_EXPORT int zlt_agent_stop(zlt_agent* agent) {
  return guard([&] {
    if (agent == nullptr) return invalid("zlt_agent_stop", "agent must not be NULL");
    return with_agent(agent, [](zlt::TunnelAgent& a) -> Status {
      a.stop();
      return {};
    });
  });
}

ZLT_EXPORT int zlt_agent_status(zlt_agent* agent, char** json_out) {
  return guard([&] {
    if (json_out == nullptr) return invalid("zlt_agent_status", "json_out must not be NULL");
    *json_out = nullptr;
    if (agent == nullptr) return invalid("zlt_agent_status", "agent must not be NULL");
    std::string text;
    int rc = with_agent(agent, [&](zlt::TunnelAgent& a) -> Status {
      text = json_text(a.status());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_agent_metrics(zlt_agent* agent, char** text_out) {
  return guard([&] {
    if (text_out == nullptr) return invalid("zlt_agent_metrics", "text_out must not be NULL");
    *text_out = nullptr;
    if (agent == nullptr) return invalid("zlt_agent_metrics", "agent must not be NULL");
    std::string text;
    int rc = with_agent(agent, [&](zlt::TunnelAgent& x) -> Status {
      text = x.metrics();
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *text_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT void zlt_agent_free(zlt_agent* agent) {
  if (agent == nullptr) return;
  release(zlt::capi::HeldObject(agent));
}

}  // extern "C"
