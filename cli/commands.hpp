// The subcommands of `zlt`. Each takes the arguments after its name and returns the process
// exit code; a UsageError thrown from one is reported by the dispatcher (exit 2).
#pragma once

#include <string>
#include <vector>

namespace zlt::cli {

using Args = std::vector<std::string>;

int server_command(Args args);
int agent_command(Args args);
int access_command(Args args);
int grant_command(Args args);
int node_command(Args args);
int check_command(Args args);
int quickstart_command(Args args);
int hash_token_command(Args args);
int token_command(Args args);

}  // namespace zlt::cli
