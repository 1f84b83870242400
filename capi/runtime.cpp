// zlt_runtime: a Runtime plus what its objects share with it.
#include <utility>

#include "capi/capi.hpp"

using namespace zlt::capi;

extern "C" {

ZLT_EXPORT int zlt_runtime_new(zlt_runtime** out) {
  return guard([&] {
    if (out == nullptr) return invalid("zlt_runtime_new", "out must not be NULL");
    *out = nullptr;
    auto handle = std::make_unique<zlt_runtime>();
    handle->core = std::make_shared<RuntimeCore>();
    auto runtime = zlt::Runtime::start("zlt-runtime");
    if (!runtime) return fail(runtime.error());
    RuntimeCore& core = *handle->core;
    core.runtime = std::move(*runtime);
    // On failure the handle's destructor stops the runtime again.
    const int rc = run_on_loop(core, [&core]() -> zlt::Status {
      core.deferred = std::make_unique<zlt::DeferredDelete>(core.runtime->loop());
      return {};
    });
    if (rc != ZLT_OK) return rc;
    *out = handle.release();
    return ZLT_OK;
  });
}

ZLT_EXPORT int zlt_runtime_free(zlt_runtime* rt) {
  if (rt == nullptr) return ZLT_OK;
  return guard([&] {
    std::shared_ptr<RuntimeCore> core = rt->core;
    if (core->runtime->on_loop_thread())
      return invalid("zlt_runtime_free",
                     "cannot free a runtime from inside one of its callbacks (its loop thread "
                     "cannot join itself); free it from another thread");
    // Objects still alive are torn down while the loop still runs them; their handles stay
    // with the host, inert, until their own free functions release the memory.
    (void)core->runtime->invoke([&core]() noexcept {
      core->closing = true;
      auto live = std::move(core->live);
      core->live.clear();
      for (Object* object : live) object->destroy();
      // What is still queued goes now, while the loop runs: the events (dropped, as every
      // object is silenced) and the handles freed inside callbacks (destroyed). Flushed before
      // it is destroyed, so that anything queued meanwhile still finds it.
      if (core->deferred) core->deferred->flush();
      core->deferred.reset();
    });
    core->runtime->stop();
    std::unique_ptr<zlt_runtime> handle(rt);  // only once nothing above can fail
    return ZLT_OK;
  });
}

}  // extern "C"
