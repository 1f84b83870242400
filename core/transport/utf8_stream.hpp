// UTF-8 validation of a byte stream that arrives in pieces (RFC 6455 §8.1: a text message must
// be UTF-8, and an endpoint may fail as soon as a piece proves it is not). The rules are
// proto::validate_utf8's; only a sequence cut by a piece boundary is carried over.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace zlt {

class Utf8Stream {
 public:
  // False once the bytes so far cannot begin a UTF-8 string.
  bool feed(std::span<const std::uint8_t> bytes);
  // The bytes so far are UTF-8 and end on a character boundary.
  bool complete() const { return !failed_ && carry_len_ == 0; }
  void reset() { *this = Utf8Stream(); }

 private:
  std::uint8_t carry_[4]{};  // the start of a sequence cut by the end of the last piece
  std::size_t carry_len_ = 0;
  bool failed_ = false;
};

}  // namespace zlt
