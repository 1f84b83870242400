#include "support/zlt_cli.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "support/paths.hpp"

namespace zlt::test {

std::string zlt_path() {
  return std::string(binary_dir()) + "/zlt";
}

std::vector<std::string> zlt(std::vector<std::string> args) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", zlt_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ZltRun run_zlt(std::vector<std::string> args) {
  ZltRun r;
  r.code = run_command(zlt(std::move(args)), &r.output);
  return r;
}

std::string wait_for_text(Subprocess& p, const std::string& needle,
                          std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return "";
    auto line = p.read_line(left);
    if (!line) return "";
    if (line->find(needle) != std::string::npos) return *line;
  }
}

std::uint16_t number_after(const std::string& text, const std::string& pattern) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(pattern + "([0-9]+)"))) return 0;
  return static_cast<std::uint16_t>(std::stoi(m[1].str()));
}

std::string write_temp_file(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "zlt_cli_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path) << text;
  return path;
}

bool exited_with(const std::optional<int>& status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

}  // namespace zlt::test
