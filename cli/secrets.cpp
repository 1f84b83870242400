#include "cli/secrets.hpp"

#include <cstdlib>

#include "zlt/config.hpp"

namespace zlt::cli {

bool SecretFlags::take(ArgReader& args) {
  if (auto v = args.value(flag_name)) {
    value = *v;
    return true;
  }
  if (auto v = args.value(file_flag_name)) {
    file = *v;
    return true;
  }
  return false;
}

std::optional<std::string> SecretFlags::resolve(std::optional<std::string> config_value,
                                                std::vector<std::string>& warnings) const {
  config::SecretSources sources{flag_name,           file_flag_name,         env_name, value, file,
                                env_value(env_name), std::move(config_value)};
  Result<config::ResolvedSecret> r = config::resolve_secret(sources);
  if (!r) throw UsageError{r.error().message};
  for (auto& w : r->warnings) warnings.push_back(std::move(w));
  return std::move(r->value);
}

SecretFlags token_flags() {
  return SecretFlags{"--token", "--token-file", "ZLT_TOKEN", std::nullopt, std::nullopt};
}

SecretFlags admin_token_flags() {
  return SecretFlags{"--admin-token", "--admin-token-file", "ZLT_ADMIN_TOKEN", std::nullopt,
                     std::nullopt};
}

SecretFlags cluster_secret_flags() {
  return SecretFlags{"--cluster-secret", "--cluster-secret-file", "ZLT_CLUSTER_SECRET",
                     std::nullopt, std::nullopt};
}

std::optional<std::string> env_value(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

}  // namespace zlt::cli
