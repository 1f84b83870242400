#include "core/transport/utf8_stream.hpp"

#include <algorithm>
#include <cstring>

#include "core/protocol/utf8.hpp"

namespace zlt {

bool Utf8Stream::feed(std::span<const std::uint8_t> bytes) {
  if (failed_) return false;
  if (carry_len_ > 0) {
    // The carried sequence and at most what completes it: no sequence is longer than 4 bytes.
    std::uint8_t joined[sizeof carry_ * 2];
    std::memcpy(joined, carry_, carry_len_);
    const std::size_t take = std::min(bytes.size(), sizeof carry_ - carry_len_);
    std::memcpy(joined + carry_len_, bytes.data(), take);
    const auto err = proto::validate_utf8({joined, carry_len_ + take});
    if (!err) {
      carry_len_ = 0;
      bytes = bytes.subspan(take);
    } else if (err->error_len) {
      failed_ = true;
      return false;
    } else if (err->valid_up_to < carry_len_) {
      // Still cut short, so `take` was all of `bytes`.
      std::memcpy(carry_ + carry_len_, bytes.data(), take);
      carry_len_ += take;
      return true;
    } else {
      // The carried sequence is complete; a new one starts inside `take`.
      bytes = bytes.subspan(err->valid_up_to - carry_len_);
      carry_len_ = 0;
    }
  }
  const auto err = proto::validate_utf8(bytes);
  if (!err) return true;
  if (err->error_len) {
    failed_ = true;
    return false;
  }
  carry_len_ = bytes.size() - err->valid_up_to;
  std::memcpy(carry_, bytes.data() + err->valid_up_to, carry_len_);
  return true;
}

}  // namespace zlt
