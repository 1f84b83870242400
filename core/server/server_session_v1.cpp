#include "core/server/server_session_v1.hpp"

#include "core/crypto/crypto.hpp"
#include "core/runtime/log.hpp"

namespace zlt {
namespace {
constexpr const char* kLog = "server";
}  // namespace

std::string V1Connections::tunnel_field() const {
  return tunnel_id_ ? tunnel_id_->to_string() : "";
}

Uuid V1Connections::hold(UvHandle<uv_tcp_t> socket, std::shared_ptr<void> slot, std::string label,
                         std::chrono::milliseconds timeout) {
  const Uuid id = crypto::uuid_v4();
  auto pending = std::make_unique<Pending>();
  pending->socket = std::move(socket);
  pending->slot = std::move(slot);
  pending->label = std::move(label);
  pending->timer.attach(loop_);
  pending->timer.start(timeout, [this, id] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    ZLT_LOG(info, kLog).field("tunnel", tunnel_field())
        << it->second->label << ": closed: the agent speaks protocol v1 and cannot carry data";
    pending_.erase(it);
  });
  pending_[id] = std::move(pending);
  return id;
}

void V1Connections::acknowledged(const Uuid& id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // a connection that already ended
  ZLT_LOG(info, kLog).field("tunnel", tunnel_field())
      << it->second->label
      << ": acknowledged by a version 1 agent, which cannot carry data; the connection "
         "will be closed after connect_timeout";
}

void V1Connections::refused(const Uuid& id, const std::string& reason) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  ZLT_LOG(info, kLog).field("tunnel", tunnel_field())
      << it->second->label << ": refused by the agent: " << reason;
  pending_.erase(it);
}

}  // namespace zlt
