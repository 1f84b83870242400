#include <string>

#include "core/config/config.hpp"
#include "core/config/text.hpp"

namespace zlt::config {

ServiceConfig ServiceConfig::tcp(std::string name, std::uint16_t local_port) {
  ServiceConfig s;
  s.name = std::move(name);
  s.protocol = proto::ServiceProtocol::tcp;
  s.local_port = local_port;
  return s;
}

ServiceConfig ServiceConfig::udp(std::string name, std::uint16_t local_port) {
  ServiceConfig s = tcp(std::move(name), local_port);
  s.protocol = proto::ServiceProtocol::udp;
  return s;
}

Status ServiceConfig::validate() const {
  return ErrorList::first_of(*this);
}

void ServiceConfig::validate_all(ErrorList& errors) const {
  if (name.empty()) {
    errors.add(make_error(Errc::config, "name cannot be empty"));
  } else if (name.size() > 255) {
    // The original counted bytes but said "chars".
    errors.add(make_error(Errc::config,
                          "name too long: " + std::to_string(name.size()) + " bytes, max 255"));
  } else if (!has_service_name_chars(name)) {
    errors.add(make_error(
        Errc::config, "name must contain only alphanumeric characters, hyphens, and underscores"));
  }
  if (local_port == 0) errors.add(make_error(Errc::config, "local_port cannot be 0"));
  // The text form names only TCP4/TCP6; the binary form has a DGRAM variant.
  if (proxy_protocol == ProxyProtocol::v1 && protocol == proto::ServiceProtocol::udp)
    errors.add(
        make_error(Errc::config, "proxy_protocol: v1 is for TCP only; a UDP service needs v2"));
}

}  // namespace zlt::config
