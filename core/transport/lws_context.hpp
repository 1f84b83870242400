// The runtime's libwebsockets context (internal to transport/). One per runtime, created on
// first use, destroyed with the runtime following the foreign-loop recipe: destroy once while
// the loop runs, let the loop drain, destroy again after uv_run has returned.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/common/error.hpp"
#include "core/runtime/runtime.hpp"

struct lws;
struct lws_context;

namespace zlt {

class LwsContext final : public Runtime::Participant {
 public:
  // Loop-thread only.
  static Result<LwsContext*> get(Runtime& runtime);
  ~LwsContext() override;

  lws_context* context() const { return context_; }
  uv_loop_t* loop() const { return loop_; }

  // Which object serves a connection. libwebsockets may move a connection between vhosts
  // (it picks a vhost by Host header and port, and ours share one), so the owner is recorded
  // per connection rather than per vhost.
  void set_owner(lws* wsi, void* owner) { owners_[wsi] = owner; }
  void* owner(lws* wsi) const {
    auto it = owners_.find(wsi);
    return it == owners_.end() ? nullptr : it->second;
  }
  void forget(lws* wsi) { owners_.erase(wsi); }
  // The owner is going away: its connections keep being served by libwebsockets until they
  // close, but reach nobody.
  void forget_owner(void* owner) { std::erase_if(owners_, [owner](const auto& e) { return e.second == owner; }); }
  static LwsContext* of(lws* wsi);
  // A copy of `text` that lives as long as the context: libwebsockets keeps pointers to vhost
  // names and file paths, and a destroyed vhost lingers until its connections are gone.
  const char* keep(std::string text) { return kept_.emplace_back(std::move(text)).c_str(); }

  void shutdown() override;
  void finalize() override;

 private:
  LwsContext() = default;
  lws_context* context_ = nullptr;  // libwebsockets clears it when the context is gone
  // libwebsockets 4.1.6 closes its wake-up eventfd twice while tearing down (upstream issue
  // #2514): once in lws_context_destroy and again when the loop closes the pipe's handle. A
  // descriptor another thread opens in between would be closed under it. We keep the number
  // pointing at the eventfd until the second close (see shutdown()).
  int pipe_fd_ = -1;
  uv_loop_t* loop_ = nullptr;
  std::unordered_map<lws*, void*> owners_;
  std::deque<std::string> kept_;
};

}  // namespace zlt
