// The Prometheus renderer and the listen-address syntax of the metrics and admin listeners.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/runtime/metrics_text.hpp"
#include "core/transport/http_head.hpp"

namespace zlt {
namespace {

TEST(MetricsText, WritesFamiliesAndEscapesLabelValues) {
  MetricsText m;
  m.family("zlt_x_total", "counter", "Things.");
  m.sample("zlt_x_total", {{"service", "a\"b\\c\nd"}}, std::uint64_t{7});
  m.gauge("zlt_y", "A gauge.", 0.25);
  EXPECT_EQ(m.text(),
            "# HELP zlt_x_total Things.\n# TYPE zlt_x_total counter\n"
            "zlt_x_total{service=\"a\\\"b\\\\c\\nd\"} 7\n"
            "# HELP zlt_y A gauge.\n# TYPE zlt_y gauge\nzlt_y 0.25\n");
}

TEST(MetricsText, ProcessMetricsArePresent) {
  MetricsText m;
  m.process_metrics();
  for (const char* name :
       {"zlt_build_info{version=\"", "process_cpu_seconds_total ", "process_resident_memory_bytes ",
        "process_open_fds ", "process_start_time_seconds "})
    EXPECT_NE(m.text().find(name), std::string::npos) << name;
}

TEST(ListenAddress, ABarePortMeansLoopback) {
  auto a = config::parse_listen_address("9090", "metrics_listen");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->to_string(), "127.0.0.1:9090");
  auto b = config::parse_listen_address(":9091", "metrics_listen");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->to_string(), "127.0.0.1:9091");
  auto c = config::parse_listen_address("0.0.0.0:9092", "metrics_listen");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "0.0.0.0:9092");
  auto bad = config::parse_listen_address("99999", "metrics_listen");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("metrics_listen"), std::string::npos);
}

TEST(ListenAddress, ConfigKeysAreReadAndChecked) {
  auto ok = config::server_config_from_json(nlohmann::json::parse(
      R"({"metrics_listen": "9100", "admin_listen": "127.0.0.1:9101", "http_max_connections": 4})"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->metrics_listen, "9100");
  EXPECT_EQ(ok->http_limits.max_connections, 4u);
  auto zero =
      config::server_config_from_json(nlohmann::json::parse(R"({"http_max_connections": 0})"));
  ASSERT_TRUE(zero);
  auto st = zero->validate();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("http_max_connections"), std::string::npos);
  auto agent = config::client_config_from_json(nlohmann::json::parse(
      R"({"server_url": "ws://x:1/t", "token": "t", "metrics_listen": "nope"})"));
  ASSERT_TRUE(agent);
  auto bad = agent->validate();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("metrics_listen"), std::string::npos);
}

TEST(RequestHead, ParsesAndRefuses) {
  auto ok = parse_request_head("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->method, "GET");
  EXPECT_EQ(ok->target, "/metrics?x=1");
  EXPECT_EQ(ok->header("host"), "a");
  EXPECT_FALSE(parse_request_head("GET /metrics HTTP/2\r\n\r\n"));
  EXPECT_FALSE(parse_request_head("GET  /metrics HTTP/1.1\r\n\r\n"));
  EXPECT_FALSE(parse_request_head("GET /metrics HTTP/1.1\r\nbad header\r\n\r\n"));
}

}  // namespace
}  // namespace zlt
