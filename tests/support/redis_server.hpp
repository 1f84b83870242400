// A real redis-server for cluster tests: started on 127.0.0.1 with a port the kernel chose
// (bound once to learn a free one, then handed to Redis; retried if another process took it
// meanwhile), persistence off, stopped when the object goes away.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace zlt::test {

class RedisServer {
 public:
  // Starts at once; ok() says whether it is accepting connections. `password` sets
  // requirepass.
  explicit RedisServer(std::optional<std::string> password = std::nullopt);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  bool ok() const { return process_ != nullptr; }
  std::uint16_t port() const { return port_; }
  // redis://[:password@]127.0.0.1:PORT/db
  std::string url(unsigned db = 0) const;

  // Ends the process (SIGKILL: as if the host lost it) and waits for it. The port stays
  // bound (not listening: connections are refused) until restart(), so that no other test's
  // Redis takes it meanwhile.
  void kill();
  // Starts again on the same port (empty: a fresh instance, persistence is off).
  bool restart();

  // One command over a fresh connection, its reply in RESP text ("+OK", ":1", "$-1", ...);
  // nullopt when Redis does not answer.
  std::optional<std::string> command(const std::vector<std::string>& args) const;

 private:
  bool launch();
  std::optional<std::string> password_;
  std::uint16_t port_ = 0;
  std::unique_ptr<Subprocess> process_;
  int port_hold_ = -1;
};

}  // namespace zlt::test
