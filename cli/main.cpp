// `zlt`: the command-line face of zlayer-tunnel. Dispatches to one subcommand and turns its
// usage errors into a one-line message and exit code 2.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"

namespace {

using zlt::cli::Args;

const char* const kUsage =
    "Usage: zlt COMMAND [flags]\n"
    "\n"
    "Secure tunnels: an agent behind NAT exposes local TCP/UDP services through a public\n"
    "tunnel server.\n"
    "\n"
    "Commands:\n"
    "  quickstart        a server, a demo web service and an agent in one process: see it work\n"
    "  server            run a tunnel server\n"
    "  agent             run an agent that exposes local services through a server\n"
    "  access            reach a service or address behind a server through a local port\n"
    "  grant             issue, list or revoke access grants (a server's admin API)\n"
    "  node              run a node: node-to-node tunnels from a config file\n"
    "  check             validate a config file without running it; lists every error\n"
    "  hash-token TOKEN  print the SHA-256 a server keeps for TOKEN\n"
    "  token new         print a fresh random token\n"
    "  help [COMMAND]    show this text, or a command's\n"
    "\n"
    "Flags:\n"
    "  -h, --help        show this text (COMMAND --help: the command's flags)\n"
    "  --version         print the version\n"
    "\n"
    "Exit status: 0 success, 1 run-time failure, 2 bad flags or configuration.\n";

struct Command {
  std::string_view name;
  int (*run)(Args);
};

constexpr Command kCommands[] = {
    {"server", zlt::cli::server_command},
    {"agent", zlt::cli::agent_command},
    {"access", zlt::cli::access_command},
    {"grant", zlt::cli::grant_command},
    {"node", zlt::cli::node_command},
    {"check", zlt::cli::check_command},
    {"quickstart", zlt::cli::quickstart_command},
    {"hash-token", zlt::cli::hash_token_command},
    {"token", zlt::cli::token_command},
};

const Command* find_command(std::string_view name) {
  for (const Command& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

int run(const Command& command, Args args) {
  try {
    return command.run(std::move(args));
  } catch (const zlt::cli::UsageError& e) {
    std::cerr << "zlt " << command.name << ": " << e.message << "\n";
    return zlt::cli::kExitUsage;
  }
}

int usage_error(const std::string& message) {
  std::cerr << "zlt: " << message << " (see zlt --help)\n";
  return zlt::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  Args args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return zlt::cli::kExitUsage;
  }
  const std::string first = args.front();
  args.erase(args.begin());
  if (first == "-h" || first == "--help") {
    std::cout << kUsage;
    return zlt::cli::kExitOk;
  }
  if (first == "--version" || first == "-V") {
    std::cout << "zlt " << ZLT_VERSION_STRING << "\n";
    return zlt::cli::kExitOk;
  }
  if (first == "help") {
    if (args.empty()) {
      std::cout << kUsage;
      return zlt::cli::kExitOk;
    }
    const Command* c = find_command(args.front());
    if (c == nullptr) return usage_error("unknown command '" + args.front() + "'");
    return run(*c, {"--help"});
  }
  if (const Command* c = find_command(first)) return run(*c, std::move(args));
  if (first.starts_with('-')) return usage_error("unknown flag '" + first + "'");
  return usage_error("unknown command '" + first + "'");
}
