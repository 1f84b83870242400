// The control channel over TLS (wss): the server with a certificate, the agent verifying it
// against a CA (or not at all when told to be insecure), and bytes through the tunnel.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"
#include "support/test_certs.hpp"
#include "support/tunnel_checks.hpp"

namespace zlt::test {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class Tls : public ::testing::Test {
 protected:
  const TestCerts& certs() { return TestCerts::get(); }

  void start_server(const CertFiles& files) {
    auto c = Harness::server_config();
    c.tls_cert = files.cert;
    c.tls_key = files.key;
    h_.start_server(c);
    ASSERT_EQ(h_.server_status()["tls"], true);
  }
  config::TunnelClientConfig agent_config(const std::string& host,
                                          std::optional<std::string> ca_file,
                                          bool insecure = false) {
    auto cfg = h_.client_config({config::ServiceConfig::tcp("echo", echo_.port())});
    cfg.server_url = "wss://" + host + ":" + std::to_string(h_.control_port()) + "/tunnel/v1";
    cfg.ca_file = std::move(ca_file);
    cfg.insecure = insecure;
    return cfg;
  }
  // Starts an agent and expects it to carry bytes.
  void expect_tunnel(const config::TunnelClientConfig& cfg) {
    const std::size_t index = agents_++;
    h_.start_agent(cfg);
    auto ev = h_.agent_events(index).wait_event("authenticated");
    ASSERT_TRUE(ev) << "not authenticated: " << h_.agent_status(index).dump();
    const std::uint16_t port = h_.public_port("echo", index);
    ASSERT_NE(port, 0);
    std::string why;
    EXPECT_TRUE(echoes(port, probe_payload(300000), &why)) << why;
    h_.on_loop([&] { h_.agent(index).stop(); });
    ASSERT_TRUE(eventually([&] { return h_.server_status()["tunnel_count"] == 0; }));
  }
  // Starts an agent and expects its connection to fail; returns the reason it reports.
  std::string expect_refused(const config::TunnelClientConfig& cfg) {
    const std::size_t index = agents_++;
    h_.start_agent(cfg);
    auto ev = h_.agent_events(index).wait_event("disconnected");
    EXPECT_TRUE(ev) << "no failure reported";
    EXPECT_EQ(h_.agent_events(index).count("authenticated"), 0u);
    h_.on_loop([&] { h_.agent(index).stop(); });
    return ev ? (*ev)["reason"].get<std::string>() : std::string();
  }

  EchoServer echo_;
  Harness h_;
  std::size_t agents_ = 0;
};

TEST_F(Tls, VerifiedAgainstTheCa) {
  start_server(certs().leaf);
  expect_tunnel(agent_config("127.0.0.1", certs().ca.cert));
  expect_tunnel(agent_config("localhost", certs().ca.cert));
  auto status = h_.server_status();
  EXPECT_EQ(status["listen"][0].get<std::string>(),
            "127.0.0.1:" + std::to_string(h_.control_port()));
}

TEST_F(Tls, WrongCaIsRejected) {
  start_server(certs().leaf);
  EXPECT_THAT(expect_refused(agent_config("localhost", certs().selfsigned.cert)),
              HasSubstr("TLS: certificate verify failed: unable to get local issuer certificate"));
  // The system store does not know the test CA either.
  EXPECT_THAT(expect_refused(agent_config("localhost", std::nullopt)),
              HasSubstr("TLS: certificate verify failed"));
  EXPECT_EQ(h_.server_events().count("tunnel_connected"), 0u);
  // The server is unharmed.
  expect_tunnel(agent_config("localhost", certs().ca.cert));
}

TEST_F(Tls, WrongHostnameIsRejected) {
  start_server(certs().other);  // valid for other.invalid only
  EXPECT_THAT(expect_refused(agent_config("127.0.0.1", certs().ca.cert)),
              HasSubstr("TLS: certificate verify failed: IP address mismatch"));
  EXPECT_THAT(expect_refused(agent_config("localhost", certs().ca.cert)),
              HasSubstr("TLS: certificate verify failed: hostname mismatch"));
  EXPECT_EQ(h_.server_events().count("tunnel_connected"), 0u);
}

TEST_F(Tls, InsecureAcceptsASelfSignedCertificate) {
  start_server(certs().selfsigned);
  EXPECT_THAT(expect_refused(agent_config("127.0.0.1", std::nullopt)),
              HasSubstr("TLS: certificate verify failed"));
  expect_tunnel(agent_config("127.0.0.1", std::nullopt, true));
}

TEST_F(Tls, PlainClientsAreTurnedAway) {
  start_server(certs().leaf);
  // A ws:// agent speaks HTTP to a TLS listener.
  auto cfg = agent_config("127.0.0.1", certs().ca.cert);
  cfg.server_url = "ws://127.0.0.1:" + std::to_string(h_.control_port()) + "/tunnel/v1";
  expect_refused(cfg);
  // So does a raw upgrade request; the listener drops it.
  auto ws = RawWs::connect(h_.control_port());
  ASSERT_TRUE(ws);
  EXPECT_NE(ws->http_status(), 101);
  EXPECT_TRUE(ws->wait_eof());
  expect_tunnel(agent_config("127.0.0.1", certs().ca.cert));
}

TEST_F(Tls, MissingCertificateFileIsAConfigError) {
  auto c = Harness::server_config();
  c.tls_cert = certs().dir + "/missing.pem";
  c.tls_key = certs().leaf.key;
  std::optional<Error> error;
  h_.on_loop([&] {
    auto s = TunnelServer::create(h_.runtime(), c);
    if (!s) error = s.error();
  });
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, Errc::config);
  EXPECT_THAT(error->message, StartsWith("cannot read " + certs().dir + "/missing.pem"));
}

}  // namespace
}  // namespace zlt::test
