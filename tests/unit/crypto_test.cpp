#include "core/crypto/crypto.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace zlt::crypto {
namespace {

std::string to_hex(std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0x0f]);
  }
  return out;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void expect_uuid_v4(const Uuid& u) {
  EXPECT_EQ(u.bytes[6] >> 4, 4) << u.to_string();
  EXPECT_EQ(u.bytes[8] & 0xc0, 0x80) << u.to_string();
}

TEST(CryptoHash, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CryptoHash, HashTokenMatchesOriginal) {
  EXPECT_EQ(hash_token("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_EQ(hash_token("tok"), "1a7674eb4ee78df7e1ac439a93c3fa8e3c945784d4dec9fd8e3011738b2f1d62");
}

// The original's control.rs hash tests.
TEST(CryptoHash, HashTokenConsistentAndDistinct) {
  EXPECT_EQ(hash_token("my-secret-token"), hash_token("my-secret-token"));
  EXPECT_EQ(hash_token("my-secret-token").size(), 64u);
  EXPECT_NE(hash_token("token-a"), hash_token("token-b"));
  EXPECT_EQ(hash_token(""), sha256_hex(""));
  std::string unicode = hash_token("tökén-\xf0\x9f\x94\x91");
  std::string special = hash_token("!@#$%^&*()_+-=[]{}|;':\",./<>?");
  for (const std::string& h : {unicode, special}) {
    EXPECT_EQ(h.size(), 64u);
    EXPECT_TRUE(is_lower_hex(h)) << h;
  }
  EXPECT_NE(unicode, special);
}

TEST(CryptoHash, HmacSha256Rfc4231) {
  // Test case 1.
  EXPECT_EQ(to_hex(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2.
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size is hashed first.
  EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'),
                               "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(hmac_sha256("k", "m").size(), 32u);
}

TEST(CryptoHash, CtEqual) {
  EXPECT_TRUE(ct_equal("", ""));
  EXPECT_TRUE(ct_equal(hash_token("a"), hash_token("a")));
  EXPECT_FALSE(ct_equal(hash_token("a"), hash_token("b")));
  EXPECT_FALSE(ct_equal("abc", "abd"));
  EXPECT_FALSE(ct_equal("xbc", "abc"));
  EXPECT_FALSE(ct_equal("abc", "abcd"));
  EXPECT_FALSE(ct_equal("abcd", "abc"));
  EXPECT_FALSE(ct_equal("", "a"));
  // Embedded NULs are compared, not treated as terminators.
  EXPECT_FALSE(ct_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(CryptoHash, IsSha256Hex) {
  EXPECT_TRUE(is_sha256_hex(hash_token("x")));
  EXPECT_TRUE(is_sha256_hex(std::string(64, 'A')));
  EXPECT_TRUE(is_sha256_hex(std::string(32, 'f') + std::string(32, 'F')));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(65, 'a')));
  EXPECT_FALSE(is_sha256_hex(std::string(63, 'a') + "g"));
  EXPECT_FALSE(is_sha256_hex(""));
}

TEST(CryptoEncoding, Base64Rfc4648) {
  const std::array<std::pair<std::string_view, std::string_view>, 7> vectors{{
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  }};
  for (const auto& [plain, encoded] : vectors) EXPECT_EQ(base64_encode(bytes_of(plain)), encoded);
  const std::array<std::uint8_t, 3> high{0xfb, 0xff, 0xfe};
  EXPECT_EQ(base64_encode(high), "+//+");
}

TEST(CryptoEncoding, WebSocketAcceptRfc6455) {
  EXPECT_EQ(websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(CryptoEncoding, WebSocketKeyIsSixteenRandomBytes) {
  std::string a = websocket_key();
  std::string b = websocket_key();
  EXPECT_EQ(a.size(), 24u);
  EXPECT_TRUE(a.ends_with("==")) << a;
  EXPECT_NE(a, b);
}

TEST(CryptoRandom, Uuidv4Bits) {
  for (int i = 0; i < 200; ++i) {
    Uuid u = uuid_v4();
    expect_uuid_v4(u);
    std::string text = u.to_string();
    EXPECT_EQ(text[14], '4') << text;
    EXPECT_NE(std::string_view("89ab").find(text[19]), std::string_view::npos) << text;
  }
  EXPECT_NE(uuid_v4(), uuid_v4());
}

TEST(CryptoRandom, NewTokenFormatAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string t = new_token();
    ASSERT_EQ(t.size(), 36u) << t;
    ASSERT_TRUE(t.starts_with("tun_")) << t;
    ASSERT_TRUE(is_lower_hex(std::string_view(t).substr(4))) << t;
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(CryptoRandom, RandomBytesFillsLargeAndEmptyBuffers) {
  std::vector<std::uint8_t> empty;
  random_bytes(empty);
  // Larger than one DRBG request (1024 bytes), so it takes several.
  std::vector<std::uint8_t> a(5000);
  std::vector<std::uint8_t> b(5000);
  random_bytes(a);
  random_bytes(b);
  EXPECT_NE(a, b);
  // Every 1024-byte block got filled: none of them is still all zero.
  for (std::size_t block = 0; block < a.size(); block += 1024) {
    auto end = a.begin() + static_cast<std::ptrdiff_t>(std::min(block + 1024, a.size()));
    EXPECT_TRUE(std::any_of(a.begin() + static_cast<std::ptrdiff_t>(block), end,
                            [](std::uint8_t x) { return x != 0; }))
        << "block at " << block;
  }
  EXPECT_NE(random_u64(), random_u64());
}

TEST(CryptoRandom, MaskKeysRefillTheirPool) {
  MaskKeySource source;
  std::set<std::uint32_t> keys;
  // 256-byte pool = 64 keys, so this refills several times.
  for (int i = 0; i < 300; ++i) keys.insert(source.next());
  EXPECT_GT(keys.size(), 290u);
}

TEST(CryptoRandom, ConcurrentUuidsAreDistinctAndValid) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<Uuid>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&results, t] {
      results[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) results[t].push_back(uuid_v4());
    });
  }
  for (std::thread& th : threads) th.join();
  std::set<Uuid> all;
  for (const auto& list : results) {
    for (const Uuid& u : list) {
      expect_uuid_v4(u);
      all.insert(u);
    }
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

}  // namespace
}  // namespace zlt::crypto
