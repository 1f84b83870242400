// Who an object reports its events to: one typed observer (not owned), or, for hosts that
// want JSON, an owned JSON observer made from a sink. Both TunnelServer and TunnelAgent hold
// one, so the two ways of subscribing behave the same on every object.
#pragma once

#include <memory>
#include <utility>

#include "core/events/event_json.hpp"

namespace zlt {

template <class Observer, class JsonObserver>
class ObserverSlot {
 public:
  // The observer to call; a do-nothing one when none is set, so callers never check.
  Observer& get() {
    static Observer none;
    return current_ != nullptr ? *current_ : none;
  }
  // Replaces whatever was set (null: none).
  void set(Observer* observer) {
    current_ = observer;
    owned_.reset();
  }
  // Replaces whatever was set with a JSON observer feeding `sink` (empty: none).
  void set_json(JsonEventSink sink) {
    if (!sink) return set(nullptr);
    auto json = std::make_unique<JsonObserver>(std::move(sink));
    current_ = json.get();
    owned_ = std::move(json);
  }

 private:
  Observer* current_ = nullptr;
  std::unique_ptr<Observer> owned_;
};

}  // namespace zlt
