// Protocol v1 compatibility on the server: a version 1 agent acknowledges a public connection
// (ConnectAck) but has no STREAMS feature, so it cannot carry the connection's bytes. The
// public socket is held until connect_timeout and then closed; a ConnectFail closes it at once.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/common/uuid.hpp"
#include "core/runtime/uv_handle.hpp"

namespace zlt {

class V1Connections {
 public:
  // `tunnel_id` is the owning session's (for the log lines); it outlives this object.
  V1Connections(uv_loop_t* loop, const std::optional<Uuid>& tunnel_id)
      : loop_(loop), tunnel_id_(tunnel_id) {}
  V1Connections(const V1Connections&) = delete;
  V1Connections& operator=(const V1Connections&) = delete;

  // Holds a public connection (and its per-source `slot`) for `timeout`; returns the
  // connection id to announce in Connect.
  Uuid hold(UvHandle<uv_tcp_t> socket, std::shared_ptr<void> slot, std::string label,
            std::chrono::milliseconds timeout);
  // The agent's answers. Ids of connections no longer held are ignored.
  void acknowledged(const Uuid& id);
  void refused(const Uuid& id, const std::string& reason);

  std::size_t size() const { return pending_.size(); }
  void clear() { pending_.clear(); }

 private:
  struct Pending {
    UvHandle<uv_tcp_t> socket;
    std::shared_ptr<void> slot;
    Timer timer;
    std::string label;
  };
  std::string tunnel_field() const;

  uv_loop_t* loop_;
  const std::optional<Uuid>& tunnel_id_;
  std::map<Uuid, std::unique_ptr<Pending>> pending_;
};

}  // namespace zlt
