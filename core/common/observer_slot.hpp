// Who an object reports its events to: one observer, not owned, set by whoever owns the object.
// Unset, reports go to a do-nothing observer, so the reporting code never checks.
#pragma once

namespace zlt {

template <class Observer>
class ObserverSlot {
 public:
  Observer& get() { return current_ != nullptr ? *current_ : none_; }
  // Replaces whatever was set (null: none). The observer must outlive the slot or be unset first.
  void set(Observer* observer) { current_ = observer; }

 private:
  Observer* current_ = nullptr;
  Observer none_;
};

}  // namespace zlt
