// zlt_node_manager: a NodeTunnelManager (node-to-node tunnels), the host's event callback and
// the host's overlay resolver wired into it.
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "capi/capi.hpp"
#include "zlt/config.hpp"
#include "zlt/event_json.hpp"
#include "zlt/log.hpp"
#include "zlt/node.hpp"

struct zlt_node_manager final : zlt::capi::Object {
  // Loop-thread only, like every field below. Outlived by this handle, so the resolver
  // installed on it may point back here.
  // Declared before the manager, so it outlives it.
  std::unique_ptr<zlt::JsonNodeObserver> observer;
  std::unique_ptr<zlt::NodeTunnelManager> manager;
  zlt_overlay_resolver_cb resolver_cb = nullptr;
  void* resolver_user = nullptr;
  int in_resolver = 0;  // depth of resolver callbacks running now

  void destroy() noexcept override {
    silence();
    if (manager) manager->shutdown();
    manager.reset();
  }

 protected:
  void silence_callbacks() noexcept override { resolver_cb = nullptr; }
};

namespace {

using namespace zlt::capi;
using zlt::Errc;
using zlt::Status;

struct Depth {
  int& n;
  explicit Depth(int& d) : n(++d) {}
  ~Depth() { --n; }
  Depth(const Depth&) = delete;
  Depth& operator=(const Depth&) = delete;
};

// The resolver the manager calls; it forwards to whatever host callback is current, so
// changing the callback never replaces the std::function while the manager is calling it.
std::optional<std::string> resolve_with_host(zlt_node_manager* h, const std::string& node) {
  if (h->silenced) return std::nullopt;
  const zlt_overlay_resolver_cb cb = h->resolver_cb;
  if (cb == nullptr) return std::nullopt;
  std::array<char, ZLT_OVERLAY_ADDRESS_MAX> address{};
  int found = 0;
  {
    Depth depth(h->in_resolver);
    found = cb(h->resolver_user, node.c_str(), address.data(), address.size());
  }
  if (found == 0) return std::nullopt;
  const std::size_t length = ::strnlen(address.data(), address.size());
  if (length == address.size()) {
    ZLT_LOG(warn, "capi").field("node", node)
        << "overlay resolver: the address for node " << node
        << " is not NUL-terminated within the buffer; treated as unreachable";
    return std::nullopt;
  }
  if (length == 0) return std::nullopt;
  return std::string(address.data(), length);
}

template <class Fn>
int with_manager(zlt_node_manager* node, const char* function, Fn&& fn) {
  return run_on_handle(*node, [&]() -> Status {
    if (!node->manager) return zlt::make_error(Errc::shutdown, "the runtime has been freed");
    if (node->in_resolver > 0)
      return zlt::make_error(
          Errc::invalid_argument,
          std::string(function) + ": cannot be called from inside this manager's overlay resolver");
    return fn(*node->manager);
  });
}

}  // namespace

