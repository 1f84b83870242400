#include "support/uv_loop_fixture.hpp"

#include "core/runtime/uv_handle.hpp"
#include "support/subprocess.hpp"

namespace zlt::test {
namespace {

template <class H>
void stop_when_done(H* h) {
  if (h->data != nullptr && (*static_cast<const std::function<bool()>*>(h->data))())
    uv_stop(h->loop);
}

}  // namespace

void UvLoopTest::SetUp() {
  ignore_sigpipe();
  ASSERT_EQ(uv_loop_init(&loop_), 0);
}

void UvLoopTest::TearDown() {
  release();
  EXPECT_TRUE(run_to_completion()) << "handles still active at the end of the test";
  EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles left open";
}

bool UvLoopTest::run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  if (done()) return true;
  bool expired = false;
  {
    // The condition is checked right before the loop would block and right after it woke
    // up, so a condition met inside a timer callback does not wait for the next event.
    UvHandle<uv_prepare_t> before;
    UvHandle<uv_check_t> after;
    before.init(uv_prepare_init, &loop_);
    after.init(uv_check_init, &loop_);
    before.set_data(const_cast<std::function<bool()>*>(&done));
    after.set_data(const_cast<std::function<bool()>*>(&done));
    uv_prepare_start(before.get(), [](uv_prepare_t* h) { stop_when_done(h); });
    uv_check_start(after.get(), [](uv_check_t* h) { stop_when_done(h); });
    Timer deadline(&loop_);
    deadline.start(timeout, [this, &expired] {
      expired = true;
      uv_stop(&loop_);
    });
    while (!done() && !expired) uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_run(&loop_, UV_RUN_NOWAIT);  // lets the helper handles' close callbacks run
  return done();
}

void UvLoopTest::run_for(std::chrono::milliseconds duration) {
  run_until([] { return false; }, duration);
}

bool UvLoopTest::run_to_completion(std::chrono::milliseconds timeout) {
  // A timer that does not keep the loop alive by itself bounds the wait.
  bool expired = false;
  {
    Timer deadline(&loop_);
    deadline.unref();
    deadline.start(timeout, [&expired] { expired = true; });
    while (!expired && uv_run(&loop_, UV_RUN_ONCE) != 0) {
    }
  }
  uv_run(&loop_, UV_RUN_NOWAIT);
  return !expired;
}

}  // namespace zlt::test
