// zlt_registry: a TunnelServer, and the host's event and token callbacks wired into it.
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "capi/capi.hpp"
#include "zlt/config.hpp"
#include "zlt/event_json.hpp"
#include "zlt/server.hpp"

struct zlt_token_verdict {
  std::optional<std::string> reason;
  std::optional<zlt::TokenGrant> grant;
};

struct zlt_registry final : zlt::capi::Object {
  // Loop-thread only, like every field below. Outlived by this handle, so the sinks installed
  // on it may point back here. `events` is declared first, so it outlives the server.
  std::unique_ptr<zlt::JsonTunnelServerObserver> events;
  std::unique_ptr<zlt::TunnelServer> server;
  zlt_token_validator_cb validator_cb = nullptr;
  void* validator_user = nullptr;
  bool validator_installed = false;
  int in_validator = 0;  // depth of validator callbacks running now
  // The configuration last applied (zlt_registry_new, zlt_registry_reload): what a reload
  // without a new one (or POST /admin/v1/reload) applies again, certificate files re-read.
  std::string config_json;

  void destroy() noexcept override {
    silence();
    if (server) server->stop();
    server.reset();
  }

 protected:
  void silence_callbacks() noexcept override { validator_cb = nullptr; }
};

namespace {

using namespace zlt::capi;
using zlt::Errc;
using zlt::Status;

// The token validator the server calls; it forwards to whatever host callback is current, so
// changing the callback never replaces the std::function while the server is calling it.
zlt::Result<zlt::TokenGrant> validate_with_host(zlt_registry* h, std::string_view token,
                                                const std::string& token_hash) {
  const zlt_token_validator_cb cb = h->validator_cb;
  void* const user = h->validator_user;
  if (cb == nullptr) return zlt::make_error(Errc::auth, "server shutting down");
  try {
    const std::string token_text(token);
    zlt_token_verdict verdict;
    int accepted = 0;
    {
      struct Depth {
        int& n;
        explicit Depth(int& d) : n(++d) {}
        ~Depth() { --n; }
      } depth(h->in_validator);
      accepted = cb(user, token_text.c_str(), token_hash.c_str(), &verdict);
    }
    if (accepted == 0)
      return zlt::make_error(Errc::auth, verdict.reason.value_or("invalid tunnel token"));
    return verdict.grant.value_or(zlt::TokenGrant{});
  } catch (...) {
    return zlt::make_error(Errc::auth, "token validation failed: out of memory");
  }
}

// Runs fn with the registry's server on the loop thread.
template <class Fn>
int with_server(zlt_registry* reg, Fn&& fn) {
  return run_on_handle(*reg, [&]() -> Status {
    if (!reg->server) return zlt::make_error(Errc::shutdown, "the runtime has been freed");
    return fn(*reg->server);
  });
}

}  // namespace

extern "C" {

ZLT_EXPORT int zlt_registry_new(zlt_runtime* rt, const char* config_json, zlt_registry** out) {
  return guard([&] {
    if (out == nullptr) return invalid("zlt_registry_new", "out must not be NULL");
    *out = nullptr;
    if (rt == nullptr) return invalid("zlt_registry_new", "rt must not be NULL");
    const std::string text = config_json != nullptr ? config_json : "{}";
    auto config = zlt::config::parse_server_config(text);
    if (!config) return fail(config.error());
    return create_handle(rt->core, out, [&](zlt::Runtime& runtime, zlt_registry* h) -> Status {
      auto server = zlt::TunnelServer::create(runtime, std::move(*config));
      if (!server) return server.take_error();
      h->server = std::move(*server);
      h->config_json = text;
      // The handle outlives its server, so the source may read the handle's text.
      h->server->set_config_source([h] { return zlt::config::parse_server_config(h->config_json); });
      h->events = std::make_unique<zlt::JsonTunnelServerObserver>(events_to_host(h));
      h->server->set_observer(h->events.get());
      return {};
    });
  });
}

ZLT_EXPORT int zlt_registry_listen(zlt_registry* reg, const char* host, int port,
                                   int* bound_port_out) {
  return guard([&] {
    if (reg == nullptr) return invalid("zlt_registry_listen", "reg must not be NULL");
    if (port < -1 || port > 65535)
      return invalid("zlt_registry_listen",
                     "port " + std::to_string(port) +
                         " out of range (-1 for the configured port, 0 for any, 1..65535)");
    int bound = 0;
    int rc = with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      std::optional<std::string_view> listen_host;
      if (host != nullptr) listen_host = host;
      std::optional<std::uint16_t> listen_port;
      if (port >= 0) listen_port = static_cast<std::uint16_t>(port);
      auto addr = server.listen(listen_host, listen_port);
      if (!addr) return addr.take_error();
      bound = addr->port();
      return {};
    });
    if (rc != ZLT_OK) return rc;
    if (bound_port_out != nullptr) *bound_port_out = bound;
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_accept(zlt_registry* reg, int fd) {
  // The descriptor is ours from the first line on: every path that does not hand it to the
  // server closes it.
  bool handed_over = false;
  int rc = guard([&] {
    if (fd < 0) return invalid("zlt_registry_accept", "fd must be a valid descriptor");
    if (reg == nullptr) return invalid("zlt_registry_accept", "reg must not be NULL");
    return with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      if (server.stopped()) return zlt::make_error(Errc::shutdown, "the registry is stopped");
      handed_over = true;  // the server closes fd itself when adopting it fails
      return server.accept(fd);
    });
  });
  if (!handed_over && fd >= 0) ::close(fd);
  return rc;
}

