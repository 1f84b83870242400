#include "core/events/access_event_json.hpp"

#include "core/access/access_manager.hpp"

namespace zlt {

nlohmann::json to_json(const AccessSessionStarted& e) {
  return {{"event", "session_started"}, {"session", e.session.to_json()}};
}

nlohmann::json to_json(const AccessSessionEnded& e) {
  const char* event = e.how == AccessSessionEnd::expired ? "session_expired" : "session_stopped";
  return {{"event", event}, {"reason", e.reason}, {"session", e.session.to_json()}};
}

nlohmann::json to_json(const AccessEnded& e) {
  return {{"event", "fatal"}, {"reason", e.reason}};
}

std::unique_ptr<AccessObserver> json_access_observer(JsonEventSink sink) {
  return std::make_unique<JsonAccessObserver>(std::move(sink));
}

}  // namespace zlt
