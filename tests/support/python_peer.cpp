#include "support/python_peer.hpp"

#include <chrono>

#include "support/paths.hpp"

namespace zlt::test {

PythonPeer PythonPeer::start(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/python3",
                                std::string(source_dir()) + "/tests/support/python_ws_server.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  PythonPeer peer;
  peer.process = Subprocess::start(argv);
  if (!peer.process) return peer;
  auto line = peer.process->wait_for_line("PORT ", std::chrono::seconds(20));
  if (!line) {
    peer.process.reset();
    return peer;
  }
  peer.port = std::stoi(line->substr(5));
  return peer;
}

}  // namespace zlt::test
