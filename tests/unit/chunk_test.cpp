// Chunk storage classes: what a chunk pins is sized to its content, and the process-wide
// figure counts exactly the chunks out of the pool.
#include "core/common/chunk.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace zlt {
namespace {

TEST(Chunk, SmallContentGetsASmallClass) {
  const std::uint8_t one = 1;
  ChunkPtr c = chunk_copy({&one, 1});
  EXPECT_EQ(c->footprint(), Chunk::kClassFootprint[0]);
  EXPECT_EQ(c->size(), 1u);
  EXPECT_EQ(c->headroom(), Chunk::kFrameHeadroom);
  EXPECT_EQ(c->data()[0], 1);
}

TEST(Chunk, ClassesCoverEverySize) {
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{200}, std::size_t{1000},
                        std::size_t{5000}, std::size_t{20000}, Chunk::kCapacity}) {
    const std::size_t k = Chunk::class_for(n);
    EXPECT_GE(Chunk::kClassFootprint[k] - Chunk::kHeaderSize, n) << n;
    if (k > 0) {
      EXPECT_LT(Chunk::kClassFootprint[k - 1] - Chunk::kHeaderSize, n) << n;
    }
  }
  EXPECT_EQ(acquire_chunk()->capacity(), Chunk::kCapacity);
  EXPECT_EQ(acquire_chunk()->footprint(), Chunk::kMaxFootprint);
}

TEST(Chunk, FitMovesSmallContentOutOfALargeChunk) {
  ChunkPtr big = acquire_chunk(Chunk::kPayloadOffset);
  const std::uint8_t bytes[3] = {7, 8, 9};
  big->append(bytes);
  ChunkPtr small = fit_chunk(std::move(big));
  EXPECT_LT(small->footprint(), Chunk::kMaxFootprint);
  EXPECT_EQ(small->headroom(), Chunk::kPayloadOffset);
  ASSERT_EQ(small->size(), 3u);
  EXPECT_EQ(small->data()[2], 9);

  ChunkPtr full = acquire_chunk(0);
  std::vector<std::uint8_t> lots(Chunk::kCapacity - 10, 0xab);
  full->append(lots);
  Chunk* raw = full.get();
  EXPECT_EQ(fit_chunk(std::move(full)).get(), raw);  // already the right class: no copy
}

TEST(Chunk, AppendStopsAtCapacity) {
  ChunkPtr c = acquire_chunk_for(10, 0);
  std::vector<std::uint8_t> lots(c->capacity() + 5, 1);
  EXPECT_EQ(c->append(lots), c->capacity());
  EXPECT_EQ(c->tailroom(), 0u);
}

TEST(Chunk, InUseCountsRealBytesOutOfThePool) {
  const std::size_t base = chunk_bytes_in_use();
  {
    ChunkPtr a = acquire_chunk();
    ChunkPtr b = acquire_chunk_for(1);
    EXPECT_EQ(chunk_bytes_in_use(), base + Chunk::kMaxFootprint + Chunk::kClassFootprint[0]);
  }
  EXPECT_EQ(chunk_bytes_in_use(), base);
}

TEST(Chunk, PoolStaysBounded) {
  ChunkPool::local().trim();
  {
    std::vector<ChunkPtr> many;
    for (int i = 0; i < 100; ++i) many.push_back(acquire_chunk());
  }
  EXPECT_EQ(ChunkPool::local().idle(), ChunkPool::kMaxIdle[Chunk::kClasses - 1]);
  // Reuse: taking one back does not allocate a new one.
  const std::size_t idle = ChunkPool::local().idle();
  { ChunkPtr again = acquire_chunk(); EXPECT_EQ(ChunkPool::local().idle(), idle - 1); }
  ChunkPool::local().trim();
  EXPECT_EQ(ChunkPool::local().idle(), 0u);
}

}  // namespace
}  // namespace zlt
