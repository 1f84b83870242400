// Token sources (flag, token file, environment, config file) and config files with comments.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/config/json_text.hpp"
#include "core/config/secret.hpp"

namespace zlt::config {
namespace {

namespace fs = std::filesystem;

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "zlt-secret-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string write(std::string_view name, std::string_view text, mode_t mode = 0600) const {
    std::string file = (dir_ / name).string();
    std::ofstream(file, std::ios::binary) << text;
    EXPECT_EQ(::chmod(file.c_str(), mode), 0);
    return file;
  }
  static SecretSources sources() {
    SecretSources s;
    s.flag_name = "--token";
    s.file_flag_name = "--token-file";
    s.env_name = "ZLT_TOKEN";
    return s;
  }

  fs::path dir_;
};

TEST_F(SecretTest, TokenFileIsItsFirstLineWithTrailingBlanksTrimmed) {
  auto plain = read_token_file(write("a", "tun_abc\n"), "--token-file");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->token, "tun_abc");
  EXPECT_FALSE(plain->shared);

  auto crlf = read_token_file(write("b", "tun_abc \t\r\nsecond line\n"), "--token-file");
  ASSERT_TRUE(crlf) << crlf.error().message;
  EXPECT_EQ(crlf->token, "tun_abc");

  // No newline at all, as `printf %s` or a Kubernetes secret writes it.
  auto bare = read_token_file(write("c", "tun_abc"), "--token-file");
  ASSERT_TRUE(bare) << bare.error().message;
  EXPECT_EQ(bare->token, "tun_abc");
}

TEST_F(SecretTest, EmptyOrMissingTokenFileIsAnErrorNamingTheFile) {
  for (std::string_view text : {"", "\n", "  \r\nsecond\n"}) {
    std::string file = write("empty", text);
    auto r = read_token_file(file, "--token-file");
    ASSERT_FALSE(r) << "accepted " << testing::PrintToString(std::string(text));
    EXPECT_EQ(r.error().code, Errc::config);
    EXPECT_EQ(r.error().message, "--token-file " + file + ": the first line is empty");
  }
  const std::string missing = (dir_ / "missing").string();
  auto r = read_token_file(missing, "--admin-token-file");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.rfind("--admin-token-file " + missing + ": cannot open: ", 0), 0u)
      << r.error().message;
}

TEST_F(SecretTest, FileReadableByGroupOrOthersIsFlaggedAndTheWarningHoldsNoSecret) {
  for (mode_t mode : {0640, 0604, 0644}) {
    std::string file = write("shared", "tun_very_secret\n", mode);
    auto r = read_token_file(file, "--token-file");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->shared) << std::oct << mode;
  }
  for (mode_t mode : {0600, 0400}) {
    auto r = read_token_file(write("private", "tun_very_secret\n", mode), "--token-file");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->shared) << std::oct << mode;
  }

  SecretSources s = sources();
  s.file = write("shared", "tun_very_secret\n", 0644);
  auto resolved = resolve_secret(s);
  ASSERT_TRUE(resolved) << resolved.error().message;
  ASSERT_EQ(resolved->warnings.size(), 1u);
  const std::string& warning = resolved->warnings[0];
  EXPECT_NE(warning.find(*s.file), std::string::npos) << warning;
  EXPECT_NE(warning.find("0644"), std::string::npos) << warning;
  EXPECT_EQ(warning.find("tun_very_secret"), std::string::npos) << warning;
}

TEST_F(SecretTest, PrecedenceIsFlagThenFileThenEnvironmentThenConfig) {
  SecretSources s = sources();
  s.config = "from-config";
  auto r = resolve_secret(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, "from-config");
  EXPECT_EQ(r->origin, SecretOrigin::config);

  s.env = "from-env";
  r = resolve_secret(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, "from-env");
  EXPECT_EQ(r->origin, SecretOrigin::env);

  s.file = write("t", "from-file\n");
  r = resolve_secret(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, "from-file");
  EXPECT_EQ(r->origin, SecretOrigin::file);
  EXPECT_TRUE(r->warnings.empty());

  s.file.reset();
  s.flag = "from-flag";
  r = resolve_secret(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, "from-flag");
  EXPECT_EQ(r->origin, SecretOrigin::flag);

  auto none = resolve_secret(sources());
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->value);
  EXPECT_EQ(none->origin, SecretOrigin::none);
}

TEST_F(SecretTest, FlagAndFileTogetherOrEmptyValuesAreErrorsNamingTheSource) {
  SecretSources both = sources();
  both.flag = "x";
  both.file = write("t", "y\n");
  auto r = resolve_secret(both);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "--token and --token-file: give one, not both");

  SecretSources empty_flag = sources();
  empty_flag.flag = "";
  r = resolve_secret(empty_flag);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "--token: cannot be empty");

  SecretSources empty_env = sources();
  empty_env.env = "";
  empty_env.config = "from-config";
  r = resolve_secret(empty_env);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "ZLT_TOKEN: is set but empty");

  // A bad file is an error even when a weaker source has a value: the operator asked for it.
  SecretSources bad_file = sources();
  bad_file.file = (dir_ / "missing").string();
  bad_file.env = "from-env";
  EXPECT_FALSE(resolve_secret(bad_file));
}

TEST(ConfigComments, LineAndBlockCommentsOutsideStringsAreIgnoredInFiles) {
  const std::string text = R"({
    // the control listener
    "listen": "127.0.0.1:0", /* trailing block */
    /* a block
       over lines */
    "control_path": "/a//b/*c*/"
  })";
  auto j = parse_json_text(text, JsonComments::allow);
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ(j->at("listen"), "127.0.0.1:0");
  // Inside a string, `//` and `/* */` are data.
  EXPECT_EQ(j->at("control_path"), "/a//b/*c*/");
  EXPECT_EQ(j->size(), 2u);
}

TEST(ConfigComments, TextFormsStayPlainJson) {
  auto j = parse_json_text("{\"a\": 1 // no\n}");
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, Errc::config);
  EXPECT_EQ(j.error().message.rfind("invalid JSON: ", 0), 0u) << j.error().message;
  EXPECT_FALSE(parse_server_config("{/* no */}"));
}

TEST(ConfigComments, UnterminatedBlockCommentIsASyntaxError) {
  auto j = parse_json_text("{\"a\": 1 /* open", JsonComments::allow);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().message.rfind("invalid JSON: ", 0), 0u) << j.error().message;
}

TEST_F(SecretTest, ConfigFilesWithCommentsLoad) {
  std::string server = write("server.json", R"({
    // tokens for the edge agents
    "listen": "127.0.0.1:0",
    "tokens": [{"name": "edge", "token": "tun_a"}] /* plain, hashed on load */
  })");
  auto s = load_server_config(server);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->tokens.size(), 1u);

  std::string agent = write("agent.json", R"({
    "server_url": "ws://127.0.0.1:1/tunnel/v1", // where the server is
    "token": "tun_a//not a comment",
    "services": [/* none yet */]
  })");
  auto a = load_client_config(agent);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->token, "tun_a//not a comment");

  std::string node = write("node.json", R"({"node_name": "a" /* no tunnels */})");
  auto n = load_node_config(node);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(n->node_name, "a");
}

}  // namespace
}  // namespace zlt::config
