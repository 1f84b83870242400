// Where a command's secrets (an agent's token, a server's admin token) come from: a flag, a
// file named by a flag, an environment variable or the config file. Kept out of argv, a token
// does not show in `ps` or /proc/<pid>/cmdline. Part of the config API: the CLI resolves every
// token through it, and it does no logging (config sits below the logger), so warnings are
// handed back for the caller to log.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common/error.hpp"

namespace zlt::config {

// A token file as read: the first line with trailing CR, LF and blanks removed.
struct TokenFile {
  std::string token;
  // Readable by group or others (mode & 044): anyone sharing the host may read the token.
  bool shared = false;
  unsigned mode = 0;  // the file's permission bits, for the warning
};

// Errors (Errc::config) name `what` (the flag, "--token-file FILE") and never the token:
// "cannot open", "cannot read", "the first line is empty".
Result<TokenFile> read_token_file(const std::string& path, std::string_view what);

// read_token_file's token, with the warning about a shared file appended to `warnings`.
Result<std::string> token_from_file(const std::string& path, std::string_view what,
                                    std::vector<std::string>& warnings);

// The places one secret may be given, strongest first. The names appear in messages.
struct SecretSources {
  std::string_view flag_name;         // "--token"
  std::string_view file_flag_name;    // "--token-file"
  std::string_view env_name;          // "ZLT_TOKEN"
  std::optional<std::string> flag;    // the flag's value
  std::optional<std::string> file;    // the path given to the file flag
  std::optional<std::string> env;     // the variable's value, when it is set
  std::optional<std::string> config;  // the config file's value
};

enum class SecretOrigin { none, flag, file, env, config };

struct ResolvedSecret {
  std::optional<std::string> value;  // nullopt: given nowhere
  SecretOrigin origin = SecretOrigin::none;
  // Problems worth a warning log line (a token file readable by others); never the secret.
  std::vector<std::string> warnings;
};

// Precedence: flag > file flag > environment > config file. The flag and the file flag
// together are an error (which one was meant is unclear); so is an empty value in any source
// but the config file, whose own reader names its field.
Result<ResolvedSecret> resolve_secret(const SecretSources& sources);

// Reads the token_file of every tunnel of `c` that has one into its token. Errors name the
// tunnel's field and the file ("tunnels[1].token_file /run/secrets/x: cannot open: ...").
struct NodeConfig;
Status read_node_token_files(NodeConfig& c, std::vector<std::string>& warnings);

// "--token-file FILE is readable by group or others (mode 0644); chmod 600 FILE".
std::string shared_token_file_warning(std::string_view what, const std::string& path,
                                      unsigned mode);

}  // namespace zlt::config
