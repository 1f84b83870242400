// The message of a failed Result, or "<ok>": lets a test compare a reader's outcome with the
// exact error text it must give.
#pragma once

#include <string>

#include "core/common/error.hpp"

namespace zlt {

template <class T>
std::string error_of(const Result<T>& r) {
  return r.ok() ? "<ok>" : r.error().message;
}

}  // namespace zlt
