// Token hashing, constant-time comparison and random identifiers (mbedTLS).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/common/uuid.hpp"

namespace zlt::crypto {

// Lower-case hex SHA-256 of the bytes (64 characters).
std::string sha256_hex(std::string_view data);
// The server-side identity of a token: hash_token("test") ==
// "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".
std::string hash_token(std::string_view token);
// HMAC-SHA-256, raw 32 bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);
// Constant-time equality: the time depends only on the lengths, never on where a difference is.
bool ct_equal(std::string_view a, std::string_view b);
// True if `hex` is exactly 64 hex digits (either case).
bool is_sha256_hex(std::string_view hex);

// Cryptographically strong random bytes from a process-wide CTR-DRBG seeded from the OS
// entropy source on first use. Safe from any thread.
void random_bytes(std::span<std::uint8_t> out);
std::uint64_t random_u64();
// A random UUID v4 (version and variant bits set).
Uuid uuid_v4();
// A new tunnel token: "tun_" followed by 32 lower-case hex digits.
std::string new_token();

// WebSocket client mask keys (RFC 6455 §5.3), drawn from the DRBG in blocks so a frame costs
// no more than a copy. One source per connection; not thread-safe.
class MaskKeySource {
 public:
  std::uint32_t next();

 private:
  std::uint8_t pool_[256];
  std::size_t used_ = sizeof(pool_);
};

// Base64 (RFC 4648, with padding) and the WebSocket handshake helpers (RFC 6455 §4).
std::string base64_encode(std::span<const std::uint8_t> data);
// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string websocket_accept(std::string_view key);
// A fresh Sec-WebSocket-Key (16 random bytes, base64).
std::string websocket_key();

}  // namespace zlt::crypto
