// Encoding and decoding of protocol messages (docs/PROTOCOL.md §2-§4). No I/O.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/common/error.hpp"
#include "core/protocol/message.hpp"

namespace zlt::proto {

struct Decoded {
  Message message;
  std::size_t consumed = 0;  // kHeaderSize + payload_len
};

// Decodes the first message of `bytes`. Checks in the order of docs/PROTOCOL.md §2; errors are
// Errc::protocol with the original's texts ("message too short: 3 bytes, need at least 5",
// "unknown message type: 0x00", "payload too large: 65532 bytes, max 65531", ...). Bytes inside
// the payload beyond the known fields are ignored; bytes after the frame are not consumed.
// Data/Datagram results borrow from `bytes`.
Result<Decoded> decode(std::span<const std::uint8_t> bytes);

// Appends the encoding of `m` to `out`. Refuses (Errc::protocol, nothing appended) strings
// longer than their length prefix allows, Data outside 1..kMaxDataChunk bytes, Datagram over
// kMaxDataChunk, WindowUpdate with increment 0, and anything over kMaxMessageSize.
Status encode_to(const Message& m, std::vector<std::uint8_t>& out);
Result<std::vector<std::uint8_t>> encode(const Message& m);

// Hot path: writes the 21-byte prefix (type, payload_len = 16 + body_len, connection_id) of a
// stream message whose body follows at dst + kStreamHeaderSize. body_len must be valid for the
// type (caller's responsibility; checked with assert).
void write_stream_header(std::uint8_t* dst, MsgType type, const Uuid& connection_id,
                         std::size_t body_len);

}  // namespace zlt::proto
