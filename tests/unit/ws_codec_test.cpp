#include "core/transport/ws_codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace zlt::ws {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes encode(bool fin, Opcode op, std::uint64_t len, const MaskKey* mask = nullptr) {
  Bytes out(kMaxHeaderSize);
  out.resize(encode_header(out.data(), fin, op, len, mask));
  return out;
}

void reference_mask(std::uint8_t* data, std::size_t len, const MaskKey& key, std::size_t phase) {
  for (std::size_t i = 0; i < len; ++i) data[i] ^= key[(phase + i) % 4];
}

TEST(WsFrameTest, HeaderSizes) {
  EXPECT_EQ(header_size(0, false), 2u);
  EXPECT_EQ(header_size(125, false), 2u);
  EXPECT_EQ(header_size(126, false), 4u);
  EXPECT_EQ(header_size(65535, false), 4u);
  EXPECT_EQ(header_size(65536, false), 10u);
  EXPECT_EQ(header_size(0, true), 6u);
  EXPECT_EQ(header_size(125, true), 6u);
  EXPECT_EQ(header_size(126, true), 8u);
  EXPECT_EQ(header_size(65535, true), 8u);
  EXPECT_EQ(header_size(65536, true), 14u);
  EXPECT_EQ(kMaxHeaderSize, 14u);
}

TEST(WsFrameTest, EncodeParseRoundTripAtLengthBoundaries) {
  const MaskKey key{0x11, 0x22, 0x33, 0x44};
  for (std::uint64_t len : {0ull, 1ull, 125ull, 126ull, 127ull, 65535ull, 65536ull, 1ull << 32}) {
    for (bool masked : {false, true}) {
      SCOPED_TRACE(testing::Message() << "len=" << len << " masked=" << masked);
      Bytes h = encode(true, Opcode::binary, len, masked ? &key : nullptr);
      ASSERT_EQ(h.size(), header_size(len, masked));
      FrameHeader f;
      ASSERT_EQ(parse_header(h, f), ParseStatus::ok);
      EXPECT_TRUE(f.fin);
      EXPECT_EQ(f.rsv, 0);
      EXPECT_EQ(f.opcode, 2);
      EXPECT_EQ(f.masked, masked);
      if (masked) {
        EXPECT_EQ(f.mask, key);
      }
      EXPECT_EQ(f.payload_len, len);
      EXPECT_EQ(f.header_len, h.size());
      // Every proper prefix asks for more.
      for (std::size_t cut = 0; cut < h.size(); ++cut) {
        FrameHeader partial;
        EXPECT_EQ(parse_header({h.data(), cut}, partial), ParseStatus::need_more) << cut;
      }
    }
  }
}

