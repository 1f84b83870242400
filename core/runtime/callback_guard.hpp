// The boundary between C callers (libuv, libwebsockets) and our callbacks. An exception that
// unwinds into C frames ends the process, so every callback entry point runs its body through
// guard_callback: an escaped exception is logged as an error naming where it happened, and
// `recover` then ends just the connection or operation concerned.
//
//   uv_read_start(s, alloc, [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
//     guard_callback("tcp read", [&] { ... }, [&] { endpoint->abort(); });
//   });
//   return guard_callback("ws server", [&] { return dispatch(...); }, [] { return -1; });
//
// A named static callback is guarded where it is handed to libuv, without touching its body:
//   uv_read_start(s, guarded<&TcpEndpoint::on_alloc, "tcp read">,
//                 guarded<&TcpEndpoint::on_read, "tcp read">);
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

namespace zlt {

namespace detail {
// Logs the exception being handled ("exception in <where> callback: <what>"). Never throws.
void log_callback_exception(const char* where) noexcept;
}  // namespace detail

// Runs body(); if it throws, logs and returns recover() instead (which may itself not throw
// through: a second exception is logged too, and the result is then value-initialised).
template <class Body, class Recover>
std::invoke_result_t<Body&> guard_callback(const char* where, Body&& body,
                                           Recover&& recover) noexcept {
  using R = std::invoke_result_t<Body&>;
  try {
    return body();
  } catch (...) {
    detail::log_callback_exception(where);
  }
  try {
    return recover();
  } catch (...) {
    detail::log_callback_exception(where);
  }
  if constexpr (!std::is_void_v<R>) return R{};
}

// For callbacks whose failure needs no clean-up beyond the log line.
template <class Body>
std::invoke_result_t<Body&> guard_callback(const char* where, Body&& body) noexcept {
  using R = std::invoke_result_t<Body&>;
  return guard_callback(where, std::forward<Body>(body), [] { return R(); });
}

// A string literal usable as a template argument (the `where` of guarded<>).
template <std::size_t N>
struct CallbackName {
  constexpr CallbackName(const char (&name)[N]) { std::copy_n(name, N, text); }  // NOLINT
  char text[N];
};

template <auto Fn, CallbackName Where>
struct GuardedCallback;

template <class R, class... Args, R (*Fn)(Args...), CallbackName Where>
struct GuardedCallback<Fn, Where> {
  static R call(Args... args) noexcept {
    return guard_callback(Where.text, [&]() -> R { return Fn(args...); });
  }
};

// A function pointer with Fn's signature that runs Fn under guard_callback(Where, ...).
template <auto Fn, CallbackName Where>
constexpr auto guarded = &GuardedCallback<Fn, Where>::call;

template <CallbackName Where, class Lambda, class Signature>
struct GuardedLambda;

template <CallbackName Where, class Lambda, class R, class... Args>
struct GuardedLambda<Where, Lambda, R (*)(Args...)> {
  static R call(Args... args) noexcept {
    return guard_callback(Where.text, [&]() -> R { return Lambda{}(args...); });
  }
};

// The same for a capture-less lambda written where it is handed over:
//   uv_shutdown(req, stream, guarded_lambda<"tcp shutdown">([](uv_shutdown_t* r, int) { ... }));
template <CallbackName Where, class Lambda>
constexpr auto guarded_lambda(Lambda) {
  return &GuardedLambda<Where, Lambda, decltype(+Lambda{})>::call;
}

}  // namespace zlt
