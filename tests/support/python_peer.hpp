// tests/support/python_ws_server.py as a child process: a websockets-library server, a raw
// crafted-response server, or an HTTP CONNECT proxy (see the script's --mode).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace zlt::test {

struct PythonPeer {
  std::unique_ptr<Subprocess> process;
  int port = 0;

  // Starts the script with `args` (e.g. {"--mode", "raw"}) under /usr/bin/python3 (where
  // Debian's python3-websockets lives) and waits for its "PORT n" line. On failure the
  // returned peer has no process and port 0.
  static PythonPeer start(const std::vector<std::string>& args);
  explicit operator bool() const { return process != nullptr && port > 0; }
};

}  // namespace zlt::test
