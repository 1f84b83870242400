#include "core/transport/ws_frame.hpp"

#include <cstring>

#include "core/common/bytes.hpp"

namespace zlt::ws {

std::size_t header_size(std::uint64_t payload_len, bool masked) {
  std::size_t n = payload_len < 126 ? 2 : payload_len <= 0xFFFF ? 4 : 10;
  return masked ? n + 4 : n;
}

std::size_t encode_header(std::uint8_t* out, bool fin, Opcode opcode, std::uint64_t payload_len,
                          const MaskKey* mask) {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(opcode));
  const std::uint8_t mask_bit = mask != nullptr ? 0x80 : 0;
  std::size_t n;
  if (payload_len < 126) {
    out[1] = static_cast<std::uint8_t>(mask_bit | payload_len);
    n = 2;
  } else if (payload_len <= 0xFFFF) {
    out[1] = mask_bit | 126;
    store_be16(out + 2, static_cast<std::uint16_t>(payload_len));
    n = 4;
  } else {
    out[1] = mask_bit | 127;
    store_be64(out + 2, payload_len);
    n = 10;
  }
  if (mask != nullptr) {
    std::memcpy(out + n, mask->data(), 4);
    n += 4;
  }
  return n;
}

ParseStatus parse_header(std::span<const std::uint8_t> in, FrameHeader& out) {
  if (in.size() < 2) return ParseStatus::need_more;
  const std::uint8_t b0 = in[0];
  const std::uint8_t b1 = in[1];
  out.fin = (b0 & 0x80) != 0;
  out.rsv = static_cast<std::uint8_t>((b0 >> 4) & 0x7);
  out.opcode = b0 & 0x0F;
  out.masked = (b1 & 0x80) != 0;
  std::size_t n = 2;
  std::uint64_t len = b1 & 0x7F;
  if (len == 126) {
    if (in.size() < 4) return ParseStatus::need_more;
    len = load_be16(in.data() + 2);
    n = 4;
  } else if (len == 127) {
    if (in.size() < 10) return ParseStatus::need_more;
    len = load_be64(in.data() + 2);
    if ((len >> 63) != 0) return ParseStatus::bad_length;
    n = 10;
  }
  if (out.masked) {
    if (in.size() < n + 4) return ParseStatus::need_more;
    std::memcpy(out.mask.data(), in.data() + n, 4);
    n += 4;
  }
  out.payload_len = len;
  out.header_len = n;
  return ParseStatus::ok;
}

const char* check_header(const FrameHeader& h, bool expect_masked) {
  if (h.rsv != 0) return "reserved bits set without a negotiated extension";
  switch (h.opcode) {
    case 0x0:
    case 0x1:
    case 0x2:
      break;
    case 0x8:
    case 0x9:
    case 0xA:
      if (!h.fin) return "fragmented control frame";
      if (h.payload_len > kMaxControlPayload) return "control frame payload over 125 bytes";
      break;
    default:
      return "unknown opcode";
  }
  if (h.masked != expect_masked)
    return expect_masked ? "unmasked client frame" : "masked server frame";
  return nullptr;
}

void apply_mask(std::uint8_t* data, std::size_t len, const MaskKey& key, std::size_t phase) {
  phase &= 3;
  // Bytes up to the next 8-byte boundary one at a time, so the bulk runs on aligned words.
  while (len > 0 && (reinterpret_cast<std::uintptr_t>(data) & 7) != 0) {
    *data++ ^= key[phase];
    phase = (phase + 1) & 3;
    --len;
  }
  if (len >= 8) {
    // The key as it lines up with the next 8 bytes: memcpy keeps this independent of byte order.
    std::uint8_t pattern_bytes[8];
    for (std::size_t i = 0; i < 8; ++i) pattern_bytes[i] = key[(phase + i) & 3];
    std::uint64_t pattern;
    std::memcpy(&pattern, pattern_bytes, 8);
    // Four words per step gives the compiler room to keep several loads in flight (or
    // vectorise); the tail loop handles what is left. The phase is unchanged by multiples of 8.
    while (len >= 32) {
      std::uint64_t w[4];
      std::memcpy(w, data, 32);
      w[0] ^= pattern;
      w[1] ^= pattern;
      w[2] ^= pattern;
      w[3] ^= pattern;
      std::memcpy(data, w, 32);
      data += 32;
      len -= 32;
    }
    while (len >= 8) {
      std::uint64_t w;
      std::memcpy(&w, data, 8);
      w ^= pattern;
      std::memcpy(data, &w, 8);
      data += 8;
      len -= 8;
    }
  }
  while (len > 0) {
    *data++ ^= key[phase];
    phase = (phase + 1) & 3;
    --len;
  }
}

bool is_valid_close_code(std::uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

}  // namespace zlt::ws
