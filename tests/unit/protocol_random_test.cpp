// Randomized properties with fixed seeds (reproducible): every message survives encode/decode,
// concatenated frames walk by `consumed`, and arbitrary input never breaks the decoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/protocol/codec.hpp"
#include "tests/unit/protocol_test_helpers.hpp"

namespace zlt::proto {
namespace {

using test::to_hex;

// Largest string each field can hold while the whole frame stays within kMaxMessageSize.
constexpr std::size_t kMaxToken = kMaxMessageSize - kHeaderSize - 2 - 16 - 5;
constexpr std::size_t kMaxReasonOnly = kMaxMessageSize - kHeaderSize - 2;
constexpr std::size_t kMaxIdReason = kMaxMessageSize - kHeaderSize - 16 - 2;
constexpr std::size_t kMaxClientAddr = kMaxMessageSize - kHeaderSize - 32 - 2;
constexpr std::size_t kMaxTarget = kMaxMessageSize - kHeaderSize - 16 - 3;

class MessageGenerator {
 public:
  explicit MessageGenerator(std::uint64_t seed) : rng_(seed) {}

  Message next() { return of_kind(below(std::variant_size_v<Message>)); }

  Message of_kind(std::size_t kind) {
    switch (kind) {
      case 0:
        return Auth{text(kMaxToken), uuid(), trailer()};
      case 1:
        return AuthOk{uuid(), trailer()};
      case 2:
        return AuthFail{text(kMaxReasonOnly)};
      case 3: {
        std::optional<std::uint8_t> flags;
        if (chance(50)) flags = u8();
        return Register{text(255), protocol(), u16(), u16(), flags};
      }
      case 4: {
        std::optional<std::uint16_t> port;
        if (chance(50)) port = u16();
        return RegisterOk{uuid(), port};
      }
      case 5:
        return RegisterFail{text(kMaxReasonOnly)};
      case 6:
        return Connect{uuid(), uuid(), text(kMaxClientAddr)};
      case 7:
        return ConnectAck{uuid()};
      case 8:
        return ConnectFail{uuid(), text(kMaxIdReason)};
      case 9:
        return Open{uuid(), protocol(), text(kMaxTarget)};
      case 10:
        return Heartbeat{u64()};
      case 11:
        return HeartbeatAck{u64()};
      case 12:
        return Unregister{uuid()};
      case 13:
        return Disconnect{text(kMaxReasonOnly)};
      case 14:
        return Data{uuid(), bytes(1, kMaxDataChunk)};
      case 15:
        return Eof{uuid()};
      case 16:
        return Close{uuid(), text(kMaxIdReason)};
      case 17:
        return WindowUpdate{uuid(), static_cast<std::uint32_t>(1 + below(0xffffffff))};
      default:
        return Datagram{uuid(), bytes(0, kMaxDataChunk)};
    }
  }

