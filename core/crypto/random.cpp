#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>
#include <new>

#include "core/crypto/crypto.hpp"
#include "core/crypto/hex.hpp"
#include "core/crypto/mbedtls_compat.hpp"

namespace zlt::crypto {
namespace {

// The process-wide CTR-DRBG. mbedtls_ctr_drbg_random alone would be thread-safe with
// MBEDTLS_THREADING_C, but its periodic automatic reseed is not, hence the mutex.
class Drbg {
 public:
  Drbg() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    static constexpr unsigned char kPersonalization[] = "zlayer-tunnel";
    detail::require_ok(mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                             kPersonalization, sizeof(kPersonalization) - 1),
                       "CTR-DRBG seeding");
    mbedtls_ctr_drbg_set_prediction_resistance(&drbg_, MBEDTLS_CTR_DRBG_PR_OFF);
    seeded_in_ = ::getpid();
  }
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;

  void fill(std::span<std::uint8_t> out) {
    std::lock_guard lock(mutex_);
    // A forked child inherits the parent's state and would repeat its output (same ids, same
    // tokens); fresh entropy makes the two streams diverge.
    if (::getpid() != seeded_in_) {
      detail::require_ok(mbedtls_ctr_drbg_reseed(&drbg_, nullptr, 0), "CTR-DRBG reseeding");
      seeded_in_ = ::getpid();
    }
    while (!out.empty()) {
      std::size_t n = std::min<std::size_t>(out.size(), MBEDTLS_CTR_DRBG_MAX_REQUEST);
      detail::require_ok(mbedtls_ctr_drbg_random(&drbg_, out.data(), n), "CTR-DRBG");
      out = out.subspan(n);
    }
  }

 private:
  std::mutex mutex_;
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  pid_t seeded_in_ = 0;
};

// Built on first use and never destroyed: threads still running while static destructors run
// at exit must not find a freed DRBG. The storage is static, so nothing is left on the heap.
template <class T>
class NoDestructor {
 public:
  NoDestructor() { ::new (static_cast<void*>(storage_)) T(); }
  T& get() { return *std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

Drbg& drbg() {
  static NoDestructor<Drbg> instance;
  return instance.get();
}

}  // namespace

void random_bytes(std::span<std::uint8_t> out) {
  drbg().fill(out);
}

std::uint64_t random_u64() {
  std::array<std::uint8_t, 8> bytes{};
  random_bytes(bytes);
  std::uint64_t value = 0;
  std::memcpy(&value, bytes.data(), sizeof(value));
  return value;
}

Uuid uuid_v4() {
  Uuid u;
  random_bytes(u.bytes);
  u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0f) | 0x40);  // version 4
  u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)
  return u;
}

std::string new_token() {
  std::array<std::uint8_t, 16> secret{};
  random_bytes(secret);
  return "tun_" + detail::to_hex(secret);
}

std::uint32_t MaskKeySource::next() {
  if (used_ + sizeof(std::uint32_t) > sizeof(pool_)) {
    random_bytes(pool_);
    used_ = 0;
  }
  std::uint32_t key = 0;
  std::memcpy(&key, pool_ + used_, sizeof(key));
  used_ += sizeof(key);
  return key;
}

}  // namespace zlt::crypto
