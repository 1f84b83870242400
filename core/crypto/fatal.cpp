#include <cstdio>
#include <cstdlib>

#include "core/crypto/mbedtls_compat.hpp"

namespace zlt::crypto::detail {

void require_ok(int rc, const char* what) {
  if (rc == 0) return;
  std::fprintf(stderr, "zlayer-tunnel: fatal: %s failed (mbedTLS error -0x%04x)\n", what,
               static_cast<unsigned>(-rc));
  std::abort();
}

}  // namespace zlt::crypto::detail
