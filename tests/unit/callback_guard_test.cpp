// No exception crosses into C: guarded callbacks log it and recover; the runtime's command
// queue survives a throwing command, and invoke() hands the exception to its caller.
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/runtime/runtime.hpp"

namespace zlt {
namespace {

class ErrorLines {
 public:
  ErrorLines() {
    Log::set_sink([this](const LogRecord& r) {
      std::lock_guard lock(mu_);
      if (r.level == LogLevel::error) lines_.emplace_back(r.message);
    });
  }
  ~ErrorLines() { Log::set_sink(nullptr); }
  std::vector<std::string> lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

int throwing_callback(int value) {
  if (value > 0) throw std::runtime_error("bad value");
  return 7;
}

TEST(CallbackGuard, ReturnsWhatRecoverGivesAndLogsWhere) {
  ErrorLines errors;
  bool recovered = false;
  int rc = guard_callback(
      "test", []() -> int { throw std::runtime_error("boom"); },
      [&] {
        recovered = true;
        return -1;
      });
  EXPECT_EQ(rc, -1);
  EXPECT_TRUE(recovered);
  EXPECT_EQ(errors.lines(), std::vector<std::string>{"exception in test callback: boom"});
  EXPECT_EQ(guard_callback("test", [] { return 3; }, [] { return -1; }), 3);
}

TEST(CallbackGuard, GuardedFunctionPointersKeepTheSignature) {
  ErrorLines errors;
  int (*cb)(int) = guarded<&throwing_callback, "numbers">;
  EXPECT_EQ(cb(0), 7);
  EXPECT_EQ(cb(1), 0);  // value-initialised result after the exception
  void (*lambda)(int*) = guarded_lambda<"lambda">([](int* p) {
    if (p == nullptr) throw std::logic_error("null");
    *p = 1;
  });
  int x = 0;
  lambda(&x);
  lambda(nullptr);
  EXPECT_EQ(x, 1);
  EXPECT_EQ(errors.lines(), (std::vector<std::string>{"exception in numbers callback: bad value",
                                                      "exception in lambda callback: null"}));
}

TEST(CallbackGuard, RuntimeCommandsSurviveOneThatThrows) {
  ErrorLines errors;
  auto rt = Runtime::start("guard-test");
  ASSERT_TRUE(rt);
  std::promise<void> after;
  ASSERT_TRUE((*rt)->post([] { throw std::runtime_error("command failed"); }));
  ASSERT_TRUE((*rt)->post([&after] { after.set_value(); }));
  EXPECT_EQ(after.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_THROW((*rt)->invoke([] { throw std::out_of_range("to the caller"); }),
               std::out_of_range);
  EXPECT_EQ(errors.lines(),
            std::vector<std::string>{"exception in runtime command callback: command failed"});
}

}  // namespace
}  // namespace zlt
