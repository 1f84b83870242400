// PROXY protocol toward local services, end to end on loopback: a public client connects to the
// server, the agent dials a local service that reads the header with the small parser below
// (written from HAProxy's proxy-protocol.txt, sharing nothing with the agent's writer) and
// checks it names the client's socket as the client itself sees it (getsockname).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <future>
#include <sstream>
#include <thread>

#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/zlt_cli.hpp"

namespace zlt::test {
namespace {

// What a header said.
struct Seen {
  std::string error;    // non-empty: the header did not parse
  std::string command;  // "PROXY", "LOCAL" (v2) or "UNKNOWN" (v1)
  std::string family;   // "TCP4", "TCP6", "UDP4", "UDP6" (v2 spelled the same)
  std::string src_ip, dst_ip;
  int src_port = -1, dst_port = -1;
  std::string payload;  // the bytes after the header
};

std::string ip_text(int family, const unsigned char* bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, bytes, buf, sizeof buf);
  return buf;
}

// v1: "PROXY TCP4 a b p q\r\n" at most 107 bytes. Returns the length of the header or 0.
std::size_t parse_v1(const std::string& in, Seen& out) {
  const std::size_t end = in.find("\r\n");
  if (end == std::string::npos || end + 2 > 107) {
    out.error = "v1: no CRLF within 107 bytes";
    return 0;
  }
  std::istringstream words(in.substr(0, end));
  std::string proxy;
  words >> proxy >> out.family;
  if (proxy != "PROXY") {
    out.error = "v1: does not start with PROXY";
    return 0;
  }
  if (out.family == "UNKNOWN") {
    out.command = "UNKNOWN";
    return end + 2;
  }
  out.command = "PROXY";
  words >> out.src_ip >> out.dst_ip >> out.src_port >> out.dst_port;
  if (!words || (out.family != "TCP4" && out.family != "TCP6")) out.error = "v1: bad fields";
  return end + 2;
}

const unsigned char kSig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// v2: 12-byte signature, ver/cmd, fam/proto, u16 length, addresses. Returns the header's
// length, or 0 (with out.error) when `in` does not hold a whole valid one.
std::size_t parse_v2(const std::string& in, Seen& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  if (in.size() < 16 || std::memcmp(p, kSig, 12) != 0) {
    out.error = "v2: no signature";
    return 0;
  }
  const std::size_t len = (std::size_t{p[14]} << 8) | p[15];
  if (in.size() < 16 + len) {
    out.error = "v2: short";
    return 0;
  }
  if ((p[12] >> 4) != 2) out.error = "v2: version is not 2";
  const int cmd = p[12] & 0x0f;
  if (cmd == 0) {
    out.command = "LOCAL";
    return 16 + len;
  }
  if (cmd != 1) out.error = "v2: bad command";
  out.command = "PROXY";
  const int fam = p[13] >> 4;
  const int proto = p[13] & 0x0f;
  const std::string kind = proto == 1 ? "TCP" : proto == 2 ? "UDP" : "?";
  const unsigned char* a = p + 16;
  if (fam == 1 && len >= 12) {
    out.family = kind + "4";
    out.src_ip = ip_text(AF_INET, a);
    out.dst_ip = ip_text(AF_INET, a + 4);
    out.src_port = (a[8] << 8) | a[9];
    out.dst_port = (a[10] << 8) | a[11];
  } else if (fam == 2 && len >= 36) {
    out.family = kind + "6";
    out.src_ip = ip_text(AF_INET6, a);
    out.dst_ip = ip_text(AF_INET6, a + 16);
    out.src_port = (a[32] << 8) | a[33];
    out.dst_port = (a[34] << 8) | a[35];
  } else {
    out.error = "v2: bad family or length";
  }
  return 16 + len;
}

Seen parse_header(const std::string& in) {
  Seen s;
  std::size_t n = in.starts_with("PROXY ") ? parse_v1(in, s) : parse_v2(in, s);
  if (n > 0) s.payload = in.substr(n);
  return s;
}

// A socket's own address ("1.2.3.4", port) as getsockname reports it.
std::pair<std::string, int> local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (ss.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    return {ip_text(AF_INET6, reinterpret_cast<const unsigned char*>(&a.sin6_addr)),
            ntohs(a.sin6_port)};
  }
  const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
  return {ip_text(AF_INET, reinterpret_cast<const unsigned char*>(&a.sin_addr)), ntohs(a.sin_port)};
}

