// The PROXY protocol header writer, byte for byte against the forms of HAProxy's
// proxy-protocol.txt (sections 2.1 and 2.2), written out by hand here.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/session/proxy_header.hpp"

namespace zlt {
namespace {

using config::ProxyProtocol;

SockAddr addr(const char* text) {
  std::optional<SockAddr> a = parse_peer_address(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(SockAddr{});
}

std::string bytes(std::vector<int> v) {
  std::string out;
  for (int b : v) out.push_back(static_cast<char>(b));
  return out;
}

// "\r\n\r\n\0\r\nQUIT\n"
const std::vector<int> kSig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                               0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

std::string v2(std::vector<int> rest) {
  std::vector<int> all = kSig;
  all.insert(all.end(), rest.begin(), rest.end());
  return bytes(all);
}

TEST(ProxyHeaderTest, V1Tcp4AsInTheSpecExample) {
  EXPECT_EQ(proxy_header(ProxyProtocol::v1, ProxyTransport::stream, addr("192.168.0.1:56324"),
                         addr("192.168.0.11:443")),
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
}

TEST(ProxyHeaderTest, V1WorstCaseLinesFitThe107ByteLimit) {
  const std::string v4 = proxy_header(ProxyProtocol::v1, ProxyTransport::stream,
                                      addr("255.255.255.255:65535"), addr("255.255.255.255:65535"));
  EXPECT_EQ(v4, "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
  const SockAddr all_ones = addr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  const std::string v6 =
      proxy_header(ProxyProtocol::v1, ProxyTransport::stream, all_ones, all_ones);
  EXPECT_EQ(v6,
            "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
  EXPECT_LE(v6.size(), 107u);
}

TEST(ProxyHeaderTest, V1Tcp6AndUnknown) {
  EXPECT_EQ(proxy_header(ProxyProtocol::v1, ProxyTransport::stream, addr("[::1]:40000"),
                         addr("[2001:db8::5]:8080")),
            "PROXY TCP6 ::1 2001:db8::5 40000 8080\r\n");
  EXPECT_EQ(
      proxy_header(ProxyProtocol::v1, ProxyTransport::stream, std::nullopt, addr("127.0.0.1:80")),
      "PROXY UNKNOWN\r\n");
}

TEST(ProxyHeaderTest, MixedFamiliesUseIpv4MappedIpv6) {
  // An IPv6 client toward an IPv4 service: the service address is written mapped.
  EXPECT_EQ(proxy_header(ProxyProtocol::v1, ProxyTransport::stream, addr("[::1]:1234"),
                         addr("127.0.0.1:80")),
            "PROXY TCP6 ::1 ::ffff:127.0.0.1 1234 80\r\n");
  // A mapped IPv4 client (a dual-stack listener) toward an IPv4 service: plain TCP4.
  EXPECT_EQ(proxy_header(ProxyProtocol::v1, ProxyTransport::stream, addr("[::ffff:10.1.2.3]:99"),
                         addr("127.0.0.1:80")),
            "PROXY TCP4 10.1.2.3 127.0.0.1 99 80\r\n");
}

TEST(ProxyHeaderTest, V2Tcp4) {
  // 192.168.0.1:56324 -> 192.168.0.11:443: PROXY command, TCP over IPv4, 12 address bytes.
  EXPECT_EQ(proxy_header(ProxyProtocol::v2, ProxyTransport::stream, addr("192.168.0.1:56324"),
                         addr("192.168.0.11:443")),
            v2({0x21, 0x11, 0x00, 0x0C, 192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB}));
}

TEST(ProxyHeaderTest, V2Udp4) {
  EXPECT_EQ(proxy_header(ProxyProtocol::v2, ProxyTransport::datagram, addr("10.0.0.1:53"),
                         addr("127.0.0.1:5353")),
            v2({0x21, 0x12, 0x00, 0x0C, 10, 0, 0, 1, 127, 0, 0, 1, 0x00, 0x35, 0x14, 0xE9}));
}

TEST(ProxyHeaderTest, V2Tcp6AndUdp6) {
  std::vector<int> rest = {0x21, 0x21, 0x00, 0x24};
  std::vector<int> loop6(16, 0);
  loop6[15] = 1;
  std::vector<int> doc6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};
  rest.insert(rest.end(), loop6.begin(), loop6.end());
  rest.insert(rest.end(), doc6.begin(), doc6.end());
  for (int b : {0x9C, 0x40, 0x1F, 0x90}) rest.push_back(b);  // 40000, 8080
  EXPECT_EQ(proxy_header(ProxyProtocol::v2, ProxyTransport::stream, addr("[::1]:40000"),
                         addr("[2001:db8::5]:8080")),
            v2(rest));
  rest[1] = 0x22;  // UDP over IPv6
  EXPECT_EQ(proxy_header(ProxyProtocol::v2, ProxyTransport::datagram, addr("[::1]:40000"),
                         addr("[2001:db8::5]:8080")),
            v2(rest));
}

TEST(ProxyHeaderTest, V2LocalWhenTheSourceIsUnknown) {
  // LOCAL command, AF_UNSPEC, no address block: the receiver keeps the connection's addresses.
  EXPECT_EQ(
      proxy_header(ProxyProtocol::v2, ProxyTransport::stream, std::nullopt, addr("127.0.0.1:80")),
      v2({0x20, 0x00, 0x00, 0x00}));
}

TEST(ProxyHeaderTest, NoneIsEmpty) {
  EXPECT_EQ(proxy_header(ProxyProtocol::none, ProxyTransport::stream, addr("1.2.3.4:5"),
                         addr("127.0.0.1:80")),
            "");
}

TEST(ProxyHeaderTest, PeerAddressParsing) {
  EXPECT_EQ(addr("1.2.3.4:5").to_string(), "1.2.3.4:5");
  EXPECT_EQ(addr("[::1]:8080").to_string(), "[::1]:8080");
  for (const char* bad : {"tunnel:0011-2233 1.2.3.4:5", "example.com:80", "1.2.3.4", "[::1]",
                          "[::1]80", "1.2.3.4:65536", "1.2.3.4:x", "::1:80", "[1.2.3.4]:80", ""})
    EXPECT_FALSE(parse_peer_address(bad).has_value()) << bad;
}

}  // namespace
}  // namespace zlt
