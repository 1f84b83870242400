#include "core/runtime/deferred_delete.hpp"

#include "core/runtime/callback_guard.hpp"

namespace zlt {

DeferredDelete::DeferredDelete(uv_loop_t* loop) {
  // An idle handle, not a zero timer: while anything is pending the loop does not block in
  // poll, so the objects go at the very next turn even when no other event is due.
  if (idle_.init(uv_idle_init, loop) == 0) idle_.set_data(this);
}

DeferredDelete::~DeferredDelete() { flush(); }

void DeferredDelete::later_run(std::function<void()> fn) {
  if (!fn) return;
  pending_.push_back(std::move(fn));
  if (pending_.size() == 1 && idle_) uv_idle_start(idle_.get(), &DeferredDelete::on_idle);
}

void DeferredDelete::flush() {
  // A destructor may bury more objects; keep going until nothing is left.
  while (!pending_.empty()) {
    auto batch = std::move(pending_);
    pending_.clear();
    for (auto& fn : batch) guard_callback("deferred delete", [&] { fn(); });
  }
  if (idle_) uv_idle_stop(idle_.get());
}

void DeferredDelete::on_idle(uv_idle_t* idle) {
  auto* self = static_cast<DeferredDelete*>(idle->data);
  if (self == nullptr) return;
  // Only what was pending when the turn began: anything buried by these destructors waits for
  // the next turn, so a chain of re-burials cannot starve the loop.
  auto batch = std::move(self->pending_);
  self->pending_.clear();
  if (self->pending_.empty()) uv_idle_stop(idle);
  for (auto& fn : batch) guard_callback("deferred delete", [&] { fn(); });
  if (!self->pending_.empty()) uv_idle_start(idle, &DeferredDelete::on_idle);
}

}  // namespace zlt
