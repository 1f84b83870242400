// Replays inputs through a libFuzzer target without libFuzzer, so that the normal (gcc) build
// runs every fuzz target over its seed corpus as an ordinary test and a crash found once stays
// fixed. Arguments, in any number and order:
//   FILE.seeds one input per line (tests/fuzz/seeds/README.md): hex digits (blanks ignored) or
//              a double-quoted string with the escapes \\ \n \r \t \xHH; '#' lines are comments
//   DIRECTORY  every regular file in it, as raw bytes (a libFuzzer corpus or crash artifacts)
//   FILE       the file's raw bytes
// Exits 0 if every input ran (a failing input aborts, as under libFuzzer), 1 on unusable
// arguments.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace {

namespace fs = std::filesystem;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::vector<std::uint8_t>> decode_quoted(std::string_view text) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(static_cast<std::uint8_t>(text[i]));
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\':
        out.push_back('\\');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'x': {
        int high = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        int low = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (high < 0 || low < 0) return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(high * 16 + low));
        i += 2;
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

// One line of a seeds file (already known not to be blank or a comment).
std::optional<std::vector<std::uint8_t>> decode_seed_line(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
    line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return std::nullopt;
  if (line.front() == '"') {
    if (line.size() < 2 || line.back() != '"') return std::nullopt;
    return decode_quoted(line.substr(1, line.size() - 2));
  }
  std::vector<std::uint8_t> out;
  int high = -1;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\r') continue;
    int v = hex_digit(c);
    if (v < 0) return std::nullopt;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(high * 16 + v));
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return out;
}

// Runs the input, with a copy of its own so the target cannot read past it unnoticed under
// sanitizers (and an empty input is a valid pointer of size 0, as libFuzzer passes it).
void run(const std::vector<std::uint8_t>& input) {
  std::vector<std::uint8_t> copy(input);
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
}

bool replay_seeds_file(const fs::path& path, std::size_t& count) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "replay: cannot open %s\n", path.c_str());
    return false;
  }
  std::string line;
  std::size_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    std::size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto bytes = decode_seed_line(line);
    if (!bytes) {
      std::fprintf(stderr, "replay: %s:%zu: neither hex nor a quoted string\n", path.c_str(),
                   line_number);
      return false;
    }
    run(*bytes);
    ++count;
  }
  return true;
}

bool replay_raw_file(const fs::path& path, std::size_t& count) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot open %s\n", path.c_str());
    return false;
  }
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  run(bytes);
  ++count;
  return true;
}

bool replay_directory(const fs::path& dir, std::size_t& count) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file()) files.push_back(entry.path());
  if (ec) {
    std::fprintf(stderr, "replay: cannot list %s: %s\n", dir.c_str(), ec.message().c_str());
    return false;
  }
  std::sort(files.begin(), files.end());  // a stable order, so a failure is reproducible
  for (const auto& file : files)
    if (!replay_raw_file(file, count)) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SEEDS.seeds|DIRECTORY|FILE...\n", argv[0]);
    return 1;
  }
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    bool ok;
    if (fs::is_directory(path))
      ok = replay_directory(path, count);
    else if (path.extension() == ".seeds")
      ok = replay_seeds_file(path, count);
    else
      ok = replay_raw_file(path, count);
    if (!ok) return 1;
  }
  if (count == 0) {
    std::fprintf(stderr, "replay: no inputs in the arguments\n");
    return 1;
  }
  std::printf("replay: %zu inputs ran clean\n", count);
  return 0;
}
