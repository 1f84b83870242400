// RFC 6455 §5 frame headers and masking, shared by the WebSocket client and the tests that
// play the server side. No I/O and no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace zlt::ws {

enum class Opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

using MaskKey = std::array<std::uint8_t, 4>;

inline constexpr std::size_t kMaxHeaderSize = 14;  // 2 + 8-byte length + 4-byte mask
inline constexpr std::size_t kMaxControlPayload = 125;

inline bool is_control(std::uint8_t opcode) {
  return (opcode & 0x8) != 0;
}

// Header size for a frame of `payload_len` bytes.
std::size_t header_size(std::uint64_t payload_len, bool masked);

// Writes a frame header (with the mask key when `mask` is given) to `out`, which must have room
// for header_size() bytes; returns the bytes written.
std::size_t encode_header(std::uint8_t* out, bool fin, Opcode opcode, std::uint64_t payload_len,
                          const MaskKey* mask = nullptr);

struct FrameHeader {
  bool fin = false;
  std::uint8_t rsv = 0;     // the three RSV bits, as bits 2..0
  std::uint8_t opcode = 0;  // raw: unknown opcodes are the caller's to reject
  bool masked = false;
  MaskKey mask{};
  std::uint64_t payload_len = 0;
  std::size_t header_len = 0;
};

enum class ParseStatus { ok, need_more, bad_length };

// Parses the header at the start of `in`. need_more: `in` holds only part of it.
// bad_length: a 64-bit length with the most significant bit set.
ParseStatus parse_header(std::span<const std::uint8_t> in, FrameHeader& out);

// The RFC 6455 rules one frame header must obey on its own (continuation state is the
// caller's): returns nullptr if fine, else why not. `expect_masked`: frames from clients are
// masked, frames from servers never are.
const char* check_header(const FrameHeader& h, bool expect_masked);

// XORs `len` bytes with the mask key, starting at key byte `phase` (0..3; the payload offset
// modulo 4 when masking a payload in pieces). Masking and unmasking are the same operation.
void apply_mask(std::uint8_t* data, std::size_t len, const MaskKey& key, std::size_t phase = 0);

// Close codes a peer may send (RFC 6455 §7.4 and the IANA registry): 1000-1003, 1007-1014,
// 3000-4999.
bool is_valid_close_code(std::uint16_t code);

}  // namespace zlt::ws
