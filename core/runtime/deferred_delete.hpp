// The one way core frees an object that may still be on the call stack. An object that ends
// inside its own callback (a stream closing while its endpoint reports, an agent stopped from
// its own event, a C ABI handle freed inside a host callback) cannot be destroyed there: the
// frames above it still use it. Handing it to a DeferredDelete destroys it at the loop's next
// turn instead, after the current callback has unwound.
//
// The owner of the objects keeps the DeferredDelete as a member, declared after anything the
// buried objects still use, so that whatever is pending is destroyed before the owner's other
// members (the destructor frees everything still pending, in order).
//
// Loop-thread only, like the rest of core. A pending object must not own the DeferredDelete
// that holds it.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "core/runtime/uv_handle.hpp"

namespace zlt {

class DeferredDelete {
 public:
  explicit DeferredDelete(uv_loop_t* loop);
  ~DeferredDelete();
  DeferredDelete(const DeferredDelete&) = delete;
  DeferredDelete& operator=(const DeferredDelete&) = delete;

  // Takes object and destroys it at the loop's next turn (or when this DeferredDelete is
  // destroyed or flushed, whichever comes first). A null object is ignored.
  template <class T>
  void later(std::unique_ptr<T> object) {
    if (!object) return;
    std::shared_ptr<T> shared(std::move(object));
    later_run([held = std::move(shared)]() mutable { held.reset(); });
  }

  // Runs fn at the loop's next turn, in the same order as the objects handed to later().
  // For work that must wait until the current callback has unwound (delivering an event
  // whose handler may free the object that raised it).
  void later_run(std::function<void()> fn);

  // Destroys everything pending now. Objects whose destructors hand over more objects are
  // destroyed too, before flush returns.
  void flush();

  std::size_t pending() const { return pending_.size(); }

 private:
  static void on_idle(uv_idle_t* idle);

  std::vector<std::function<void()>> pending_;
  UvHandle<uv_idle_t> idle_;
};

}  // namespace zlt
