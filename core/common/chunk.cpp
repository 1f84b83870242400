#include "core/common/chunk.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstring>
#include <new>

namespace zlt {
namespace {

// Relaxed: a budget figure, read now and then; no ordering with the bytes themselves.
std::atomic<std::size_t> g_in_use{0};

constexpr std::align_val_t kAlign{alignof(Chunk)};

void release(Chunk* c) noexcept {
  c->~Chunk();
  // The unsized form: clang before 19 does not declare sized deallocation by default.
  ::operator delete(static_cast<void*>(c), kAlign);
}

}  // namespace

std::size_t Chunk::class_for(std::size_t bytes) {
  assert(bytes <= kCapacity);
  for (std::size_t i = 0; i + 1 < kClasses; ++i)
    if (bytes + kHeaderSize <= kClassFootprint[i]) return i;
  return kClasses - 1;
}

std::size_t Chunk::append(std::span<const std::uint8_t> bytes) {
  const std::size_t n = std::min(bytes.size(), tailroom());
  if (n > 0) std::memcpy(base() + end_, bytes.data(), n);
  end_ += static_cast<std::uint32_t>(n);
  return n;
}

ChunkPool& ChunkPool::local() {
  thread_local ChunkPool pool;
  return pool;
}

ChunkPool::~ChunkPool() { trim(); }

Chunk* ChunkPool::take(std::size_t size_class) {
  Chunk* c = free_[size_class];
  if (c != nullptr) {
    free_[size_class] = c->next_free_;
    c->next_free_ = nullptr;
    --idle_count_[size_class];
  } else {
    void* storage = ::operator new(Chunk::kClassFootprint[size_class], kAlign);
    c = new (storage) Chunk(static_cast<std::uint8_t>(size_class));
  }
  g_in_use.fetch_add(c->footprint(), std::memory_order_relaxed);
  return c;
}

void ChunkPool::give(Chunk* c) noexcept {
  g_in_use.fetch_sub(c->footprint(), std::memory_order_relaxed);
  const std::size_t k = c->class_;
  if (idle_count_[k] >= kMaxIdle[k]) {
    release(c);
    return;
  }
  c->next_free_ = free_[k];
  free_[k] = c;
  ++idle_count_[k];
}

std::size_t ChunkPool::idle() const {
  std::size_t n = 0;
  for (std::size_t k : idle_count_) n += k;
  return n;
}

void ChunkPool::trim() noexcept {
  for (std::size_t k = 0; k < Chunk::kClasses; ++k) {
    while (free_[k] != nullptr) {
      Chunk* c = free_[k];
      free_[k] = c->next_free_;
      release(c);
    }
    idle_count_[k] = 0;
  }
}

void ChunkReturn::operator()(Chunk* c) const noexcept { ChunkPool::local().give(c); }

std::size_t chunk_bytes_in_use() { return g_in_use.load(std::memory_order_relaxed); }

ChunkPtr acquire_chunk(std::size_t begin) {
  assert(begin <= Chunk::kCapacity);
  ChunkPtr c(ChunkPool::local().take(Chunk::kClasses - 1));
  c->set_range(begin, begin);
  return c;
}

ChunkPtr acquire_chunk_for(std::size_t content, std::size_t begin) {
  assert(begin + content <= Chunk::kCapacity);
  ChunkPtr c(ChunkPool::local().take(Chunk::class_for(begin + content)));
  c->set_range(begin, begin);
  return c;
}

ChunkPtr chunk_copy(std::span<const std::uint8_t> bytes) {
  assert(bytes.size() <= Chunk::kMaxContent);
  ChunkPtr c = acquire_chunk_for(bytes.size());
  c->append(bytes);
  return c;
}

ChunkPtr fit_chunk(ChunkPtr c) {
  const std::size_t needed = c->headroom() + c->size();
  if (Chunk::class_for(needed) >= c->size_class()) return c;
  ChunkPtr small = acquire_chunk_for(c->size(), c->headroom());
  small->append(c->span());
  return small;
}

}  // namespace zlt
