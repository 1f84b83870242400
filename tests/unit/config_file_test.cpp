#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.hpp"

namespace zlt::config {
namespace {

namespace fs = std::filesystem;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "zlt-config-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string path(std::string_view name) const { return (dir_ / name).string(); }
  void write(const std::string& file, std::string_view text) const {
    std::ofstream(file, std::ios::binary) << text;
  }
  std::string read(const std::string& file) const {
    std::ostringstream out;
    out << std::ifstream(file, std::ios::binary).rdbuf();
    return out.str();
  }
  std::size_t entries() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }
  static unsigned mode_of(const std::string& file) {
    struct stat st {};
    EXPECT_EQ(::stat(file.c_str(), &st), 0);
    return st.st_mode & 0777;
  }

  fs::path dir_;
};

TEST_F(ConfigFileTest, ServerSaveLoadRoundTrip) {
  TunnelServerConfig c;
  c.listen = "127.0.0.1:0";
  c.heartbeat_interval = 1500ms;
  c.tokens.push_back(
      TokenEntry{"agent", std::string(64, 'a'), PortRange{30000, 30001}, {"*:*"}, {}});
  const std::string file = path("server.json");
  ASSERT_TRUE(save_json_file(file, to_json(c)).ok());
  Result<TunnelServerConfig> loaded = load_server_config(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, c);
  std::string text = read(file);
  EXPECT_TRUE(text.ends_with("}\n"));
  EXPECT_EQ(nlohmann::json::parse(text), to_json(c));
  EXPECT_EQ(entries(), 1u);  // no temporary left behind
}

TEST_F(ConfigFileTest, ClientSaveLoadRoundTrip) {
  TunnelClientConfig c("wss://tunnel.example.com/tunnel/v1", "tun_secret");
  c.with_service(ServiceConfig::tcp("ssh", 22).with_remote_port(30022));
  c.proxy = "http://proxy:3128";
  const std::string file = path("client.json");
  ASSERT_TRUE(save_json_file(file, to_json(c)).ok());
  Result<TunnelClientConfig> loaded = load_client_config(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, c);
}

TEST_F(ConfigFileTest, NewFilesAreOwnerOnlyAndReplacedFilesKeepTheirMode) {
  const std::string file = path("client.json");
  TunnelClientConfig c("ws://h:1/tunnel/v1", "secret");
  ASSERT_TRUE(save_json_file(file, to_json(c)).ok());
  EXPECT_EQ(mode_of(file), 0600u);
  ASSERT_EQ(::chmod(file.c_str(), 0640), 0);
  c.token = "other";
  ASSERT_TRUE(save_json_file(file, to_json(c)).ok());
  EXPECT_EQ(mode_of(file), 0640u);
  EXPECT_EQ(load_client_config(file)->token, "other");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(ConfigFileTest, ErrorsNameTheFile) {
  const std::string missing = path("missing.json");
  Result<TunnelServerConfig> r = load_server_config(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_EQ(r.error().message, missing + ": cannot open: No such file or directory");

  const std::string broken = path("broken.json");
  write(broken, "{\"enabled\": ");
  r = load_server_config(broken);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::config);
  EXPECT_TRUE(r.error().message.starts_with(broken + ": invalid JSON: parse error"))
      << r.error().message;

  const std::string invalid = path("invalid.json");
  write(invalid, R"({"control_path": "tunnel"})");
  r = load_server_config(invalid);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::config);
  EXPECT_EQ(r.error().message, invalid + ": control_path must start with '/'");

  const std::string unknown = path("unknown.json");
  write(unknown, R"({"server_url": "ws://h:1/", "token": "t", "services": [{"name": "a",
                     "local_port": 1, "colour": "red"}]})");
  Result<TunnelClientConfig> client = load_client_config(unknown);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message, unknown + ": services[0]: unknown key 'colour'");

  Result<TunnelClientConfig> directory = load_client_config(dir_.string());
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().code, Errc::io);
  EXPECT_EQ(directory.error().message, dir_.string() + ": cannot read: Is a directory");
}

TEST_F(ConfigFileTest, SaveFailuresNameTheFile) {
  const std::string nowhere = path("no-such-dir/server.json");
  Status s = save_json_file(nowhere, to_json(TunnelServerConfig{}));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::io);
  EXPECT_EQ(s.error().message,
            nowhere + ": cannot create a temporary file: No such file or directory");

  // A value that cannot be written as JSON (not UTF-8) leaves nothing behind.
  Status bad = save_json_file(path("bad.json"), nlohmann::json{{"name", "\xff"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  EXPECT_TRUE(bad.error().message.starts_with(path("bad.json") + ": cannot encode JSON: "))
      << bad.error().message;
  EXPECT_EQ(entries(), 0u);
}

}  // namespace
}  // namespace zlt::config
