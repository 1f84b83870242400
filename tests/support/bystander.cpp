#include "support/bystander.hpp"

#include <sys/socket.h>

#include <utility>

namespace zlt::test {

Bystander::Bystander(Harness& harness) : Bystander(harness, Options{}) {}

Bystander::Bystander(Harness& harness, Options options) : options_(std::move(options)) {
  harness.start_agent({config::ServiceConfig::tcp(options_.service, echo_.port())});
  public_port_ = harness.public_port(options_.service, harness.agent_count() - 1);
  if (public_port_ == 0) {
    fail("the bystander's service never registered");
    return;
  }
  thread_ = std::thread([this] { run(); });
  // A test that attacks at once and finishes quickly still sees at least one whole round.
  if (!eventually([this] { return rounds_ > 0 || failed(); }, 10s))
    fail("no round completed within 10 s of starting");
}

Bystander::~Bystander() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Bystander::fail(std::string why) {
  std::lock_guard lock(mu_);
  if (failure_.empty()) failure_ = std::move(why);
  stop_ = true;
}

void Bystander::run() {
  std::uint64_t seed = 1;
  auto last_round = std::chrono::steady_clock::now();
  while (!stop_) {
    Fd fd = tcp_connect(public_port_);
    if (!fd) return fail("connect to the bystander's public port failed");
    set_timeouts(fd.get(), 5s);
    for (int i = 0; i < options_.rounds_per_connection && !stop_; ++i) {
      const std::string block = pattern_bytes(options_.block, seed++);
      if (!send_all(fd.get(), block)) return fail("send failed in round " + std::to_string(rounds_));
      auto back = recv_exact(fd.get(), block.size());
      if (!back) return fail("echo incomplete in round " + std::to_string(rounds_));
      if (fnv1a(back->data(), back->size()) != fnv1a(block.data(), block.size()))
        return fail("echoed bytes differ in round " + std::to_string(rounds_));
      bytes_verified_ += block.size();
      ++rounds_;
      auto now = std::chrono::steady_clock::now();
      {
        std::lock_guard lock(mu_);
        longest_stall_ = std::max(longest_stall_, now - last_round);
      }
      last_round = now;
    }
    ::shutdown(fd.get(), SHUT_WR);
  }
}

::testing::AssertionResult Bystander::finish() {
  // One more whole round after the attack, so a test that attacks faster than an echo round
  // still shows that the tunnel works afterwards.
  const std::uint64_t before = rounds_;
  if (!eventually([&] { return rounds_ > before || failed(); }, options_.max_stall + 10s))
    fail("no round completed after the attack");
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  auto stall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(longest_stall_).count();
  if (!failure_.empty())
    return ::testing::AssertionFailure() << "bystander: " << failure_ << " (after "
                                         << bytes_verified_ << " bytes verified)";
  if (rounds_ == 0) return ::testing::AssertionFailure() << "bystander: no round completed";
  if (longest_stall_ > options_.max_stall)
    return ::testing::AssertionFailure()
           << "bystander: stalled for " << stall_ms << " ms (limit "
           << options_.max_stall.count() << " ms)";
  return ::testing::AssertionSuccess() << "bystander: " << rounds_ << " rounds, "
                                       << bytes_verified_ << " bytes verified, longest gap "
                                       << stall_ms << " ms";
}

}  // namespace zlt::test
