// Byte chunks for the data path, recycled through a per-thread pool so moving a tunnelled byte
// costs no heap allocation. A chunk reserves headroom in front of its content, so lower layers
// (the stream header, the WebSocket frame header, LWS_PRE) are written in place instead of
// copying the payload.
//
// Chunks come in a few storage classes so what a chunk pins is sized to its content: a
// one-byte message costs a 256-byte chunk, not a 64 KiB one. Every chunk's real cost
// (footprint: header and storage) is counted process-wide while it is out of the pool; that
// figure is what memory budgets are checked against.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace zlt {

class alignas(16) Chunk {
 public:
  // Room for the largest transport frame header in front of a protocol message:
  // a masked client frame needs 14 bytes, libwebsockets needs LWS_PRE (16).
  static constexpr std::size_t kFrameHeadroom = 32;
  // The largest content: a whole protocol message (proto::kMaxMessageSize, header + payload);
  // common sits below protocol, so core/protocol/message.cpp asserts that the two agree.
  static constexpr std::size_t kMaxContent = 65536;
  // The content fits behind the frame headroom: the storage of the largest class.
  static constexpr std::size_t kCapacity = kFrameHeadroom + kMaxContent;
  // The header in front of a stream's payload (proto::kStreamHeaderSize, asserted likewise).
  static constexpr std::size_t kStreamHeaderSize = 21;
  // Where a stream's payload (Data body) starts when the chunk is read into directly.
  static constexpr std::size_t kPayloadOffset = kFrameHeadroom + kStreamHeaderSize;
  // The bookkeeping in front of every chunk's storage.
  static constexpr std::size_t kHeaderSize = 32;
  // Storage classes by total allocation (header included), smallest first; the last holds
  // kCapacity.
  static constexpr std::size_t kClasses = 5;
  static constexpr std::array<std::size_t, kClasses> kClassFootprint = {
      256, 1024, 4096, 16384, kHeaderSize + kCapacity};
  // What the largest chunk really costs.
  static constexpr std::size_t kMaxFootprint = kClassFootprint[kClasses - 1];

  std::uint8_t* data() { return base() + begin_; }
  const std::uint8_t* data() const { return base() + begin_; }
  std::size_t size() const { return end_ - begin_; }
  std::span<const std::uint8_t> span() const { return {data(), size()}; }
  std::size_t headroom() const { return begin_; }
  std::size_t tailroom() const { return capacity() - end_; }
  std::size_t capacity() const { return kClassFootprint[class_] - kHeaderSize; }
  std::size_t size_class() const { return class_; }
  // Bytes this chunk really holds (header and whole storage), whatever its content.
  std::size_t footprint() const { return kClassFootprint[class_]; }
  std::uint8_t* base() { return reinterpret_cast<std::uint8_t*>(this) + kHeaderSize; }
  const std::uint8_t* base() const {
    return reinterpret_cast<const std::uint8_t*>(this) + kHeaderSize;
  }

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
  // Copies as much of `bytes` as fits behind the content; returns how many.
  std::size_t append(std::span<const std::uint8_t> bytes);

  // The smallest class whose storage holds `bytes` (bytes <= kCapacity).
  static std::size_t class_for(std::size_t bytes);

 private:
  friend class ChunkPool;
  explicit Chunk(std::uint8_t size_class) : class_(size_class) {}
  Chunk* next_free_ = nullptr;
  std::uint32_t begin_ = 0;
  std::uint32_t end_ = 0;
  std::uint8_t class_;
};
static_assert(sizeof(Chunk) <= Chunk::kHeaderSize, "chunk header must fit kHeaderSize");

struct ChunkReturn {
  void operator()(Chunk* c) const noexcept;
};
using ChunkPtr = std::unique_ptr<Chunk, ChunkReturn>;

// A largest-class chunk with empty content positioned at `begin` (default: ready for a
// protocol message behind the frame headroom). Socket reads go into these.
ChunkPtr acquire_chunk(std::size_t begin = Chunk::kFrameHeadroom);
// The smallest chunk with room for `content` bytes behind `begin`, empty, positioned there.
ChunkPtr acquire_chunk_for(std::size_t content, std::size_t begin = Chunk::kFrameHeadroom);
// A chunk sized to hold a copy of `bytes` behind the frame headroom
// (bytes.size() <= kMaxMessageSize).
ChunkPtr chunk_copy(std::span<const std::uint8_t> bytes);
// `c` itself, or a copy in a smaller class if its content (with its headroom) fits one: a
// message read into a large chunk does not pin it while it waits in a queue.
ChunkPtr fit_chunk(ChunkPtr c);
// Real bytes of every chunk currently out of the pools, process-wide.
std::size_t chunk_bytes_in_use();

// The calling thread's pool: free chunks of each class are kept for reuse up to a small bound,
// the rest go back to the allocator so an idle process stays small.
class ChunkPool {
 public:
  // Idle chunks kept per class: 32 of the largest (2 MiB), more of the small ones.
  static constexpr std::array<std::size_t, Chunk::kClasses> kMaxIdle = {256, 128, 64, 32, 32};

  static ChunkPool& local();
  ~ChunkPool();
  Chunk* take(std::size_t size_class);
  void give(Chunk* c) noexcept;
  // Idle chunks, all classes.
  std::size_t idle() const;
  // Returns every idle chunk to the allocator.
  void trim() noexcept;

 private:
  std::array<Chunk*, Chunk::kClasses> free_{};
  std::array<std::size_t, Chunk::kClasses> idle_count_{};
};

}  // namespace zlt
