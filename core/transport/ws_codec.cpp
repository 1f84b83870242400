#include "core/transport/ws_codec.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/common/bytes.hpp"
#include "core/protocol/utf8.hpp"

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

// ---- rules over frame sequences ----

std::optional<Violation> FrameChecker::check(const FrameHeader& h) const {
  if (const char* why = check_header(h, sender_ == Sender::client)) return Violation{1002, why};
  if (is_control(h.opcode)) return std::nullopt;  // may come between fragments
  const bool continuation = h.opcode == 0;
  if (continuation && !in_message_)
    return Violation{1002, "continuation frame without a message to continue"};
  if (!continuation && in_message_)
    return Violation{1002, "new message before the previous one was finished"};
  // No overflow: payload_len < 2^63 and message_size_ <= max_message_.
  const std::uint64_t total = (continuation ? message_size_ : 0) + h.payload_len;
  if (total > max_message_)
    return Violation{1009, "message of " + std::to_string(total) + "+ bytes exceeds the limit of " +
                               std::to_string(max_message_)};
  return std::nullopt;
}

void FrameChecker::advance(const FrameHeader& h) {
  if (is_control(h.opcode)) return;
  if (h.opcode != 0) message_size_ = 0;
  message_size_ += h.payload_len;
  in_message_ = !h.fin;
}

Violation oversize_length_violation() {
  return Violation{1002, "frame length over 2^63"};
}

std::optional<Violation> check_close_payload(std::span<const std::uint8_t> payload) {
  if (payload.empty()) return std::nullopt;
  if (payload.size() == 1) return Violation{1002, "close frame of 1 byte"};
  const std::uint16_t code = load_be16(payload.data());
  if (!is_valid_close_code(code))
    return Violation{1002, "invalid close code " + std::to_string(code)};
  if (proto::validate_utf8(payload.subspan(2))) return Violation{1007, "close reason is not UTF-8"};
  return std::nullopt;
}

CloseStatus read_close_payload(std::span<const std::uint8_t> payload) {
  if (payload.size() < 2) return {};
  return {load_be16(payload.data()),
          {reinterpret_cast<const char*>(payload.data() + 2), payload.size() - 2}};
}

std::size_t write_close_payload(std::span<std::uint8_t, kMaxControlPayload> out, std::uint16_t code,
                                std::string_view reason) {
  if (!is_valid_close_code(code)) return 0;
  reason = proto::clip_utf8(reason, kMaxControlPayload - 2);
  store_be16(out.data(), code);
  std::memcpy(out.data() + 2, reason.data(), reason.size());
  return 2 + reason.size();
}

std::optional<MessageAssembler::Message> MessageAssembler::add(
    const FrameHeader& h, std::span<const std::uint8_t> payload) {
  const std::size_t len = payload.size();
  if (h.opcode != 0) {  // a new message
    text_ = h.opcode == 1;
    size_ = 0;
    message_.reset();
    if (h.fin) {
      if (text_) return std::nullopt;
      return Message{payload, nullptr};
    }
    if (!text_) message_ = acquire_chunk(0);
  }
  if (message_ && len > 0) std::memcpy(message_->base() + size_, payload.data(), len);
  size_ += len;
  if (!h.fin || !message_) return std::nullopt;
  Message whole{{message_->base(), size_}, std::move(message_)};
  return whole;
}

// ---- outgoing frames ----

void frame_in_place(Chunk& chunk, Opcode opcode, const MaskKey* mask) {
  const std::size_t len = chunk.size();
  const std::size_t header = header_size(len, mask != nullptr);
  if (chunk.headroom() < header) {
    // Not produced by acquire_chunk: make room by moving the payload (it still fits).
    std::memmove(chunk.base() + header, chunk.data(), len);
    chunk.set_range(header, header + len);
  }
  if (mask != nullptr) apply_mask(chunk.data(), len, *mask);
  encode_header(chunk.prepend(header), true, opcode, len, mask);
}

// ---- the engine ----

bool Codec::fail(Violation v) {
  violation_ = std::move(v);
  return false;
}

void Codec::begin_frame(const FrameHeader& h) {
  if (is_control(h.opcode) || h.opcode == 0) return;
  text_ = h.opcode == static_cast<std::uint8_t>(Opcode::text);
  utf8_.reset();
}

bool Codec::text_piece(std::span<const std::uint8_t> unmasked) {
  if (utf8_.feed(unmasked)) return true;
  return fail(Violation{1007, "text message is not UTF-8"});
}

