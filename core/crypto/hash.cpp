#include <array>
#include <cstdint>

#include "core/crypto/crypto.hpp"
#include "core/crypto/hex.hpp"
#include "core/crypto/mbedtls_compat.hpp"

namespace zlt::crypto {
namespace {

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  std::array<std::uint8_t, 32> digest{};
  detail::require_ok(ZLT_MBEDTLS_SHA256(bytes_of(data), data.size(), digest.data(), 0), "SHA-256");
  return detail::to_hex(digest);
}

std::string hash_token(std::string_view token) {
  return sha256_hex(token);
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
  std::string mac(32, '\0');
  const mbedtls_md_info_t* sha256 = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  detail::require_ok(mbedtls_md_hmac(sha256, bytes_of(key), key.size(), bytes_of(message),
                                     message.size(), reinterpret_cast<unsigned char*>(mac.data())),
                     "HMAC-SHA-256");
  return mac;
}

bool ct_equal(std::string_view a, std::string_view b) {
  // Lengths are not secret here (token hashes are always 64 characters); contents are, so a
  // mismatch in length answers at once and equal lengths always compare every byte.
  if (a.size() != b.size()) return false;
  return mbedtls_ct_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool is_sha256_hex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!is_hex_digit(c)) return false;
  return true;
}

}  // namespace zlt::crypto