bool ipv6_loopback_available() {
  Fd s(::socket(AF_INET6, SOCK_STREAM, 0));
  if (!s) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

Fd listen_on(int family, int type, std::uint16_t* port) {
  Fd s(::socket(family, type, 0));
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    len = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof a;
  }
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Fd();
  if (type == SOCK_STREAM && ::listen(s.get(), 8) != 0) return Fd();
  *port = static_cast<std::uint16_t>(local_address(s.get()).second);
  set_timeouts(s.get(), 10s);
  return s;
}

// A local TCP service for one connection: reads everything up to EOF, parses the header,
// then echoes the payload back and closes.
class ProxyAwareService {
 public:
  explicit ProxyAwareService(int family) : listener_(listen_on(family, SOCK_STREAM, &port_)) {
    seen_ = result_.get_future();
    thread_ = std::thread([this] {
      Fd c(::accept(listener_.get(), nullptr, nullptr));
      if (!c) {
        Seen s;
        s.error = "no connection";
        result_.set_value(s);
        return;
      }
      set_timeouts(c.get(), 10s);
      std::string all = recv_until_eof(c.get()).value_or("");
      Seen s = parse_header(all);
      send_all(c.get(), s.payload);
      ::shutdown(c.get(), SHUT_WR);
      result_.set_value(s);
    });
  }
  ~ProxyAwareService() {
    ::shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  Seen seen() {
    if (seen_.wait_for(10s) == std::future_status::ready) return seen_.get();
    Seen timeout;
    timeout.error = "timeout";
    return timeout;
  }

 private:
  std::uint16_t port_ = 0;
  Fd listener_;
  std::promise<Seen> result_;
  std::future<Seen> seen_;
  std::thread thread_;
};

config::ServiceConfig tcp_service(std::uint16_t port, config::ProxyProtocol version) {
  auto s = config::ServiceConfig::tcp("web", port);
  s.proxy_protocol = version;
  return s;
}

struct Case {
  config::ProxyProtocol version;
  bool ipv6;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << config::proxy_protocol_name(c.version) << (c.ipv6 ? " over IPv6" : " over IPv4");
}

class ProxyProtocolTcp : public ::testing::TestWithParam<Case> {};

TEST_P(ProxyProtocolTcp, LocalServiceSeesThePublicClientAndTheWholePayload) {
  const Case c = GetParam();
  if (c.ipv6 && !ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback here";
  ProxyAwareService service(c.ipv6 ? AF_INET6 : AF_INET);
  ASSERT_NE(service.port(), 0);
  Harness h;
  auto server = Harness::server_config();
  if (c.ipv6) server.public_bind = "::1";
  h.start_server(server);
  auto client = h.client_config({tcp_service(service.port(), c.version)});
  if (c.ipv6) client.local_host = "::1";
  h.start_agent(client);
  const std::uint16_t port = h.public_port("web");
  ASSERT_NE(port, 0);

  Fd conn = tcp_connect(port, c.ipv6);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  const auto [client_ip, client_port] = local_address(conn.get());
  // Bytes that look like a header themselves must pass as they are, after the real one.
  const std::string payload = "PROXY TCP4 9.9.9.9 9.9.9.9 1 1\r\n" + pattern_bytes(300000, 7);
  ASSERT_TRUE(send_all(conn.get(), payload));
  ::shutdown(conn.get(), SHUT_WR);
  auto echoed = recv_until_eof(conn.get());
  ASSERT_TRUE(echoed);

  Seen seen = service.seen();
  ASSERT_EQ(seen.error, "");
  EXPECT_EQ(seen.command, "PROXY");
  EXPECT_EQ(seen.family, c.ipv6 ? "TCP6" : "TCP4");
  EXPECT_EQ(seen.src_ip, client_ip);
  EXPECT_EQ(seen.src_port, client_port);
  EXPECT_EQ(seen.dst_ip, c.ipv6 ? "::1" : "127.0.0.1");
  EXPECT_EQ(seen.dst_port, service.port());
  EXPECT_EQ(seen.payload.size(), payload.size());
  EXPECT_TRUE(seen.payload == payload);
  EXPECT_TRUE(*echoed == payload) << "echo " << echoed->size() << " of " << payload.size();
}

INSTANTIATE_TEST_SUITE_P(Versions, ProxyProtocolTcp,
                         ::testing::Values(Case{config::ProxyProtocol::v1, false},
                                           Case{config::ProxyProtocol::v2, false},
                                           Case{config::ProxyProtocol::v1, true},
                                           Case{config::ProxyProtocol::v2, true}),
                         [](const auto& info) {
                           return std::string(config::proxy_protocol_name(info.param.version)) +
                                  (info.param.ipv6 ? "_ipv6" : "_ipv4");
                         });

TEST(ProxyProtocol, IpV6ClientTowardAnIpv4ServiceIsWrittenMapped) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback here";
  ProxyAwareService service(AF_INET);
  Harness h;
  auto server = Harness::server_config();
  server.public_bind = "::1";
  h.start_server(server);
  h.start_agent({tcp_service(service.port(), config::ProxyProtocol::v1)});
  const std::uint16_t port = h.public_port("web");
  ASSERT_NE(port, 0);
  Fd conn = tcp_connect(port, true);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  const auto [client_ip, client_port] = local_address(conn.get());
  ASSERT_TRUE(send_all(conn.get(), "x"));
  ::shutdown(conn.get(), SHUT_WR);
  ASSERT_EQ(recv_until_eof(conn.get()).value_or(""), "x");
  Seen seen = service.seen();
  ASSERT_EQ(seen.error, "");
  EXPECT_EQ(seen.family, "TCP6");
  EXPECT_EQ(seen.src_ip, client_ip);
  EXPECT_EQ(seen.src_port, client_port);
  EXPECT_EQ(seen.dst_ip, "::ffff:127.0.0.1");
}

TEST(ProxyProtocol, WithoutTheKeyTheServiceGetsOnlyThePayload) {
  ProxyAwareService service(AF_INET);
  Harness h;
  h.start_server();
  h.start_agent({tcp_service(service.port(), config::ProxyProtocol::none)});
  const std::uint16_t port = h.public_port("web");
  ASSERT_NE(port, 0);
  Fd conn = tcp_connect(port);
  ASSERT_TRUE(conn);
  set_timeouts(conn.get(), 10s);
  ASSERT_TRUE(send_all(conn.get(), "plain bytes"));
  ::shutdown(conn.get(), SHUT_WR);
  ASSERT_EQ(recv_until_eof(conn.get()).value_or(""), "");  // the parser found no header
  EXPECT_EQ(service.seen().error, "v2: no signature");
}

// A UDP service that answers each datagram with what its header said: "FAMILY ip port|payload".
class ProxyAwareUdpService {
 public:
  ProxyAwareUdpService() : sock_(listen_on(AF_INET, SOCK_DGRAM, &port_)) {
    set_timeouts(sock_.get(), 200ms);  // the loop looks at stop_ this often
    thread_ = std::thread([this] {
      std::string buf(70000, '\0');
      while (!stop_) {
        sockaddr_storage from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(sock_.get(), buf.data(), buf.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &len);
        if (n < 0) continue;  // receive timeout: look at stop_ again
        Seen s = parse_header(buf.substr(0, static_cast<std::size_t>(n)));
        std::string reply = s.error.empty() ? s.command + " " + s.family + " " + s.src_ip + " " +
                                                  std::to_string(s.src_port) + " " + s.dst_ip +
                                                  " " + std::to_string(s.dst_port) + "|" + s.payload
                                            : "error " + s.error;
        ::sendto(sock_.get(), reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from),
                 len);
      }
    });
  }
  ~ProxyAwareUdpService() {
    stop_ = true;
    thread_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_ = 0;
  Fd sock_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ProxyProtocol, EveryUdpDatagramCarriesTheV2HeaderOfItsPeer) {
  ProxyAwareUdpService service;
  ASSERT_NE(service.port(), 0);
  Harness h;
  h.start_server();
  auto svc = config::ServiceConfig::udp("dns", service.port());
  svc.proxy_protocol = config::ProxyProtocol::v2;
  h.start_agent({svc});
  const std::uint16_t port = h.public_port("dns");
  ASSERT_NE(port, 0);
  for (int peer = 0; peer < 2; ++peer) {
    Fd s = udp_connect(port);
    ASSERT_TRUE(s);
    set_timeouts(s.get(), 10s);
    const auto [ip, client_port] = local_address(s.get());
    const std::string expected_head = "PROXY UDP4 " + ip + " " + std::to_string(client_port) +
                                      " 127.0.0.1 " + std::to_string(service.port()) + "|";
    for (const std::string& d : {std::string("first"), std::string(""), pattern_bytes(1400, 3)}) {
      ASSERT_EQ(::send(s.get(), d.data(), d.size(), 0), static_cast<ssize_t>(d.size()));
      std::string buf(70000, '\0');
      ssize_t n = ::recv(s.get(), buf.data(), buf.size(), 0);
      ASSERT_GT(n, 0) << "peer " << peer;
      buf.resize(static_cast<std::size_t>(n));
      EXPECT_TRUE(buf == expected_head + d) << buf.substr(0, 80);
    }
  }
}

TEST(ProxyProtocolCli, ServiceSuffixesAndCheckNameTheField) {
  for (const char* bad : {"web:8080/proxy-v3", "dns:53/udp/proxy-v1", "web:1/proxy-v1/proxy-v2"}) {
    ZltRun r = run_zlt(
        {"agent", "--server", "ws://127.0.0.1:1/tunnel/v1", "--token", "t", "--service", bad});
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.output.find("zlt agent: --service:"), std::string::npos) << r.output;
  }
  ZltRun udp_v1 = run_zlt({"agent", "--server", "ws://127.0.0.1:1/tunnel/v1", "--token", "t",
                           "--service", "dns:53/udp/proxy-v1"});
  EXPECT_NE(udp_v1.output.find("/proxy-v1 is for TCP only"), std::string::npos) << udp_v1.output;