extern "C" {

ZLT_EXPORT int zlt_node_manager_new(zlt_runtime* rt, const char* node_config_json,
                                    zlt_node_manager** out) {
  return guard([&] {
    if (out == nullptr) return invalid("zlt_node_manager_new", "out must not be NULL");
    *out = nullptr;
    if (rt == nullptr) return invalid("zlt_node_manager_new", "rt must not be NULL");
    auto config =
        zlt::config::parse_node_config(node_config_json != nullptr ? node_config_json : "{}");
    if (!config) return fail(config.error());
    return create_handle(rt->core, out, [&](zlt::Runtime& runtime, zlt_node_manager* h) -> Status {
      auto manager = zlt::NodeTunnelManager::create(runtime, *config);
      if (!manager) return manager.take_error();
      h->manager = std::move(*manager);
      h->observer = std::make_unique<zlt::JsonNodeObserver>(events_to_host(h));
      h->manager->set_observer(h->observer.get());
      h->manager->set_overlay_resolver(
          [h](const std::string& node) { return resolve_with_host(h, node); });
      return {};
    });
  });
}

ZLT_EXPORT int zlt_node_manager_on_event(zlt_node_manager* mgr, zlt_event_cb cb, void* user) {
  return guard([&] {
    if (mgr == nullptr) return invalid("zlt_node_manager_on_event", "mgr must not be NULL");
    return with_manager(mgr, "zlt_node_manager_on_event", [&](zlt::NodeTunnelManager&) -> Status {
      set_event_callback(*mgr, cb, user);
      return {};
    });
  });
}

ZLT_EXPORT int zlt_node_manager_set_overlay_resolver(zlt_node_manager* mgr,
                                                     zlt_overlay_resolver_cb cb, void* user) {
  return guard([&] {
    if (mgr == nullptr)
      return invalid("zlt_node_manager_set_overlay_resolver", "mgr must not be NULL");
    return with_manager(mgr, "zlt_node_manager_set_overlay_resolver",
                        [&](zlt::NodeTunnelManager&) -> Status {
                          mgr->resolver_cb = cb;
                          mgr->resolver_user = cb != nullptr ? user : nullptr;
                          return {};
                        });
  });
}

ZLT_EXPORT int zlt_node_manager_add_tunnel(zlt_node_manager* mgr, const char* tunnel_json) {
  return guard([&] {
    if (mgr == nullptr) return invalid("zlt_node_manager_add_tunnel", "mgr must not be NULL");
    if (tunnel_json == nullptr)
      return invalid("zlt_node_manager_add_tunnel", "tunnel_json must not be NULL");
    auto j = zlt::config::parse_json_text(tunnel_json);
    if (!j) return fail(j.error());
    auto tunnel = zlt::config::node_tunnel_from_json(*j);
    if (!tunnel) return fail(tunnel.error());
    return with_manager(
        mgr, "zlt_node_manager_add_tunnel", [&](zlt::NodeTunnelManager& m) -> Status {
          if (m.get_tunnel(tunnel->name))
            return zlt::make_error(Errc::exists, "Tunnel '" + tunnel->name + "' already exists");
          return m.add_tunnel(std::move(*tunnel));
        });
  });
}

ZLT_EXPORT int zlt_node_manager_remove_tunnel(zlt_node_manager* mgr, const char* name) {
  return guard([&] {
    if (mgr == nullptr) return invalid("zlt_node_manager_remove_tunnel", "mgr must not be NULL");
    if (name == nullptr) return invalid("zlt_node_manager_remove_tunnel", "name must not be NULL");
    const std::string tunnel(name);
    return with_manager(
        mgr, "zlt_node_manager_remove_tunnel", [&](zlt::NodeTunnelManager& m) -> Status {
          if (!m.get_tunnel(tunnel))
            return zlt::make_error(Errc::not_found, "Tunnel '" + tunnel + "' not found");
          return m.remove_tunnel(tunnel);
        });
  });
}

ZLT_EXPORT int zlt_node_manager_start(zlt_node_manager* mgr) {
  return guard([&] {
    if (mgr == nullptr) return invalid("zlt_node_manager_start", "mgr must not be NULL");
    return with_manager(mgr, "zlt_node_manager_start",
                        [](zlt::NodeTunnelManager& m) -> Status { return m.start(); });
  });
}

ZLT_EXPORT int zlt_node_manager_stop(zlt_node_manager* mgr) {
  return guard([&] {
    if (mgr == nullptr) return invalid("zlt_node_manager_stop", "mgr must not be NULL");
    return with_manager(mgr, "zlt_node_manager_stop", [](zlt::NodeTunnelManager& m) -> Status {
      m.shutdown();
      return {};
    });
  });
}

ZLT_EXPORT int zlt_node_manager_status(zlt_node_manager* mgr, char** json_out) {
  return guard([&] {
    if (json_out == nullptr) return invalid("zlt_node_manager_status", "json_out must not be NULL");
    *json_out = nullptr;
    if (mgr == nullptr) return invalid("zlt_node_manager_status", "mgr must not be NULL");
    std::string text;
    int rc = with_manager(mgr, "zlt_node_manager_status", [&](zlt::NodeTunnelManager& m) -> Status {
      text = json_text(m.status());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *json_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_node_manager_metrics(zlt_node_manager* mgr, char** text_out) {
  return guard([&] {
    if (text_out == nullptr)
      return invalid("zlt_node_manager_metrics", "text_out must not be NULL");
    *text_out = nullptr;
    if (mgr == nullptr) return invalid("zlt_node_manager_metrics", "mgr must not be NULL");
    std::string text;
    int rc =
        with_manager(mgr, "zlt_node_manager_metrics", [&](zlt::NodeTunnelManager& x) -> Status {
          text = x.metrics();
          return {};
        });
    if (rc != ZLT_OK) return rc;
    *text_out = dup_string(text);
    return ZLT_OK;
  });
}

ZLT_EXPORT void zlt_node_manager_free(zlt_node_manager* mgr) {
  if (mgr == nullptr) return;
  release(zlt::capi::HeldObject(mgr));
}

}  // extern "C"
