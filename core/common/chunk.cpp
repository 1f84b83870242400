#include "core/common/chunk.hpp"

#include <cassert>
#include <cstring>
#include <new>

namespace zlt {

ChunkPool& ChunkPool::local() {
  thread_local ChunkPool pool;
  return pool;
}

ChunkPool::~ChunkPool() { trim(); }

Chunk* ChunkPool::take() {
  if (free_ != nullptr) {
    Chunk* c = free_;
    free_ = c->next_free_;
    c->next_free_ = nullptr;
    --idle_count_;
    return c;
  }
  return new Chunk;  // NOLINT: owned by ChunkPtr from here on
}

void ChunkPool::give(Chunk* c) noexcept {
  if (idle_count_ >= kMaxIdle) {
    delete c;  // NOLINT
    return;
  }
  c->next_free_ = free_;
  free_ = c;
  ++idle_count_;
}

void ChunkPool::trim() noexcept {
  while (free_ != nullptr) {
    Chunk* c = free_;
    free_ = c->next_free_;
    delete c;  // NOLINT
  }
  idle_count_ = 0;
}

void ChunkReturn::operator()(Chunk* c) const noexcept { ChunkPool::local().give(c); }

ChunkPtr acquire_chunk(std::size_t begin) {
  assert(begin <= Chunk::kCapacity);
  ChunkPtr c(ChunkPool::local().take());
  c->set_range(begin, begin);
  return c;
}

ChunkPtr chunk_copy(std::span<const std::uint8_t> bytes) {
  assert(bytes.size() <= proto::kMaxMessageSize);
  ChunkPtr c = acquire_chunk();
  if (!bytes.empty()) std::memcpy(c->data(), bytes.data(), bytes.size());
  c->set_range(Chunk::kFrameHeadroom, Chunk::kFrameHeadroom + bytes.size());
  return c;
}

}  // namespace zlt
