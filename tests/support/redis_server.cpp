#include "support/redis_server.hpp"

#include <poll.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "support/net.hpp"

namespace zlt::test {
namespace {

using namespace std::chrono_literals;

std::uint16_t free_port() {
  std::uint16_t port = 0;
  Fd listener = tcp_listen(&port);
  return listener ? port : 0;  // closed here, for Redis to bind
}

std::string resp_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

}  // namespace

RedisServer::RedisServer(std::optional<std::string> password) : password_(std::move(password)) {
  for (int attempt = 0; attempt < 5 && !process_; ++attempt) {
    port_ = free_port();
    if (port_ != 0) launch();
  }
}

RedisServer::~RedisServer() {
  if (port_hold_ >= 0) ::close(port_hold_);
  // process_: SIGTERM, then SIGKILL
}

std::string RedisServer::url(unsigned db) const {
  std::string auth = password_ ? ":" + *password_ + "@" : "";
  return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
}

bool RedisServer::launch() {
  if (port_hold_ >= 0) {
    ::close(port_hold_);
    port_hold_ = -1;
  }
  std::vector<std::string> argv{"redis-server", "--port", std::to_string(port_),
                                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", "/tmp", "--loglevel", "notice", "--logfile", ""};
  if (password_) {
    argv.push_back("--requirepass");
    argv.push_back(*password_);
  }
  auto p = Subprocess::start(argv);
  if (!p) return false;
  // Redis says when it listens; a port taken meanwhile makes it exit with an error line.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto line = p->read_line(deadline - std::chrono::steady_clock::now() > 0s
                                 ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                       deadline - std::chrono::steady_clock::now())
                                 : 0ms);
    if (!line) break;
    if (line->find("Ready to accept connections") != std::string::npos) {
      process_ = std::move(p);
      return true;
    }
  }
  return false;
}

void RedisServer::kill() {
  if (!process_) return;
  ::kill(process_->pid(), SIGKILL);
  process_->wait(5s);
  process_.reset();
  // Bound but not listening: a client is refused, and no port-0 bind elsewhere gets it.
  port_hold_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  ::setsockopt(port_hold_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(port_hold_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(port_hold_);
    port_hold_ = -1;
  }
}

bool RedisServer::restart() {
  kill();
  return launch();
}

std::optional<std::string> RedisServer::command(const std::vector<std::string>& args) const {
  Fd fd = tcp_connect(port_);
  if (!fd) return std::nullopt;
  set_timeouts(fd.get(), 5s);
  std::string request;
  if (password_) request += resp_command({"AUTH", *password_});
  request += resp_command(args);
  request += resp_command({"QUIT"});  // Redis answers +OK and closes once it has replied
  if (!send_all(fd.get(), request)) return std::nullopt;
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  if (password_) {
    auto end = reply.find("\r\n");  // the AUTH reply
    if (end == std::string::npos) return std::nullopt;
    reply.erase(0, end + 2);
  }
  if (!reply.ends_with("+OK\r\n")) return std::nullopt;
  reply.resize(reply.size() - 5);
  if (reply.empty()) return std::nullopt;
  return reply;
}

}  // namespace zlt::test
