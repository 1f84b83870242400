// libFuzzer target for the protocol decoder. Besides "never crash", it checks the property the
// session layer relies on: whatever decode() accepts, encode() can write back, and that encoding
// decodes to the same value.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "core/protocol/codec.hpp"

namespace {

[[noreturn]] void fail(const char* what, const zlt::Error* error = nullptr) {
  std::fprintf(stderr, "protocol_decode_fuzz: %s%s%s\n", what, error ? ": " : "",
               error ? error->message.c_str() : "");
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace zlt::proto;
  const std::span<const std::uint8_t> input(data, size);

  auto decoded = decode(input);
  if (!decoded.ok()) {
    if (decoded.error().code != zlt::Errc::protocol) fail("decode error of the wrong kind");
    if (decoded.error().message.empty()) fail("decode error without a message");
    return 0;
  }
  if (decoded->consumed < kHeaderSize || decoded->consumed > size ||
      decoded->consumed > kMaxMessageSize) {
    fail("consumed out of range");
  }

  auto reencoded = encode(decoded->message);
  if (!reencoded.ok()) fail("a decoded message does not re-encode", &reencoded.error());
  // Re-encoding drops only payload bytes the decoder ignored, never adds any.
  if (reencoded->size() > decoded->consumed) fail("re-encoding grew the message");

  auto again = decode(*reencoded);
  if (!again.ok()) fail("a re-encoded message does not decode", &again.error());
  if (again->consumed != reencoded->size()) fail("re-decode consumed the wrong length");
  if (!(again->message == decoded->message)) fail("re-decoded message differs");
  return 0;
}
