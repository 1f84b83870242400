#include "core/runtime/callback_guard.hpp"

#include <exception>
#include <new>

#include "core/runtime/log.hpp"

namespace zlt::detail {

void log_callback_exception(const char* where) noexcept {
  try {
    try {
      throw;
    } catch (const std::exception& e) {
      ZLT_LOG(error, "runtime") << "exception in " << where << " callback: " << e.what();
    } catch (...) {
      ZLT_LOG(error, "runtime") << "exception in " << where << " callback: unknown exception";
    }
  } catch (...) {
    // Even the log line failed (out of memory): nothing more can be said.
  }
}

}  // namespace zlt::detail