ZLT_EXPORT int zlt_registry_set_token_validator(zlt_registry* reg, zlt_token_validator_cb cb,
                                                void* user) {
  return guard([&] {
    if (reg == nullptr) return invalid("zlt_registry_set_token_validator", "reg must not be NULL");
    return with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      if (cb == nullptr) {
        // Removing the forwarding validator would destroy it while the server is calling it.
        if (reg->in_validator > 0)
          return zlt::make_error(Errc::invalid_argument,
                                 "zlt_registry_set_token_validator: the validator cannot be "
                                 "removed from inside itself");
        reg->validator_cb = nullptr;
        reg->validator_user = nullptr;
        server.set_token_validator(nullptr);
        reg->validator_installed = false;
        return {};
      }
      reg->validator_cb = cb;
      reg->validator_user = user;
      if (!reg->validator_installed) {
        server.set_token_validator([reg](std::string_view token, const std::string& hash) {
          return validate_with_host(reg, token, hash);
        });
        reg->validator_installed = true;
      }
      return {};
    });
  });
}

ZLT_EXPORT int zlt_verdict_set_reason(zlt_token_verdict* verdict, const char* reason) {
  return guard([&] {
    if (verdict == nullptr) return invalid("zlt_verdict_set_reason", "verdict must not be NULL");
    if (reason == nullptr)
      verdict->reason.reset();
    else
      verdict->reason = reason;
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_verdict_set_grant(zlt_token_verdict* verdict, const char* grant_json) {
  return guard([&] {
    if (verdict == nullptr) return invalid("zlt_verdict_set_grant", "verdict must not be NULL");
    if (grant_json == nullptr) {
      verdict->grant.reset();
      return ZLT_OK;
    }
    auto grant = zlt::token_grant_from_json(grant_json);
    if (!grant) return fail(grant.error());
    verdict->grant = std::move(*grant);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_on_event(zlt_registry* reg, zlt_event_cb cb, void* user) {
  return guard([&] {
    if (reg == nullptr) return invalid("zlt_registry_on_event", "reg must not be NULL");
    return with_server(reg, [&](zlt::TunnelServer&) -> Status {
      set_event_callback(*reg, cb, user);
      return {};
    });
  });
}

ZLT_EXPORT int zlt_registry_status(zlt_registry* reg, char** json_out) {
  return guard([&] {
    if (json_out == nullptr) return invalid("zlt_registry_status", "json_out must not be NULL");
    *json_out = nullptr;
    if (reg == nullptr) return invalid("zlt_registry_status", "reg must not be NULL");
    std::string text;
    int rc = with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      text = json_text(server.status());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_metrics(zlt_registry* reg, char** text_out) {
  return guard([&] {
    if (text_out == nullptr) return invalid("zlt_registry_metrics", "text_out must not be NULL");
    *text_out = nullptr;
    if (reg == nullptr) return invalid("zlt_registry_metrics", "reg must not be NULL");
    std::string text;
    int rc = with_server(reg, [&](zlt::TunnelServer& x) -> Status {
      text = x.metrics();
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *text_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_grant_access(zlt_registry* reg, const char* request_json,
                                         char** json_out) {
  return guard([&] {
    if (json_out == nullptr)
      return invalid("zlt_registry_grant_access", "json_out must not be NULL");
    *json_out = nullptr;
    if (reg == nullptr) return invalid("zlt_registry_grant_access", "reg must not be NULL");
    if (request_json == nullptr)
      return invalid("zlt_registry_grant_access", "request_json must not be NULL");
    auto request = zlt::grant_request_from_json(request_json);
    if (!request) return fail(request.error());
    std::string text;
    int rc = with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      auto issued = server.grant_access(*request);
      if (!issued) return issued.take_error();
      text = json_text(issued->to_json());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_revoke_access(zlt_registry* reg, const char* grant_id) {
  return guard([&] {
    if (reg == nullptr) return invalid("zlt_registry_revoke_access", "reg must not be NULL");
    if (grant_id == nullptr)
      return invalid("zlt_registry_revoke_access", "grant_id must not be NULL");
    auto id = zlt::Uuid::parse(grant_id);
    if (!id)
      return invalid("zlt_registry_revoke_access",
                     "grant_id '" + std::string(grant_id) + "' is not a grant id (a UUID)");
    return with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      if (auto st = server.revoke_access(*id); !st)
        return zlt::make_error(st.error().code, st.error().message + " '" + id->to_string() + "'");
      return {};
    });
  });
}

ZLT_EXPORT int zlt_registry_list_grants(zlt_registry* reg, char** json_out) {
  return guard([&] {
    if (json_out == nullptr)
      return invalid("zlt_registry_list_grants", "json_out must not be NULL");
    *json_out = nullptr;
    if (reg == nullptr) return invalid("zlt_registry_list_grants", "reg must not be NULL");
    std::string text;
    int rc = with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      text = json_text(server.list_grants());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_reload(zlt_registry* reg, const char* config_json,
                                   char** report_json_out) {
  return guard([&] {
    if (report_json_out != nullptr) *report_json_out = nullptr;
    if (reg == nullptr) return invalid("zlt_registry_reload", "reg must not be NULL");
    std::optional<zlt::config::TunnelServerConfig> next;
    if (config_json != nullptr) {
      auto parsed = zlt::config::parse_server_config(config_json);
      if (!parsed) return fail(parsed.error());
      next = std::move(*parsed);
    }
    std::string report;
    int rc = with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      auto reloaded = next ? server.reload(std::move(*next)) : server.reload();
      if (!reloaded) return reloaded.take_error();
      if (config_json != nullptr) reg->config_json = config_json;
      report = json_text(reloaded->to_json());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    if (report_json_out != nullptr) *report_json_out = dup_string(report);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_drain(zlt_registry* reg, long long grace_ms) {
  return guard([&] {
    if (reg == nullptr) return invalid("zlt_registry_drain", "reg must not be NULL");
    if (grace_ms < 0) return invalid("zlt_registry_drain", "grace_ms must be >= 0");
    // Set once the server has stopped; a server destroyed first breaks the promise, which
    // ends the wait just the same.
    auto stopped = std::make_shared<std::promise<void>>();
    std::future<void> done = stopped->get_future();
    // The loop runs a call from its own thread inline: then the caller is a callback.
    const std::thread::id caller = std::this_thread::get_id();
    bool on_loop = false;
    int rc = with_server(reg, [&](zlt::TunnelServer& server) -> Status {
      on_loop = std::this_thread::get_id() == caller;
      server.drain(std::chrono::milliseconds(grace_ms), [stopped] { stopped->set_value(); });
      return {};
    });
    if (rc != ZLT_OK) return rc;
    if (on_loop) return ZLT_OK;  // inside a callback: the loop must run for the drain to end
    done.wait_for(std::chrono::milliseconds(grace_ms) + std::chrono::seconds(5));
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_registry_stop(zlt_registry* reg) {
  return guard([&] {
    if (reg == nullptr) return invalid("zlt_registry_stop", "reg must not be NULL");
    return with_server(reg, [](zlt::TunnelServer& server) -> Status {
      server.stop();
      return {};
    });
  });
}

ZLT_EXPORT void zlt_registry_free(zlt_registry* reg) {
  if (reg == nullptr) return;
  release(zlt::capi::HeldObject(reg));
}

}  // extern "C"
