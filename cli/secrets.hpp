// The secret flags of the commands: --token / --token-file / $ZLT_TOKEN and --admin-token /
// --admin-token-file / $ZLT_ADMIN_TOKEN, resolved strongest first (flag, file, environment,
// config file) by config::resolve_secret.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.hpp"

namespace zlt::cli {

struct SecretFlags {
  std::string_view flag_name;       // "--token"
  std::string_view file_flag_name;  // "--token-file"
  std::string_view env_name;        // "ZLT_TOKEN"
  std::optional<std::string> value;
  std::optional<std::string> file;

  // Consumes the current argument if it is the flag or the file flag.
  bool take(ArgReader& args);
  // The secret, or nullopt when given nowhere. Throws UsageError (naming the flag, file or
  // variable, never the secret); appends warnings about the file to `warnings`.
  std::optional<std::string> resolve(std::optional<std::string> config_value,
                                     std::vector<std::string>& warnings) const;
};

SecretFlags token_flags();        // --token, --token-file, ZLT_TOKEN
SecretFlags admin_token_flags();  // --admin-token, --admin-token-file, ZLT_ADMIN_TOKEN
// --cluster-secret, --cluster-secret-file, ZLT_CLUSTER_SECRET
SecretFlags cluster_secret_flags();

// The variable's value, or nullopt when it is not set.
std::optional<std::string> env_value(std::string_view name);

}  // namespace zlt::cli
