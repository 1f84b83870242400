// A node tunnel's token_file: read through the one token file reader when the node config is
// loaded or parsed, never written back, errors naming the tunnel's field.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/config/secret.hpp"
#include "support/result_text.hpp"

namespace zlt::config {
namespace {

using nlohmann::json;

std::string write_file(const std::string& name, const std::string& text, mode_t mode = 0600) {
  const std::string path =
      ::testing::TempDir() + "zlt_node_token_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
  return path;
}

json node_with(json tunnel) {
  json t = {{"name", "db"},
            {"from", "a"},
            {"to", "b"},
            {"local_port", 5432},
            {"remote_port", 0},
            {"routing_mode", "directonly"},
            {"direct_url", "ws://127.0.0.1:1/tunnel/v1"}};
  t.update(tunnel);
  return {{"node_name", "b"}, {"server", json::object()}, {"tunnels", json::array({t})}};
}

TEST(NodeTokenFileTest, ParseReadsTheFirstLineIntoTheToken) {
  const std::string path = write_file("good", "tok-from-file  \r\nsecond line\n");
  auto c = parse_node_config(node_with({{"token_file", path}}).dump());
  ASSERT_TRUE(c) << error_of(c);
  EXPECT_EQ(c->tunnels[0].token, "tok-from-file");
  EXPECT_EQ(c->tunnels[0].token_file, path);
  // Written back as the path only: the token stays in its file.
  json back = to_json(c->tunnels[0]);
  EXPECT_EQ(back["token_file"], path);
  EXPECT_FALSE(back.contains("token"));
  ::unlink(path.c_str());
}

TEST(NodeTokenFileTest, LoadReadsItAndWarnsAboutASharedFile) {
  const std::string token = write_file("shared", "tok-shared\n", 0644);
  const std::string node = write_file("node.json", node_with({{"token_file", token}}).dump());
  std::vector<std::string> warnings;
  auto c = load_node_config(node, &warnings);
  ASSERT_TRUE(c) << error_of(c);
  EXPECT_EQ(c->tunnels[0].token, "tok-shared");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0], "tunnels[0].token_file " + token +
                             " is readable by group or others (mode 0644); chmod 600 " + token);
  EXPECT_EQ(warnings[0].find("tok-shared"), std::string::npos);
  ::unlink(token.c_str());
  ::unlink(node.c_str());
}

TEST(NodeTokenFileTest, ErrorsNameTheField) {
  const std::string missing = ::testing::TempDir() + "zlt_no_such_token_file";
  const std::string error =
      error_of(parse_node_config(node_with({{"token_file", missing}}).dump()));
  EXPECT_EQ(error.rfind("tunnels[0].token_file " + missing + ": cannot open", 0), 0u) << error;

  const std::string empty = write_file("empty", "\nsecond\n");
  EXPECT_EQ(error_of(parse_node_config(node_with({{"token_file", empty}}).dump())),
            "tunnels[0].token_file " + empty + ": the first line is empty");
  ::unlink(empty.c_str());

  EXPECT_EQ(error_of(parse_node_config(node_with({{"token_file", ""}}).dump())),
            "tunnels[0].token_file: cannot be empty");
  EXPECT_EQ(error_of(parse_node_config(node_with({{"token_file", 5}}).dump())),
            "tunnels[0].token_file: expected a string");
  EXPECT_EQ(error_of(parse_node_config(node_with({{"token", "t"}, {"token_file", "/x"}}).dump())),
            "tunnels[0].token_file: give token or token_file, not both");
}

TEST(NodeTokenFileTest, ValidationCountsAFileAsAToken) {
  // What `zlt check` does: read and validate without opening the file.
  ErrorList errors;
  auto c = collect_node_config(node_with({{"token_file", "/run/secrets/db"}}), errors);
  ASSERT_TRUE(c);
  c->validate_all(errors);
  EXPECT_TRUE(errors.empty()) << errors.first().error().message;
  ErrorList without;
  auto none = collect_node_config(node_with(json::object()), without);
  ASSERT_TRUE(none);
  none->validate_all(without);
  ASSERT_EQ(without.size(), 1u);
  EXPECT_EQ(without.errors()[0].message,
            "tunnels[0].token: required for a tunnel whose destination is this node");
}

TEST(NodeTokenFileTest, TwoTunnelsWithTheSameFileTokenAreRefused) {
  const std::string path = write_file("same", "tok-same\n");
  json j = node_with({{"token_file", path}});
  json second = j["tunnels"][0];
  second["name"] = "db2";
  j["tunnels"].push_back(second);
  EXPECT_EQ(error_of(parse_node_config(j.dump())),
            "tunnels[1].token_file: same token as tunnel 'db'");
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace zlt::config
