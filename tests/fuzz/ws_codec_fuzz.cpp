// libFuzzer target for the RFC 6455 codec, both roles. The input is a byte stream as a peer
// sends it: headers are parsed one after the other, each checked as a client frame (a server
// reads it) and as a server frame (the client reads it), and its payload is skipped; then the
// whole stream goes through the codec of each role, in one piece, in pieces, and as whole
// frames. Invariants: a parsed header is as long as its fields say, re-encodes to the bytes it
// was parsed from when minimal, needs all of its bytes, is accepted by at most one role,
// unmasking in pieces equals unmasking at once, the codec's verdict does not depend on how
// the bytes are cut, and whole frames in place reach the same verdict.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "core/common/bytes.hpp"
#include "core/transport/ws_codec.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zlt::fuzz::check;
namespace ws = zlt::ws;

void check_header(std::span<const std::uint8_t> in, const ws::FrameHeader& h) {
  check(h.header_len <= in.size() && h.header_len <= ws::kMaxHeaderSize,
        "header longer than the input");
  check(h.header_len >= ws::header_size(h.payload_len, h.masked), "header shorter than minimal");
  check(h.payload_len >> 63 == 0, "a 64-bit length with the top bit set was accepted");

  // A header is complete only with all of its bytes.
  ws::FrameHeader partial;
  check(ws::parse_header(in.first(h.header_len - 1), partial) == ws::ParseStatus::need_more,
        "a truncated header parsed");

  // The encoder writes the minimal form, which must be the bytes parsed (RSV bits aside).
  if (h.header_len == ws::header_size(h.payload_len, h.masked)) {
    std::array<std::uint8_t, ws::kMaxHeaderSize> out{};
    std::size_t n = ws::encode_header(out.data(), h.fin, static_cast<ws::Opcode>(h.opcode),
                                      h.payload_len, h.masked ? &h.mask : nullptr);
    check(n == h.header_len, "re-encoded header has another length");
    check(out[0] == (in[0] & 0x8F), "re-encoded first byte differs");
    check(std::memcmp(out.data() + 1, in.data() + 1, n - 1) == 0, "re-encoded header differs");
  }

  const char* as_client_frame = ws::check_header(h, true);
  const char* as_server_frame = ws::check_header(h, false);
  check(!(as_client_frame == nullptr && as_server_frame == nullptr),
        "a frame is acceptable from both a client and a server");
  if (as_client_frame == nullptr || as_server_frame == nullptr) {
    check(h.rsv == 0, "reserved bits accepted");
    if (ws::is_control(h.opcode))
      check(h.fin && h.payload_len <= ws::kMaxControlPayload, "bad control frame accepted");
  }
}

void check_unmask(std::span<const std::uint8_t> payload, const ws::MaskKey& key) {
  // One byte of offset so the word loop of apply_mask meets an unaligned start.
  std::vector<std::uint8_t> whole(1);
  whole.insert(whole.end(), payload.begin(), payload.end());
  std::vector<std::uint8_t> pieces(whole);
  ws::apply_mask(whole.data() + 1, payload.size(), key);

  const std::size_t split = payload.size() / 3;
  ws::apply_mask(pieces.data() + 1, split, key, 0);
  ws::apply_mask(pieces.data() + 1 + split, payload.size() - split, key, split);
  check(whole == pieces, "unmasking in pieces differs from unmasking at once");

  ws::apply_mask(whole.data() + 1, payload.size(), key);
  check(std::equal(payload.begin(), payload.end(), whole.begin() + 1),
        "masking twice is not the identity");

  if (payload.size() >= 2) (void)ws::is_valid_close_code(zlt::load_be16(pieces.data() + 1));
}

struct Verdict {
  std::size_t accepted = 0;
  std::string reason;  // empty: no violation
  std::uint16_t code = 0;
};

Verdict feed(ws::Sender from, std::span<const std::uint8_t> in, std::size_t piece) {
  ws::Codec codec(from, 4096);
  Verdict v;
  for (std::size_t at = 0; at < in.size(); at += piece) {
    const std::size_t n = std::min(piece, in.size() - at);
    const std::size_t ok = codec.feed(in.subspan(at, n));
    check(ok <= n, "feed accepted more than it was given");
    v.accepted += ok;
    if (ok < n) {
      check(codec.violation().has_value(), "feed stopped without a violation");
      break;
    }
  }
  if (const auto& violation = codec.violation()) {
    v.reason = violation->reason;
    v.code = violation->close_code;
  }
  return v;
}

void check_codec(ws::Sender from, std::span<const std::uint8_t> in) {
  const Verdict once = feed(from, in, std::max<std::size_t>(in.size(), 1));
  const std::size_t piece = in.empty() ? 1 : in[0] % 7 + 1;
  const Verdict cut = feed(from, in, piece);
  check(once.reason == cut.reason && once.code == cut.code, "verdict depends on the pieces",
        once.reason + " / " + cut.reason);
  check(cut.accepted >= once.accepted && (cut.reason.empty() || cut.accepted < in.size()),
        "pieces and one piece let different bytes through");

  std::vector<std::uint8_t> copy(in.begin(), in.end());
  ws::Codec codec(from, 4096);
  std::span<std::uint8_t> rest(copy);
  std::size_t consumed = 0;
  for (;;) {
    const ws::Codec::Next f = codec.next(rest);
    if (f.status != ws::Codec::Next::frame) break;
    check(f.consumed > 0 && f.consumed <= rest.size(), "next consumed a bad count");
    consumed += f.consumed;
    rest = rest.subspan(f.consumed);
  }
  if (const auto& violation = codec.violation()) {
    // Whole frames see no more than pieces do: pieces must have refused the same frame.
    check(violation->reason == once.reason && violation->close_code == once.code,
          "next and feed disagree", violation->reason + " / " + once.reason);
    check(consumed == once.accepted, "next and feed stop at different frames");
  } else {
    check(once.reason.empty() || consumed <= once.accepted, "next passed a refused frame");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  while (!in.empty()) {
    ws::FrameHeader h;
    ws::ParseStatus status = ws::parse_header(in, h);
    if (status == ws::ParseStatus::need_more) {
      check(in.size() < ws::kMaxHeaderSize, "need_more with a whole header's bytes");
      break;
    }
    if (status == ws::ParseStatus::bad_length) {
      check(in.size() >= 10 && (in[1] & 0x7F) == 127 && (in[2] & 0x80) != 0,
            "bad_length for a length that is not 64-bit with the top bit set");
      break;
    }
    check_header(in, h);
    in = in.subspan(h.header_len);
    const std::size_t available = h.payload_len < in.size() ? h.payload_len : in.size();
    if (h.masked) check_unmask(in.first(available), h.mask);
    in = in.subspan(available);
  }
  check_codec(ws::Sender::client, {data, size});
  check_codec(ws::Sender::server, {data, size});
  return 0;
}
