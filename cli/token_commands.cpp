// `zlt hash-token TOKEN` and `zlt token new`: what an operator needs to configure a server
// without keeping plain tokens in its config file.
#include <iostream>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "zlt/crypto.hpp"

namespace zlt::cli {
namespace {

const char* const kHashTokenUsage =
    "Usage: zlt hash-token TOKEN\n"
    "\n"
    "Prints the lower-case hex SHA-256 of TOKEN: the form a server keeps (\"sha256\" in a\n"
    "config file's tokens, or --token-hash).\n"
    "\n"
    "Flags:\n"
    "  -h, --help   show this text\n";

const char* const kTokenUsage =
    "Usage: zlt token new\n"
    "\n"
    "Prints a fresh random token (\"tun_\" and 32 hex digits) for an agent. Give the token to\n"
    "the agent and its hash (zlt hash-token) to the server.\n"
    "\n"
    "Flags:\n"
    "  -h, --help   show this text\n";

}  // namespace

int hash_token_command(Args args) {
  // "--" ends the flags, for tokens that begin with a dash.
  const bool literal = !args.empty() && args.front() == "--";
  if (literal) args.erase(args.begin());
  ArgReader r(args);
  if (!literal && r.help()) {
    std::cout << kHashTokenUsage;
    return kExitOk;
  }
  if (args.empty()) throw UsageError{"expected a TOKEN (see zlt hash-token --help)"};
  if (!literal && args.front().starts_with('-')) r.reject();
  if (args.size() > 1) throw UsageError{"expected one TOKEN, got " + std::to_string(args.size())};
  if (args.front().empty()) throw UsageError{"TOKEN cannot be empty"};
  std::cout << crypto::hash_token(args.front()) << "\n";
  return kExitOk;
}

int token_command(Args args) {
  ArgReader r(std::move(args));
  bool make_new = false;
  while (!r.done()) {
    if (r.help()) {
      std::cout << kTokenUsage;
      return kExitOk;
    }
    auto arg = r.positional();
    if (!arg || *arg != "new" || make_new) r.reject();
    make_new = true;
  }
  if (!make_new) throw UsageError{"expected 'new' (see zlt token --help)"};
  std::cout << crypto::new_token() << "\n";
  return kExitOk;
}

}  // namespace zlt::cli