  const std::string file = write_temp_file("proxy_check.json", R"({
    "server_url": "ws://127.0.0.1:1/tunnel/v1", "token": "t",
    "services": [
      {"name": "web", "local_port": 8080, "proxy_protocol": "v2"},
      {"name": "dns", "protocol": "udp", "local_port": 53, "proxy_protocol": "v1"},
      {"name": "db", "local_port": 5432, "proxy_protocol": "v7"}
    ]
  })");
  ZltRun r = run_zlt({"check", "--config", file, "--role", "agent"});
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("  services[2].proxy_protocol: expected \"v1\" or \"v2\"\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(
      r.output.find("  services[1]: proxy_protocol: v1 is for TCP only; a UDP service needs v2\n"),
      std::string::npos)
      << r.output;
  ::unlink(file.c_str());

  const std::string good = write_temp_file("proxy_check_good.json", R"({
    "server_url": "ws://127.0.0.1:1/tunnel/v1", "token": "t",
    "services": [{"name": "web", "local_port": 8080, "proxy_protocol": "v2"}]
  })");
  ZltRun ok = run_zlt({"check", "--config", good});
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("(web tcp 8080 proxy v2)"), std::string::npos) << ok.output;
  ::unlink(good.c_str());
}

}  // namespace
}  // namespace zlt::test
