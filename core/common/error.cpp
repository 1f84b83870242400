#include "core/common/error.hpp"

namespace zlt {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::protocol: return "protocol";
    case Errc::auth: return "auth";
    case Errc::connection: return "connection";
    case Errc::registry: return "registry";
    case Errc::config: return "config";
    case Errc::timeout: return "timeout";
    case Errc::shutdown: return "shutdown";
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::not_found: return "not_found";
    case Errc::exists: return "exists";
    case Errc::limit: return "limit";
    case Errc::io: return "io";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

std::string Error::display() const {
  switch (code) {
    case Errc::protocol: return "Protocol error: " + message;
    case Errc::auth: return "Authentication error: " + message;
    case Errc::connection: return "Connection error: " + message;
    case Errc::registry: return "Registry error: " + message;
    case Errc::config: return "Configuration error: " + message;
    case Errc::timeout: return message.empty() ? "Operation timed out" : "Operation timed out: " + message;
    case Errc::shutdown: return "Service is shutting down";
    default: return message;
  }
}

}  // namespace zlt
