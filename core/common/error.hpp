// Errors and results shared by every room of the core. No exceptions cross module
// boundaries: fallible calls return Result<T> (a value or an Error).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace zlt {

// Kinds of failure. The first seven mirror the original crate's TunnelError variants, whose
// Display texts (see Error::display) some peers and logs depend on.
enum class Errc : int {
  protocol = 1,    // malformed or unexpected wire data
  auth,            // authentication refused
  connection,      // socket, TLS, DNS, WebSocket failures
  registry,        // tunnel/service/port bookkeeping
  config,          // invalid configuration
  timeout,         // an operation ran out of time
  shutdown,        // the object is stopping or stopped
  invalid_argument,
  not_found,
  exists,
  limit,           // a configured limit was reached
  io,              // local file I/O
  internal,
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code = Errc::internal;
  std::string message;

  // The original's Display form: "Protocol error: <message>", "Registry error: <message>",
  // "Operation timed out", ... Other kinds print "<message>".
  std::string display() const;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }
  Error&& take_error() { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *error_; }
  Error&& take_error() { assert(!ok()); return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

// Propagates the error of a Result-returning expression.
#define ZLT_TRY(expr)                                       \
  do {                                                      \
    auto zlt_try_result_ = (expr);                          \
    if (!zlt_try_result_.ok()) return zlt_try_result_.take_error(); \
  } while (0)

}  // namespace zlt
