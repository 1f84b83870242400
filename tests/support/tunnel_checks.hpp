// Small checks shared by the control-plane tests: does a public port carry bytes, which ports
// are free, how many descriptors does the process hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/config/config.hpp"

namespace zlt::test {

// Sends `payload` through 127.0.0.1:port (a tunnelled echo service) and checks that exactly the
// same bytes come back; on failure `why` says what happened.
bool echoes(std::uint16_t port, const std::string& payload, std::string* why = nullptr);
// A short unique payload per call, for echoes().
std::string probe_payload(std::size_t size = 4096);
// `n` consecutive TCP ports on 127.0.0.1 that were all free a moment ago (a random base below
// the ephemeral range, probed).
std::optional<config::PortRange> free_port_range(std::size_t n);
// Sends a raw HTTP request to 127.0.0.1:port and returns the response (head and the body its
// Content-Length announces); nullopt if none arrives.
std::optional<std::string> http_exchange(std::uint16_t port, const std::string& request);
// Open file descriptors of this process.
std::size_t open_fd_count();

}  // namespace zlt::test
