// Core objects live and die on the loop thread. LoopOwned<T> holds one from the main thread
// and destroys it on the loop, so an early return can never free it on the wrong thread.
// Declare it after the Runtime it belongs to, so it goes first.
#pragma once

#include <memory>

#include "core/runtime/runtime.hpp"

namespace zlt {

template <class T>
class LoopOwned {
 public:
  explicit LoopOwned(Runtime& runtime) : runtime_(runtime) {}
  ~LoopOwned() { reset(); }
  LoopOwned(const LoopOwned&) = delete;
  LoopOwned& operator=(const LoopOwned&) = delete;

  // Loop-thread only (inside runtime.invoke).
  void set(std::unique_ptr<T> object) { object_ = std::move(object); }
  T* get() const { return object_.get(); }
  T* operator->() const { return object_.get(); }
  explicit operator bool() const { return object_ != nullptr; }

  // Main thread: destroys the object on the loop thread.
  void reset() {
    if (object_) runtime_.invoke([this] { object_.reset(); });
  }

 private:
  Runtime& runtime_;
  std::unique_ptr<T> object_;
};

}  // namespace zlt
