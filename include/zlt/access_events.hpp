// Typed events of AccessManager (core/access/access_manager.hpp): its sessions starting and
// ending, the server ending access for good, and the events of its control connection (a
// TunnelAgent, include/zlt/events.hpp). Reported on the loop thread as they happen. The JSON
// that hosts see is made from them in one place (include/zlt/event_json.hpp).
#pragma once

#include <string>

#include "zlt/events.hpp"

namespace zlt {

struct AccessSessionInfo;  // core/access/access_manager.hpp

struct AccessSessionStarted {
  const AccessSessionInfo& session;
};

enum class AccessSessionEnd { expired, stopped };

struct AccessSessionEnded {
  AccessSessionEnd how = AccessSessionEnd::stopped;
  std::string reason;
  const AccessSessionInfo& session;  // the final snapshot
};

// The server ended access ("fatal: token expired"): every session is closed first and the
// connection is not retried.
struct AccessEnded {
  std::string reason;
};

// The agent's events (TunnelAgentObserver) come first, as the agent reports them.
class AccessObserver : public TunnelAgentObserver {
 public:
  virtual void on_session_started(const AccessSessionStarted&) {}
  virtual void on_session_ended(const AccessSessionEnded&) {}
  virtual void on_access_ended(const AccessEnded&) {}
};

}  // namespace zlt
