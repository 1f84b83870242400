#include <array>
#include <cstdint>
#include <string>

#include "core/crypto/crypto.hpp"
#include "core/crypto/mbedtls_compat.hpp"

namespace zlt::crypto {
namespace {

// RFC 6455 §1.3: the GUID every server appends to the client's key.
constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> data) {
  // mbedTLS writes a terminating NUL, so leave room for it.
  std::string out((data.size() + 2) / 3 * 4 + 1, '\0');
  std::size_t written = 0;
  detail::require_ok(mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                           &written, data.data(), data.size()),
                     "base64 encoding");
  out.resize(written);
  return out;
}

std::string websocket_accept(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kWebSocketGuid.size());
  input.append(key).append(kWebSocketGuid);
  std::array<std::uint8_t, 20> digest{};
  detail::require_ok(ZLT_MBEDTLS_SHA1(reinterpret_cast<const unsigned char*>(input.data()),
                                      input.size(), digest.data()),
                     "SHA-1");
  return base64_encode(digest);
}

std::string websocket_key() {
  std::array<std::uint8_t, 16> nonce{};
  random_bytes(nonce);
  return base64_encode(nonce);
}

}  // namespace zlt::crypto
