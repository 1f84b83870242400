#include "core/config/secret.hpp"

#include <sys/stat.h>

#include <cstdio>

#include "core/config/config.hpp"

namespace zlt::config {
namespace {

Error secret_error(std::string message) {
  return make_error(Errc::config, std::move(message));
}

// A token is one short line; a file much larger than that is not a token file, and reading
// all of it (a device, a log) would only waste memory.
constexpr std::size_t kMaxTokenFileBytes = 64 * 1024;

std::string_view first_line(std::string_view text) {
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

}  // namespace

Result<TokenFile> read_token_file(const std::string& path, std::string_view what) {
  const std::string name = std::string(what) + " ";
  Result<std::string> text = read_text_file(path, kMaxTokenFileBytes);
  // The reader's message starts with the path: prefixed with the flag, it names both.
  if (!text) return secret_error(name + text.error().message);
  TokenFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    out.mode = static_cast<unsigned>(st.st_mode & 07777);
    out.shared = (st.st_mode & (S_IRGRP | S_IROTH)) != 0;
  }
  out.token = std::string(first_line(*text));
  if (out.token.empty()) return secret_error(name + path + ": the first line is empty");
  return out;
}

std::string shared_token_file_warning(std::string_view what, const std::string& path,
                                      unsigned mode) {
  char octal[8];
  std::snprintf(octal, sizeof(octal), "%04o", mode & 07777u);
  return std::string(what) + " " + path + " is readable by group or others (mode " + octal +
         "); chmod 600 " + path;
}

Result<std::string> token_from_file(const std::string& path, std::string_view what,
                                    std::vector<std::string>& warnings) {
  Result<TokenFile> f = read_token_file(path, what);
  if (!f) return f.take_error();
  if (f->shared) warnings.push_back(shared_token_file_warning(what, path, f->mode));
  return std::move(f->token);
}

Status read_node_token_files(NodeConfig& c, std::vector<std::string>& warnings) {
  for (std::size_t i = 0; i < c.tunnels.size(); ++i) {
    NodeTunnel& t = c.tunnels[i];
    if (!t.token_file) continue;
    const std::string what = "tunnels[" + std::to_string(i) + "].token_file";
    if (t.token_file->empty()) return secret_error(what + ": cannot be empty");
    Result<std::string> token = token_from_file(*t.token_file, what, warnings);
    if (!token) return token.take_error();
    t.token = std::move(*token);
  }
  return {};
}

Result<ResolvedSecret> resolve_secret(const SecretSources& s) {
  if (s.flag && s.file)
    return secret_error(std::string(s.flag_name) + " and " + std::string(s.file_flag_name) +
                        ": give one, not both");
  ResolvedSecret out;
  auto take = [&out](std::string value, SecretOrigin origin) {
    out.value = std::move(value);
    out.origin = origin;
    return out;
  };
  if (s.flag) {
    if (s.flag->empty()) return secret_error(std::string(s.flag_name) + ": cannot be empty");
    return take(*s.flag, SecretOrigin::flag);
  }
  if (s.file) {
    Result<std::string> token = token_from_file(*s.file, s.file_flag_name, out.warnings);
    if (!token) return token.take_error();
    return take(std::move(*token), SecretOrigin::file);
  }
  if (s.env) {
    // Set but empty is a mistake (a missing secret key, a typo in a unit file), not "unset".
    if (s.env->empty()) return secret_error(std::string(s.env_name) + ": is set but empty");
    return take(*s.env, SecretOrigin::env);
  }
  if (s.config) return take(*s.config, SecretOrigin::config);
  return out;
}

}  // namespace zlt::config