bool Codec::end_frame(const FrameHeader& h, std::span<const std::uint8_t> control) {
  if (h.opcode == static_cast<std::uint8_t>(Opcode::close))
    if (auto v = check_close_payload(control)) return fail(std::move(*v));
  if (text_data(h) && h.fin && !utf8_.complete())
    return fail(Violation{1007, "text message ends inside a UTF-8 sequence"});
  return true;
}

Codec::Next Codec::next(std::span<std::uint8_t> in) {
  Next out;
  if (violation_) {
    out.status = Next::violation;
    return out;
  }
  FrameHeader& h = out.header;
  const ParseStatus ps = parse_header(in, h);
  if (ps == ParseStatus::need_more) return out;
  if (ps == ParseStatus::bad_length) {
    fail(oversize_length_violation());
    out.status = Next::violation;
    return out;
  }
  if (auto v = checker_.check(h)) {
    fail(std::move(*v));
    out.status = Next::violation;
    return out;
  }
  const std::size_t frame_len = h.header_len + static_cast<std::size_t>(h.payload_len);
  if (in.size() < frame_len) return out;  // checked again when the rest has come
  checker_.advance(h);
  begin_frame(h);
  out.payload = in.subspan(h.header_len, static_cast<std::size_t>(h.payload_len));
  if (h.masked) apply_mask(out.payload.data(), out.payload.size(), h.mask);
  const bool ok = (!text_data(h) || text_piece(out.payload)) &&
                  end_frame(h, is_control(h.opcode) ? out.payload : std::span<std::uint8_t>());
  out.status = ok ? Next::frame : Next::violation;
  out.consumed = frame_len;
  return out;
}

std::size_t Codec::feed(std::span<const std::uint8_t> in, const FrameHandler& on_frame) {
  if (violation_) return 0;
  std::size_t pos = 0;
  std::size_t frame_start = 0;  // where the current frame begins in `in` (0: in an earlier piece)
  // A frame ends either inside the loop or, with an empty payload, right at its header.
  auto frame_done = [&]() -> bool {
    in_payload_ = false;
    std::span<const std::uint8_t> control(control_, control_have_);
    if (!end_frame(header_, control)) return false;
    if (on_frame) on_frame(Frame{header_, control});
    return true;
  };
  while (pos < in.size()) {
    if (!in_payload_) {
      if (header_have_ == 0) frame_start = pos;
      const std::size_t take = std::min(kMaxHeaderSize - header_have_, in.size() - pos);
      std::memcpy(header_bytes_ + header_have_, in.data() + pos, take);
      FrameHeader h;
      const ParseStatus ps = parse_header({header_bytes_, header_have_ + take}, h);
      if (ps == ParseStatus::need_more) {
        header_have_ += take;
        pos += take;
        continue;
      }
      if (ps == ParseStatus::bad_length) {
        fail(oversize_length_violation());
        return frame_start;
      }
      pos += h.header_len - header_have_;
      header_have_ = 0;
      if (auto v = checker_.check(h)) {
        fail(std::move(*v));
        return frame_start;
      }
      checker_.advance(h);
      begin_frame(h);
      header_ = h;
      payload_left_ = h.payload_len;
      payload_have_ = 0;
      control_have_ = 0;
      in_payload_ = true;
      if (payload_left_ == 0 && !frame_done()) return frame_start;
      continue;
    }
    const auto take =
        static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, in.size() - pos));
    if (is_control(header_.opcode)) {  // check_header bounds these to kMaxControlPayload
      std::memcpy(control_ + control_have_, in.data() + pos, take);
      if (header_.masked) apply_mask(control_ + control_have_, take, header_.mask, control_have_);
      control_have_ += take;
    } else if (text_data(header_)) {
      // Unmasked aside, block by block: the bytes themselves go on as they came.
      std::uint8_t block[1024];
      for (std::size_t done = 0; done < take;) {
        const std::size_t n = std::min(sizeof block, take - done);
        std::memcpy(block, in.data() + pos + done, n);
        if (header_.masked) apply_mask(block, n, header_.mask, (payload_have_ + done) & 3);
        if (!text_piece({block, n})) return frame_start;
        done += n;
      }
    }
    pos += take;
    payload_left_ -= take;
    payload_have_ += take;
    if (payload_left_ == 0 && !frame_done()) return frame_start;
  }
  return in.size();
}

}  // namespace zlt::ws
