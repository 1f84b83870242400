#include "core/runtime/uv_handle.hpp"

#include "core/runtime/callback_guard.hpp"

namespace zlt {

void Timer::attach(uv_loop_t* loop) {
  h_.init(uv_timer_init, loop);
  h_.set_data(this);
}

void Timer::start(Ms timeout, Callback cb, Ms repeat) {
  cb_ = std::move(cb);
  uv_timer_start(h_.get(), &Timer::on_timer, static_cast<uint64_t>(timeout.count()),
                 static_cast<uint64_t>(repeat.count()));
}

void Timer::stop() {
  if (h_) uv_timer_stop(h_.get());
}

bool Timer::active() const { return h_ && uv_is_active(h_.handle()) != 0; }

void Timer::unref() {
  if (h_) uv_unref(h_.handle());
}

void Timer::on_timer(uv_timer_t* t) {
  auto* self = static_cast<Timer*>(t->data);
  if (self == nullptr) return;
  // The callback may re-arm or destroy this timer: keep the function alive while it runs.
  Callback cb = self->cb_;
  if (cb) guard_callback("timer", cb);
}

std::string uv_error_text(int code) {
  return std::string(uv_strerror(code)) + " (" + uv_err_name(code) + ")";
}

}  // namespace zlt
