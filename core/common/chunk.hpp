// Fixed-size byte chunks for the data path, recycled through a per-thread pool so moving a
// tunnelled byte costs no heap allocation. A chunk reserves headroom in front of its content,
// so lower layers (the stream header, the WebSocket frame header, LWS_PRE) are written in place
// instead of copying the payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "core/protocol/message.hpp"

namespace zlt {

class Chunk {
 public:
  // Room for the largest transport frame header in front of a protocol message:
  // a masked client frame needs 14 bytes, libwebsockets needs LWS_PRE (16).
  static constexpr std::size_t kFrameHeadroom = 32;
  // A whole protocol message (header + payload) fits behind the frame headroom.
  static constexpr std::size_t kCapacity = kFrameHeadroom + proto::kMaxMessageSize;
  // Where a stream's payload (Data body) starts when the chunk is read into directly.
  static constexpr std::size_t kPayloadOffset = kFrameHeadroom + proto::kStreamHeaderSize;

  std::uint8_t* data() { return bytes_ + begin_; }
  const std::uint8_t* data() const { return bytes_ + begin_; }
  std::size_t size() const { return end_ - begin_; }
  std::span<const std::uint8_t> span() const { return {data(), size()}; }
  std::size_t headroom() const { return begin_; }
  std::size_t tailroom() const { return kCapacity - end_; }
  std::uint8_t* base() { return bytes_; }

  // Content is [begin, end) of the storage.
  void set_range(std::size_t begin, std::size_t end) {
    begin_ = static_cast<std::uint32_t>(begin);
    end_ = static_cast<std::uint32_t>(end);
  }
  // Extends the content to the front by n bytes (n <= headroom()) and returns its new start.
  std::uint8_t* prepend(std::size_t n) {
    begin_ -= static_cast<std::uint32_t>(n);
    return data();
  }
  void consume_front(std::size_t n) { begin_ += static_cast<std::uint32_t>(n); }

 private:
  friend class ChunkPool;
  Chunk* next_free_ = nullptr;
  std::uint32_t begin_ = 0;
  std::uint32_t end_ = 0;
  alignas(16) std::uint8_t bytes_[kCapacity];
};

struct ChunkReturn {
  void operator()(Chunk* c) const noexcept;
};
using ChunkPtr = std::unique_ptr<Chunk, ChunkReturn>;

// A chunk with empty content positioned at `begin` (default: ready for a protocol message
// behind the frame headroom).
ChunkPtr acquire_chunk(std::size_t begin = Chunk::kFrameHeadroom);
// A chunk holding a copy of `bytes` behind the frame headroom (bytes.size() <= kMaxMessageSize).
ChunkPtr chunk_copy(std::span<const std::uint8_t> bytes);

// The calling thread's pool: free chunks are kept for reuse up to a small bound, the rest
// go back to the allocator so an idle process stays small.
class ChunkPool {
 public:
  static constexpr std::size_t kMaxIdle = 32;  // 2 MiB

  static ChunkPool& local();
  ~ChunkPool();
  Chunk* take();
  void give(Chunk* c) noexcept;
  std::size_t idle() const { return idle_count_; }
  // Returns every idle chunk to the allocator.
  void trim() noexcept;

 private:
  Chunk* free_ = nullptr;
  std::size_t idle_count_ = 0;
};

}  // namespace zlt
