// mbedTLS headers and the few names that differ between 2.28 (Debian 12) and 3.x. Internal to
// core/crypto.
#pragma once

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

// 2.28's constant_time.h lacks the extern "C" guard its siblings have.
extern "C" {
#include <mbedtls/constant_time.h>
}

// 2.x deprecates the void-returning one-shot hashes (an error under -Werror); 3.x gave the
// int-returning versions the short names back.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define ZLT_MBEDTLS_SHA256 mbedtls_sha256
#define ZLT_MBEDTLS_SHA1 mbedtls_sha1
#else
#define ZLT_MBEDTLS_SHA256 mbedtls_sha256_ret
#define ZLT_MBEDTLS_SHA1 mbedtls_sha1_ret
#endif

namespace zlt::crypto::detail {

// The primitives used here fail only on misuse or when the platform cannot provide entropy or
// memory; carrying on with a weak or partial result would be worse than stopping.
void require_ok(int rc, const char* what);

}  // namespace zlt::crypto::detail
