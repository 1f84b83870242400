// Child processes for tests: peers written in other languages (Python servers, proxies) and
// command-line tools. stdout is captured line by line; stderr goes to the test's stderr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zlt::test {

// Tests write to sockets whose peer may be gone; libuv does not ignore SIGPIPE.
void ignore_sigpipe();

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH) with a pipe on stdin (closed when this object goes away,
  // so children watching it exit even if the test crashes) and on stdout. nullptr on failure.
  static std::unique_ptr<Subprocess> start(const std::vector<std::string>& argv);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // The next line of stdout without the newline; nullopt on timeout or end of output.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  // Reads lines until one starts with `prefix`; returns it (nullopt on timeout/end).
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  // Waits for the exit status (nullopt on timeout).
  std::optional<int> wait(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  Subprocess() = default;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  std::optional<int> status_;
};

// Runs a command to completion; returns its exit status (-1 if it could not start) and its
// stdout in `output` if given.
int run_command(const std::vector<std::string>& argv, std::string* output = nullptr);

}  // namespace zlt::test