  std::size_t below(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
  std::uint8_t u8() { return static_cast<std::uint8_t>(rng_()); }

 private:
  std::uint16_t u16() { return static_cast<std::uint16_t>(rng_()); }
  std::uint64_t u64() {
    if (chance(5)) return std::numeric_limits<std::uint64_t>::max();
    return rng_();
  }
  Uuid uuid() {
    Uuid u;
    if (chance(5)) return u;  // nil
    for (auto& b : u.bytes) b = u8();
    return u;
  }
  ServiceProtocol protocol() { return chance(50) ? ServiceProtocol::tcp : ServiceProtocol::udp; }
  std::optional<V2Trailer> trailer() {
    if (chance(50)) return std::nullopt;
    return V2Trailer{u8(), static_cast<std::uint32_t>(rng_())};
  }

  // Mostly short, sometimes empty, rarely as long as the field allows.
  std::size_t length(std::size_t min, std::size_t max) {
    const auto roll = below(100);
    if (roll < 10) return min;
    if (roll < 12) return max;
    if (roll < 14) return min + below(max - min + 1);
    return std::min(max, min + below(40));
  }

  // Valid UTF-8 of at most max_bytes bytes, mixing 1- to 4-byte characters.
  std::string text(std::size_t max_bytes) {
    const std::size_t target = length(0, max_bytes);
    std::string s;
    s.reserve(target);
    while (true) {
      const std::string ch = character();
      if (s.size() + ch.size() > target) break;
      s += ch;
    }
    return s;
  }

  std::string character() {
    const auto roll = below(10);
    std::uint32_t cp;
    if (roll < 6) {
      cp = static_cast<std::uint32_t>(below(0x80));
    } else if (roll < 7) {
      cp = static_cast<std::uint32_t>(0x80 + below(0x800 - 0x80));
    } else if (roll < 9) {
      do {
        cp = static_cast<std::uint32_t>(0x800 + below(0x10000 - 0x800));
      } while (cp >= 0xd800 && cp <= 0xdfff);
    } else {
      cp = static_cast<std::uint32_t>(0x10000 + below(0x110000 - 0x10000));
    }
    return encode_code_point(cp);
  }

  static std::string encode_code_point(std::uint32_t cp) {
    std::string s;
    auto put = [&](std::uint32_t v) { s.push_back(static_cast<char>(v)); };
    if (cp < 0x80) {
      put(cp);
      return s;
    }
    if (cp < 0x800) {
      put(0xc0 | cp >> 6);
    } else if (cp < 0x10000) {
      put(0xe0 | cp >> 12);
      put(0x80 | (cp >> 6 & 0x3f));
    } else {
      put(0xf0 | cp >> 18);
      put(0x80 | (cp >> 12 & 0x3f));
      put(0x80 | (cp >> 6 & 0x3f));
    }
    put(0x80 | (cp & 0x3f));
    return s;
  }

  // Data and Datagram borrow their bytes: the generator keeps them alive.
  std::span<const std::uint8_t> bytes(std::size_t min, std::size_t max) {
    auto& buf = storage_.emplace_back(length(min, max));
    for (auto& b : buf) b = u8();
    return buf;
  }

  std::mt19937_64 rng_;
  std::deque<std::vector<std::uint8_t>> storage_;
};

TEST(ProtocolRandom, EveryKindRoundTrips) {
  MessageGenerator gen(0x5eed0001);
  for (std::size_t kind = 0; kind < std::variant_size_v<Message>; ++kind) {
    for (int i = 0; i < 1000; ++i) {
      const Message m = gen.of_kind(kind);
      auto bytes = encode(m);
      ASSERT_TRUE(bytes.ok()) << msg_type_name(type_of(m)) << ": " << bytes.error().message;
      ASSERT_LE(bytes->size(), kMaxMessageSize);
      ASSERT_EQ((*bytes)[0], static_cast<std::uint8_t>(type_of(m)));
      auto decoded = decode(*bytes);
      ASSERT_TRUE(decoded.ok()) << decoded.error().message;
      ASSERT_EQ(decoded->consumed, bytes->size());
      ASSERT_TRUE(decoded->message == m)
          << msg_type_name(type_of(m)) << " #" << i << ": "
          << to_hex(std::span(*bytes).first(std::min<std::size_t>(bytes->size(), 64)));
    }
  }
}

TEST(ProtocolRandom, ConcatenatedBuffersWalkByConsumed) {
  MessageGenerator gen(0x5eed0002);
  for (int round = 0; round < 200; ++round) {
    std::vector<Message> sent;
    std::vector<std::uint8_t> buffer;
    const std::size_t count = 1 + gen.below(50);
    for (std::size_t i = 0; i < count; ++i) {
      sent.push_back(gen.next());
      ASSERT_TRUE(encode_to(sent.back(), buffer).ok());
    }
    std::span<const std::uint8_t> rest(buffer);
    for (std::size_t i = 0; i < count; ++i) {
      auto decoded = decode(rest);
      ASSERT_TRUE(decoded.ok()) << "round " << round << " message " << i << ": "
                                << decoded.error().message;
      ASSERT_TRUE(decoded->message == sent[i]) << "round " << round << " message " << i;
      rest = rest.subspan(decoded->consumed);
    }
    EXPECT_TRUE(rest.empty());
  }
}

// Whatever decode accepts must re-encode (to at most as many bytes: unknown trailing payload
// bytes are dropped) and decode to the same value.
void check_decoder_invariants(std::span<const std::uint8_t> input) {
  auto decoded = decode(input);
  if (!decoded.ok()) {
    ASSERT_EQ(decoded.error().code, Errc::protocol);
    ASSERT_FALSE(decoded.error().message.empty());
    return;
  }
  ASSERT_GE(decoded->consumed, kHeaderSize);
  ASSERT_LE(decoded->consumed, input.size());
  ASSERT_LE(decoded->consumed, kMaxMessageSize);
  auto reencoded = encode(decoded->message);
  ASSERT_TRUE(reencoded.ok()) << reencoded.error().message << " for " << to_hex(input);
  ASSERT_LE(reencoded->size(), decoded->consumed);
  auto again = decode(*reencoded);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE(again->message == decoded->message) << to_hex(input);
}

TEST(ProtocolRandom, GarbageNeverBreaksTheDecoder) {
  MessageGenerator gen(0x5eed0003);
  std::vector<std::uint8_t> input;
  for (int i = 0; i < 50000; ++i) {
    input.resize(gen.below(80));
    for (auto& b : input) b = gen.u8();
    // Bias toward inputs that get past the framing checks, so per-type parsing is exercised.
    if (input.size() >= kHeaderSize && gen.chance(80)) {
      static constexpr std::uint8_t kTypes[] = {0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x20,
                                                0x21, 0x22, 0x23, 0x30, 0x31, 0x40, 0x41,
                                                0x50, 0x51, 0x52, 0x53, 0x54};
      input[0] = kTypes[gen.below(std::size(kTypes))];
      store_be32(input.data() + 1, static_cast<std::uint32_t>(gen.below(input.size() - 4)));
    }
    check_decoder_invariants(input);
    if (HasFatalFailure()) return;
  }
}

TEST(ProtocolRandom, MutatedFramesNeverBreakTheDecoder) {
  MessageGenerator gen(0x5eed0004);
  for (int i = 0; i < 20000; ++i) {
    auto bytes = encode(gen.next());
    ASSERT_TRUE(bytes.ok());
    auto& input = *bytes;
    const std::size_t flips = 1 + gen.below(3);
    for (std::size_t f = 0; f < flips; ++f) {
      input[gen.below(input.size())] ^= static_cast<std::uint8_t>(gen.u8() | 1);
    }
    if (gen.chance(30)) input.resize(gen.below(input.size() + 1));
    check_decoder_invariants(input);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace zlt::proto
