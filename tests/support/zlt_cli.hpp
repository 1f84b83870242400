// Running the built `zlt` binary from tests: argv builders, output scanning and exit checks
// shared by every CLI test.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace zlt::test {

std::string zlt_path();
// argv that runs zlt with `args`, its stderr folded into stdout (what Subprocess captures). The
// shell execs zlt, so signals sent to the process reach zlt itself.
std::vector<std::string> zlt(std::vector<std::string> args);

struct ZltRun {
  int code = -1;  // exit code as run_command returns it
  std::string output;
};
ZltRun run_zlt(std::vector<std::string> args);

// Reads lines until one contains `needle`; the line, or "" on timeout or end of output.
std::string wait_for_text(Subprocess& p, const std::string& needle,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The decimal number right after the regex `pattern` in `text`; 0 if none.
std::uint16_t number_after(const std::string& text, const std::string& pattern);
// Writes `text` to a file in the test temp dir unique to this process; returns its path.
std::string write_temp_file(const std::string& name, const std::string& text);
bool exited_with(const std::optional<int>& status, int code);

}  // namespace zlt::test
