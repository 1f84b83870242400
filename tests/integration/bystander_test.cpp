// The hostile-peer suites rely on Bystander to show that an attack disturbed nobody else; these
// tests show that it notices when something is disturbed.
#include <gtest/gtest.h>

#include "support/bystander.hpp"

namespace zlt::test {
namespace {

TEST(Bystander, PassesOnAQuietServer) {
  Harness h;
  h.start_server();
  Bystander b(h);
  ASSERT_TRUE(eventually([&] { return b.rounds() >= 20; }, 20s));
  auto result = b.finish();
  EXPECT_TRUE(result) << result.message();
}

TEST(Bystander, FailsWhenTheServerGoesAway) {
  Harness h;
  h.start_server();
  Bystander b(h);
  ASSERT_TRUE(eventually([&] { return b.rounds() >= 5; }, 20s));
  h.stop_server();
  // The round in flight fails once the public port is gone; finish() must then say so.
  EXPECT_TRUE(eventually([&] { return b.failed(); }, 20s));
  EXPECT_FALSE(b.finish());
}

TEST(Bystander, FailsOnAStall) {
  Harness h;
  h.start_server();
  Bystander::Options options;
  options.max_stall = std::chrono::milliseconds(300);
  Bystander b(h, options);
  ASSERT_TRUE(eventually([&] { return b.rounds() >= 5; }, 20s));
  // Holding the loop thread stalls every tunnel of this server.
  h.on_loop([] { std::this_thread::sleep_for(std::chrono::milliseconds(800)); });
  ASSERT_TRUE(eventually([&] { return b.rounds() >= 10; }, 20s));
  EXPECT_FALSE(b.finish());
}

}  // namespace
}  // namespace zlt::test
