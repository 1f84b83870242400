// RAII for libuv handles. Closing a uv handle is asynchronous: the memory may only be freed in
// its close callback, so a UvHandle owns a heap-allocated handle and hands it to uv_close on
// destruction. After that no callback of the handle reaches its former owner (data is cleared;
// callbacks must check it).
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace zlt {

template <class H>
class UvHandle {
 public:
  UvHandle() = default;
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& o) noexcept : h_(std::move(o.h_)) {}
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::move(o.h_);
    }
    return *this;
  }
  ~UvHandle() { reset(); }

  // Allocates the handle and runs init_fn(loop, handle, args...) (uv_tcp_init, uv_timer_init,
  // ...). On failure nothing is kept and the libuv error code is returned.
  template <class InitFn, class... Args>
  int init(InitFn init_fn, uv_loop_t* loop, Args&&... args) {
    reset();
    auto h = std::make_unique<H>();
    int rc = init_fn(loop, h.get(), std::forward<Args>(args)...);
    if (rc == 0) h_ = std::move(h);
    return rc;
  }

  H* get() const { return h_.get(); }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(h_.get()); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(h_.get()); }
  explicit operator bool() const { return h_ != nullptr; }
  void set_data(void* data) { h_->data = data; }

  // Closes the handle (if any). Pending requests complete with UV_ECANCELED before it is freed.
  void reset() {
    if (!h_) return;
    H* raw = h_.release();
    raw->data = nullptr;
    auto* base = reinterpret_cast<uv_handle_t*>(raw);
    if (uv_is_closing(base)) return;  // someone else already closed it; their callback frees it
    uv_close(base, &UvHandle::free_closed);
  }

  // TCP only: closes with a reset (RST) instead of an orderly shutdown, so the peer learns the
  // connection was aborted. Falls back to a plain close where a reset is not possible.
  void reset_abortive() {
    static_assert(std::is_same_v<H, uv_tcp_t>, "reset_abortive is for TCP handles");
    if (!h_) return;
    H* raw = h_.release();
    raw->data = nullptr;
    auto* base = reinterpret_cast<uv_handle_t*>(raw);
    if (uv_is_closing(base)) return;
    if (uv_tcp_close_reset(raw, &UvHandle::free_closed) != 0) uv_close(base, &UvHandle::free_closed);
  }

 private:
  static void free_closed(uv_handle_t* h) { delete reinterpret_cast<H*>(h); }  // NOLINT
  std::unique_ptr<H> h_;
};

// A one-shot or repeating timer with a std::function callback.
class Timer {
 public:
  using Callback = std::function<void()>;
  using Ms = std::chrono::milliseconds;

  Timer() = default;
  explicit Timer(uv_loop_t* loop) { attach(loop); }
  void attach(uv_loop_t* loop);
  // (Re)arms the timer. repeat = 0: fires once.
  void start(Ms timeout, Callback cb, Ms repeat = Ms{0});
  void stop();
  bool active() const;
  // Makes the timer not keep the loop alive on its own.
  void unref();

 private:
  static void on_timer(uv_timer_t* t);
  UvHandle<uv_timer_t> h_;
  Callback cb_;
};

// "connection refused (ECONNREFUSED)"
std::string uv_error_text(int code);

}  // namespace zlt