TEST(WsFrameTest, ExactHeaderBytes) {
  EXPECT_EQ(encode(true, Opcode::binary, 0), (Bytes{0x82, 0x00}));
  EXPECT_EQ(encode(true, Opcode::binary, 125), (Bytes{0x82, 0x7D}));
  EXPECT_EQ(encode(true, Opcode::binary, 126), (Bytes{0x82, 0x7E, 0x00, 0x7E}));
  EXPECT_EQ(encode(true, Opcode::binary, 65535), (Bytes{0x82, 0x7E, 0xFF, 0xFF}));
  EXPECT_EQ(encode(true, Opcode::binary, 65536),
            (Bytes{0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  EXPECT_EQ(encode(false, Opcode::continuation, 3), (Bytes{0x00, 0x03}));
  const MaskKey key{1, 2, 3, 4};
  EXPECT_EQ(encode(true, Opcode::close, 2, &key), (Bytes{0x88, 0x82, 1, 2, 3, 4}));
}

TEST(WsFrameTest, ParseRejectsHugeLength) {
  Bytes h{0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
  FrameHeader f;
  EXPECT_EQ(parse_header(h, f), ParseStatus::bad_length);
}

// RFC 6455 §5.7.
TEST(WsFrameTest, Rfc6455Examples) {
  const Bytes hello{'H', 'e', 'l', 'l', 'o'};
  FrameHeader f;

  // A single-frame unmasked text message.
  Bytes unmasked{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
  ASSERT_EQ(parse_header(unmasked, f), ParseStatus::ok);
  EXPECT_TRUE(f.fin);
  EXPECT_EQ(f.opcode, 1);
  EXPECT_FALSE(f.masked);
  EXPECT_EQ(f.payload_len, 5u);
  EXPECT_EQ(Bytes(unmasked.begin() + 2, unmasked.end()), hello);
  EXPECT_EQ(encode(true, Opcode::text, 5), Bytes(unmasked.begin(), unmasked.begin() + 2));

  // A single-frame masked text message.
  Bytes masked{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  ASSERT_EQ(parse_header(masked, f), ParseStatus::ok);
  EXPECT_TRUE(f.masked);
  EXPECT_EQ(f.mask, (MaskKey{0x37, 0xfa, 0x21, 0x3d}));
  Bytes payload(masked.begin() + 6, masked.end());
  apply_mask(payload.data(), payload.size(), f.mask);
  EXPECT_EQ(payload, hello);
  Bytes built = encode(true, Opcode::text, 5, &f.mask);
  Bytes body = hello;
  apply_mask(body.data(), body.size(), f.mask);
  built.insert(built.end(), body.begin(), body.end());
  EXPECT_EQ(built, masked);

  // A fragmented unmasked text message.
  Bytes first{0x01, 0x03, 0x48, 0x65, 0x6c};
  Bytes second{0x80, 0x02, 0x6c, 0x6f};
  ASSERT_EQ(parse_header(first, f), ParseStatus::ok);
  EXPECT_FALSE(f.fin);
  EXPECT_EQ(f.opcode, 1);
  EXPECT_EQ(f.payload_len, 3u);
  ASSERT_EQ(parse_header(second, f), ParseStatus::ok);
  EXPECT_TRUE(f.fin);
  EXPECT_EQ(f.opcode, 0);
  EXPECT_EQ(f.payload_len, 2u);

  // Unmasked ping, masked pong.
  EXPECT_EQ(encode(true, Opcode::ping, 5), (Bytes{0x89, 0x05}));
  Bytes pong{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  ASSERT_EQ(parse_header(pong, f), ParseStatus::ok);
  EXPECT_EQ(f.opcode, 0xA);
  EXPECT_EQ(check_header(f, true), nullptr);

  // 256 bytes and 64 KiB binary messages in a single unmasked frame.
  EXPECT_EQ(encode(true, Opcode::binary, 256), (Bytes{0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(encode(true, Opcode::binary, 65536),
            (Bytes{0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}));
}

TEST(WsFrameTest, CheckHeader) {
  auto check = [](Bytes h, bool expect_masked) {
    FrameHeader f;
    EXPECT_EQ(parse_header(h, f), ParseStatus::ok);
    const char* why = check_header(f, expect_masked);
    return std::string(why ? why : "");
  };
  EXPECT_EQ(check({0x82, 0x00}, false), "");
  EXPECT_EQ(check({0x02, 0x00}, false), "");  // first fragment
  EXPECT_EQ(check({0x80, 0x00}, false), "");  // last continuation
  EXPECT_EQ(check({0x89, 0x7D}, false), "");  // 125-byte ping
  EXPECT_EQ(check({0x82, 0x80, 1, 2, 3, 4}, false), "masked server frame");
  EXPECT_EQ(check({0x82, 0x00}, true), "unmasked client frame");
  EXPECT_EQ(check({0xC2, 0x00}, false), "reserved bits set without a negotiated extension");
  EXPECT_EQ(check({0x92, 0x00}, false), "reserved bits set without a negotiated extension");
  EXPECT_EQ(check({0x83, 0x00}, false), "unknown opcode");
  EXPECT_EQ(check({0x8B, 0x00}, false), "unknown opcode");
  EXPECT_EQ(check({0x09, 0x00}, false), "fragmented control frame");
  EXPECT_EQ(check({0x89, 0x7E, 0x00, 0x7E}, false), "control frame payload over 125 bytes");
  EXPECT_EQ(check({0x88, 0x7E, 0x00, 0x7E}, false), "control frame payload over 125 bytes");
}

TEST(WsFrameTest, MaskMatchesReferenceForAllAlignmentsAndLengths) {
  std::mt19937 rng(42);
  alignas(16) std::uint8_t storage[256 + 16];
  for (std::size_t offset = 0; offset < 16; ++offset) {
    for (std::size_t len = 0; len <= 100; ++len) {
      for (std::size_t phase = 0; phase < 4; ++phase) {
        const MaskKey key{static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                          static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
        for (auto& b : storage) b = static_cast<std::uint8_t>(rng());
        Bytes expected(storage, storage + sizeof storage);
        reference_mask(expected.data() + offset, len, key, phase);
        apply_mask(storage + offset, len, key, phase);
        // Bytes outside [offset, offset + len) stay untouched, the rest match the reference.
        ASSERT_EQ(Bytes(storage, storage + sizeof storage), expected)
            << "offset=" << offset << " len=" << len << " phase=" << phase;
      }
    }
  }
}

TEST(WsFrameTest, MaskLargeBuffersAndRoundTrip) {
  std::mt19937 rng(7);
  for (std::size_t len : {1000u, 4096u, 65536u, 65537u, 1u << 20}) {
    for (std::size_t offset : {0u, 1u, 3u, 7u}) {
      Bytes data(len + offset);
      for (auto& b : data) b = static_cast<std::uint8_t>(rng());
      const Bytes original = data;
      const MaskKey key{0xde, 0xad, 0xbe, 0xef};
      Bytes expected = data;
      reference_mask(expected.data() + offset, len, key, 0);
      apply_mask(data.data() + offset, len, key);
      ASSERT_EQ(data, expected) << len << "/" << offset;
      apply_mask(data.data() + offset, len, key);
      ASSERT_EQ(data, original) << len << "/" << offset;
    }
  }
}

TEST(WsFrameTest, MaskingInPiecesEqualsMaskingAtOnce) {
  Bytes whole(1000);
  for (std::size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<std::uint8_t>(i * 7);
  Bytes pieces = whole;
  const MaskKey key{9, 8, 7, 6};
  apply_mask(whole.data(), whole.size(), key);
  std::size_t pos = 0;
  for (std::size_t step : {1u, 2u, 3u, 5u, 8u, 13u, 100u, 868u}) {
    apply_mask(pieces.data() + pos, step, key, pos % 4);
    pos += step;
  }
  ASSERT_EQ(pos, pieces.size());
  EXPECT_EQ(pieces, whole);
}

TEST(WsFrameTest, CloseCodes) {
  for (int code :
       {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999})
    EXPECT_TRUE(is_valid_close_code(static_cast<std::uint16_t>(code))) << code;
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
    EXPECT_FALSE(is_valid_close_code(static_cast<std::uint16_t>(code))) << code;
}

}  // namespace
}  // namespace zlt::ws
