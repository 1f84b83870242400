// Open targets and allow lists without sockets: the forms a target takes, what an allow list
// lets through, which addresses a name may lead to, and allow-entry parsing with its prefix
// lengths.
#include <gtest/gtest.h>

#include "core/protocol/open_target.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {
namespace {

using Kind = AddressClass::Kind;

// Built from entries the test knows to be valid.
AllowList allow_list(const std::vector<std::string>& entries) {
  auto list = AllowList::parse(entries);
  EXPECT_TRUE(list) << list.error().message;
  return list ? std::move(*list) : AllowList{};
}

bool allows(const std::vector<std::string>& entries, const std::string& target) {
  auto t = OpenTarget::parse(target);
  EXPECT_TRUE(t) << target;
  return t && allow_list(entries).allows(*t);
}

TEST(OpenTargetTest, ParsesEveryForm) {
  auto s = OpenTarget::parse("service:db");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, OpenTarget::Kind::service);
  EXPECT_EQ(s->name, "db");
  auto a = OpenTarget::parse("10.0.0.5:5432");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 5432);
  auto v6 = OpenTarget::parse("[::1]:22");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "[::1]:22");
  EXPECT_TRUE(OpenTarget::parse("db.internal.:5432"));  // fully qualified
  EXPECT_TRUE(OpenTarget::parse("under_score-1.x:1"));  // '_' as in service records
  EXPECT_TRUE(OpenTarget::parse(std::string(63, 'a') + ".b:1"));
  EXPECT_FALSE(OpenTarget::parse(std::string(64, 'a') + ".b:1"));  // a label over 63 bytes
  EXPECT_FALSE(OpenTarget::parse(std::string(254, 'a') + ":1"));   // a name over 253 bytes
  EXPECT_FALSE(OpenTarget::parse(std::string("a\0b:80", 5)));      // NUL inside the host
  for (const char* bad :
       {"", "service:", "db", "host:", "host:0", "host:65536", "[::1:22", "service:bad name", ":80",
        // hosts that are neither a DNS name nor an IP literal
        "bad host:80", "a..b:80", ".a:80", "[[]:80", "[10.0.0.1]:80", "[]:80", "a\nb:80", "a\tb:80",
        "h\x7f:80", "caf\xc3\xa9:80"}) {
    auto r = OpenTarget::parse(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::invalid_argument) << bad;
    }
  }
}

TEST(AllowListTest, EmptyAllowsNothing) {
  EXPECT_FALSE(allows({}, "service:db"));
  EXPECT_FALSE(allows({}, "127.0.0.1:80"));
}

TEST(AllowListTest, ServicesByNameOrWildcard) {
  EXPECT_TRUE(allows({"service:db"}, "service:db"));
  EXPECT_FALSE(allows({"service:db"}, "service:dbx"));
  EXPECT_FALSE(allows({"service:db"}, "127.0.0.1:5432"));
  EXPECT_TRUE(allows({"service:*"}, "service:anything"));
  EXPECT_FALSE(allows({"service:*"}, "127.0.0.1:80"));
}

TEST(AllowListTest, HostsPortsAndCidrs) {
  EXPECT_TRUE(allows({"db.internal:5432"}, "DB.Internal:5432"));
  EXPECT_FALSE(allows({"db.internal:5432"}, "db.internal:5433"));
  EXPECT_TRUE(allows({"db.internal:*"}, "db.internal:1"));
  EXPECT_TRUE(allows({"*:443"}, "example.com:443"));
  EXPECT_FALSE(allows({"*:443"}, "example.com:80"));
  EXPECT_TRUE(allows({"10.0.0.0/8:*"}, "10.200.3.4:22"));
  EXPECT_FALSE(allows({"10.0.0.0/8:*"}, "11.0.0.1:22"));
  EXPECT_TRUE(allows({"192.168.1.0/24:80"}, "192.168.1.77:80"));
  EXPECT_FALSE(allows({"192.168.1.0/24:80"}, "192.168.2.77:80"));
  // A CIDR matches IP literals only, never a name that might resolve inside it.
  EXPECT_FALSE(allows({"127.0.0.0/8:*"}, "localhost:80"));
  EXPECT_TRUE(allows({"[fd00::/8]:*"}, "[fd12::1]:80"));
  EXPECT_FALSE(allows({"[fd00::/8]:*"}, "[fe80::1]:80"));
  EXPECT_FALSE(allows({"10.0.0.0/8:*"}, "[::ffff:10.0.0.1]:80"));
}

sockaddr_storage addr(const std::string& ip, std::uint16_t port = 80) {
  auto a = resolve_listen_address(ip, port);
  EXPECT_TRUE(a) << ip;
  return a ? a->storage : sockaddr_storage{};
}

Kind kind_of(const std::string& ip) {
  return classify_address(addr(ip)).kind;
}

