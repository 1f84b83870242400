// The RFC 6455 engine of both ends, without I/O: frame headers, masking, the rules over frame
// sequences (masking by role, fragmentation, control frames, close codes, the message size
// limit, UTF-8 text), reading bytes in any pieces and framing outgoing messages. The client
// reads server frames with it, the server's guard checks every client frame with it before
// libwebsockets sees it, and the tests play either side.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "core/common/chunk.hpp"
#include "core/transport/utf8_stream.hpp"

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

// Frames `chunk`'s content in place as one unfragmented message: masks it with `mask` when
// given (a client's frames) and prepends the header, moving the payload back if the chunk
// lacks the headroom. The payload plus header must fit a chunk.
void frame_in_place(Chunk& chunk, Opcode opcode, const MaskKey* mask);

// Close codes a peer may send (RFC 6455 §7.4 and the IANA registry): 1000-1003, 1007-1014,
// 3000-4999.
bool is_valid_close_code(std::uint16_t code);

// The end that sent the frames being read: a client masks every frame, a server never does
// (RFC 6455 §5.1); the receiver must fail the connection otherwise.
enum class Sender { client, server };

// Why a connection must be failed, and the close code to fail it with: 1002 (protocol error),
// 1007 (text or close reason not UTF-8) or 1009 (message over the limit).
struct Violation {
  std::uint16_t close_code = 1002;
  std::string reason;  // "unmasked client frame"
};

// The rules over a sequence of frames from one sender: each header on its own (check_header),
// continuation (a continuation needs a message in progress, a new message needs none) and the
// message size limit. One per direction of a connection.
class FrameChecker {
 public:
  FrameChecker(Sender sender, std::uint64_t max_message_size)
      : sender_(sender), max_message_(max_message_size) {}

  // Whether the frame with header `h` may come next. Does not change the state, so a caller
  // that waits for the rest of a frame may check its header again.
  std::optional<Violation> check(const FrameHeader& h) const;
  // Accounts for a frame that passed check().
  void advance(const FrameHeader& h);

  bool in_message() const { return in_message_; }
  std::uint64_t max_message_size() const { return max_message_; }

 private:
  Sender sender_;
  std::uint64_t max_message_;
  bool in_message_ = false;
  std::uint64_t message_size_ = 0;
};

// parse_header's bad_length as a violation.
Violation oversize_length_violation();

// The payload of a close frame (unmasked): empty, or a valid code and a UTF-8 reason.
std::optional<Violation> check_close_payload(std::span<const std::uint8_t> payload);

// A close frame's payload that passed check_close_payload: its code (1005, "no status
// received", when empty) and its reason (pointing into the payload).
struct CloseStatus {
  std::uint16_t code = 1005;
  std::string_view reason;
};
CloseStatus read_close_payload(std::span<const std::uint8_t> payload);
// The payload of a close frame with `code` and `reason` (clipped at a UTF-8 boundary to
// fit): its length in `out`. A code that may not be sent gives an empty payload.
std::size_t write_close_payload(std::span<std::uint8_t, kMaxControlPayload> out, std::uint16_t code,
                                std::string_view reason);

// Joins the data frames that passed a Codec into binary messages. A message in one frame is
// handed out in place; a fragmented one is copied into a chunk, which comes with it so that
// it stays valid while its receiver looks at it. Text messages are passed over (the tunnel
// protocol is binary).
class MessageAssembler {
 public:
  struct Message {
    std::span<const std::uint8_t> bytes;
    ChunkPtr held;  // the reassembled message's storage, if it was fragmented
  };
  // The frame's payload (not a control frame). A message once its last frame is in.
  std::optional<Message> add(const FrameHeader& h, std::span<const std::uint8_t> payload);

 private:
  bool text_ = false;
  std::size_t size_ = 0;
  ChunkPtr message_;
};

// The engine for one direction of a connection: the frames one sender sends, checked as they
// come. Two ways in, one set of rules: feed() takes bytes in any pieces and keeps memory
// constant (the server's guard, which passes the bytes on), next() hands out whole frames in
// place (the client, whose buffer holds any acceptable frame). Do not mix them on one codec.
class Codec {
 public:
  struct Frame {
    const FrameHeader& header;
    std::span<const std::uint8_t> control_payload;  // unmasked; empty for data frames
  };
  using FrameHandler = std::function<void(const Frame&)>;

  Codec(Sender sender, std::uint64_t max_message_size) : checker_(sender, max_message_size) {}

  // Parses `in`. Returns how many of its bytes come before the first byte of a violating
  // frame: all of them while every frame passes. A frame is rejected at the latest with its
  // last byte, so a caller that passes on only the returned prefix never passes on a whole
  // bad frame. After a violation nothing more is parsed (feed returns 0). `on_frame` sees
  // every complete frame that passed. Text payloads are unmasked aside to be checked, `in` is
  // left as it is.
  std::size_t feed(std::span<const std::uint8_t> in, const FrameHandler& on_frame = {});

  struct Next {
    enum Status { need_more, frame, violation } status = need_more;
    FrameHeader header;
    std::span<std::uint8_t> payload;  // unmasked in place
    std::size_t consumed = 0;         // header and payload
  };
  // The frame at the start of `in` once it is complete, unmasked in place. Its header is
  // checked as soon as it is complete, so a frame that will never be acceptable is refused
  // before its payload is read. After a violation (see violation()) every call returns it.
  Next next(std::span<std::uint8_t> in);

  const std::optional<Violation>& violation() const { return violation_; }
  bool in_message() const { return checker_.in_message(); }

 private:
  bool fail(Violation v);
  // The per-frame rules beyond the header, shared by both ways in; each returns false on a
  // violation. Text payloads arrive unmasked, in pieces.
  void begin_frame(const FrameHeader& h);
  bool text_piece(std::span<const std::uint8_t> unmasked);
  bool end_frame(const FrameHeader& h, std::span<const std::uint8_t> control);
  bool text_data(const FrameHeader& h) const { return !is_control(h.opcode) && text_; }

  FrameChecker checker_;
  std::optional<Violation> violation_;
  bool text_ = false;  // the message in progress is text
  Utf8Stream utf8_;
  // feed()'s state for a frame split across pieces.
  std::uint8_t header_bytes_[kMaxHeaderSize]{};
  std::size_t header_have_ = 0;  // > 0: a header split across feeds is being collected
  bool in_payload_ = false;
  FrameHeader header_;
  std::uint64_t payload_left_ = 0;
  std::uint64_t payload_have_ = 0;
  std::uint8_t control_[kMaxControlPayload]{};
  std::size_t control_have_ = 0;
};

}  // namespace zlt::ws
