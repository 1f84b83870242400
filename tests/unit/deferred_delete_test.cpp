#include "core/runtime/deferred_delete.hpp"

#include <gtest/gtest.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

namespace zlt {
namespace {

struct Loop {
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);  // lets closed handles free themselves
    uv_loop_close(&loop);
  }
  uv_loop_t loop{};
};

struct Tracked {
  Tracked(std::vector<std::string>& log, std::string name) : log(log), name(std::move(name)) {}
  ~Tracked() { log.push_back(name); }
  std::vector<std::string>& log;
  std::string name;
};

TEST(DeferredDelete, DestroysAtTheNextTurnNotBefore) {
  Loop l;
  std::vector<std::string> log;
  {
    DeferredDelete graveyard(&l.loop);
    graveyard.later(std::make_unique<Tracked>(log, "a"));
    graveyard.later(std::make_unique<Tracked>(log, "b"));
    EXPECT_TRUE(log.empty());
    EXPECT_EQ(graveyard.pending(), 2u);
    uv_run(&l.loop, UV_RUN_NOWAIT);
    EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(graveyard.pending(), 0u);
  }
}

TEST(DeferredDelete, TheIdleHandleDoesNotKeepTheLoopAliveOnceEmpty) {
  Loop l;
  std::vector<std::string> log;
  DeferredDelete graveyard(&l.loop);
  graveyard.later(std::make_unique<Tracked>(log, "a"));
  // UV_RUN_DEFAULT returns only when nothing is active: the idle handle stops itself.
  uv_run(&l.loop, UV_RUN_DEFAULT);
  EXPECT_EQ(log, std::vector<std::string>{"a"});
}

TEST(DeferredDelete, ObjectsBuriedByADestructorGoAtTheFollowingTurn) {
  Loop l;
  std::vector<std::string> log;
  DeferredDelete graveyard(&l.loop);
  struct Burier {
    Burier(DeferredDelete& g, std::vector<std::string>& log) : g(g), log(log) {}
    ~Burier() {
      log.push_back("burier");
      g.later(std::make_unique<Tracked>(log, "buried"));
    }
    DeferredDelete& g;
    std::vector<std::string>& log;
  };
  graveyard.later(std::make_unique<Burier>(graveyard, log));
  uv_run(&l.loop, UV_RUN_NOWAIT);
  EXPECT_EQ(log, std::vector<std::string>{"burier"});
  EXPECT_EQ(graveyard.pending(), 1u);
  uv_run(&l.loop, UV_RUN_NOWAIT);
  EXPECT_EQ(log, (std::vector<std::string>{"burier", "buried"}));
}

TEST(DeferredDelete, DestructorAndFlushFreeEverythingPendingInOrder) {
  Loop l;
  std::vector<std::string> log;
  {
    DeferredDelete graveyard(&l.loop);
    graveyard.later(std::make_unique<Tracked>(log, "a"));
    graveyard.later_run([&] { log.push_back("run"); });
    graveyard.later(std::make_unique<Tracked>(log, "b"));
    graveyard.flush();
    EXPECT_EQ(log, (std::vector<std::string>{"a", "run", "b"}));
    graveyard.later(std::make_unique<Tracked>(log, "c"));
  }
  EXPECT_EQ(log.back(), "c");
}

TEST(DeferredDelete, AThrowingTaskDoesNotStopTheOthers) {
  Loop l;
  std::vector<std::string> log;
  DeferredDelete graveyard(&l.loop);
  graveyard.later_run([] { throw std::runtime_error("boom"); });
  graveyard.later(std::make_unique<Tracked>(log, "after"));
  uv_run(&l.loop, UV_RUN_NOWAIT);
  EXPECT_EQ(log, std::vector<std::string>{"after"});
}

}  // namespace
}  // namespace zlt