TEST(AddressClassTest, SpecialRangesAndTheirMappedForms) {
  for (const char* ip :
       {"127.0.0.1", "127.0.0.0", "127.255.255.255", "127.1.2.3", "::1", "::ffff:127.0.0.1"})
    EXPECT_EQ(kind_of(ip), Kind::loopback) << ip;
  for (const char* ip :
       {"169.254.169.254", "169.254.0.1", "fe80::1", "febf::1", "::ffff:169.254.169.254"})
    EXPECT_EQ(kind_of(ip), Kind::link_local) << ip;
  for (const char* ip : {"0.0.0.0", "::", "::ffff:0.0.0.0", "0.1.2.3"})
    EXPECT_EQ(kind_of(ip), Kind::unspecified) << ip;
  for (const char* ip : {"224.0.0.1", "239.255.255.255", "ff02::1", "ff0e::1", "::ffff:224.0.0.1"})
    EXPECT_EQ(kind_of(ip), Kind::multicast) << ip;
  for (const char* ip : {"10.0.0.1", "128.0.0.1", "126.255.255.255", "169.253.0.1", "223.255.0.1",
                         "8.8.8.8", "fec0::1", "fd00::1", "2001:db8::1", "::2", "::ffff:8.8.8.8"})
    EXPECT_EQ(kind_of(ip), Kind::ordinary) << ip;
  EXPECT_EQ(classify_address(addr("127.0.0.1")).prefix, 8u);
  EXPECT_EQ(classify_address(addr("::ffff:127.0.0.1")).prefix, 104u);
  EXPECT_EQ(classify_address(addr("fe80::1")).prefix, 10u);
}

std::optional<std::string> refusal(const std::vector<std::string>& entries, const std::string& ip,
                                   std::uint16_t port = 80) {
  return allow_list(entries).address_refusal(addr(ip, port));
}

TEST(AddressClassTest, OnlyNetworkEntriesInsideTheRangeLiftTheRefusal) {
  EXPECT_EQ(refusal({"localhost:80"}, "127.0.0.1"), "target resolves to a loopback address");
  EXPECT_EQ(refusal({"*:*"}, "169.254.169.254"), "target resolves to a link-local address");
  EXPECT_EQ(refusal({"*:*"}, "::"), "target resolves to an unspecified address");
  EXPECT_EQ(refusal({"*:*"}, "ff02::1"), "target resolves to a multicast address");
  EXPECT_EQ(refusal({"*:*"}, "8.8.8.8"), std::nullopt);
  EXPECT_EQ(refusal({"127.0.0.1:80"}, "127.0.0.1"), std::nullopt);
  EXPECT_EQ(refusal({"127.0.0.1:*"}, "127.0.0.1", 9), std::nullopt);
  EXPECT_TRUE(refusal({"127.0.0.1:81"}, "127.0.0.1"));  // another port
  EXPECT_EQ(refusal({"127.0.0.0/8:*"}, "127.9.9.9"), std::nullopt);
  EXPECT_EQ(refusal({"[::1]:80"}, "::1"), std::nullopt);
  EXPECT_EQ(refusal({"[fe80::/10]:*"}, "fe80::1"), std::nullopt);
  // A range wider than the special one is the internet, not this host.
  EXPECT_TRUE(refusal({"0.0.0.0/0:*"}, "127.0.0.1"));
  EXPECT_TRUE(refusal({"64.0.0.0/2:*"}, "127.0.0.1"));
  EXPECT_TRUE(refusal({"[::/0]:*"}, "::1"));
  // The mapped form is its own address: an IPv4 entry does not cover it.
  EXPECT_TRUE(refusal({"127.0.0.1:80"}, "::ffff:127.0.0.1"));
  EXPECT_EQ(refusal({"[::ffff:127.0.0.1]:80"}, "::ffff:127.0.0.1"), std::nullopt);
}

TEST(AllowEntryTest, PrefixLengthsAreBoundedByTheFamily) {
  EXPECT_TRUE(parse_allow_entry("10.0.0.0/32:80"));
  EXPECT_TRUE(parse_allow_entry("0.0.0.0/0:80"));
  EXPECT_FALSE(parse_allow_entry("10.0.0.0/33:80"));
  EXPECT_TRUE(parse_allow_entry("[::/128]:*"));
  EXPECT_FALSE(parse_allow_entry("[::/129]:*"));
  EXPECT_FALSE(parse_allow_entry("[::/200]:*"));
  EXPECT_FALSE(parse_allow_entry("[::/1000]:*"));
  EXPECT_FALSE(parse_allow_entry("10.0.0.0/-1:*"));
  EXPECT_FALSE(parse_allow_entry("[1.2.3.4/8]:*"));
  auto e = parse_allow_entry("[fd00::/8]:443");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, AllowEntry::Kind::network);
  EXPECT_EQ(e->prefix, 8u);
  EXPECT_EQ(e->port, std::optional<std::uint16_t>(443));
  auto literal = parse_allow_entry("10.1.2.3:*");
  ASSERT_TRUE(literal);
  EXPECT_EQ(literal->prefix, 32u);
  EXPECT_FALSE(literal->port);
  // An entry the parser refuses never reaches the matcher, whoever built the list.
  auto refused = AllowList::parse({"service:db", "[::/200]:*"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
  EXPECT_EQ(refused.error().message,
            "invalid allow entry '[::/200]:*' (expected service:NAME, HOST:PORT or CIDR:PORT)");
}

}  // namespace
}  // namespace zlt
