// RAII for libuv requests, beside UvHandle (uv_handle.hpp). A request in flight belongs to
// libuv until its callback runs, and that callback may come after the object that started it
// is gone (a resolve finishing after its client was destroyed, a write completing with
// UV_ECANCELED after its socket was closed). A UvReq is the owner's member for one request in
// flight: the request lives on the heap with a pointer back to its owner, and destroying or
// abandoning the UvReq clears that pointer (and cancels the request where libuv can), so the
// callback frees the request and calls nobody.
#pragma once

#include <uv.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace zlt {

struct NoReqExtra {};

// Req: the libuv request type (uv_getaddrinfo_t, uv_connect_t, uv_write_t, ...). Owner: whom
// the callback reaches. Extra: what must live exactly as long as the request (the buffers of
// a write).
template <class Req, class Owner, class Extra = NoReqExtra>
class UvReq {
 public:
  struct Node {
    Req req{};
    Owner* owner = nullptr;  // null once abandoned
    UvReq* slot = nullptr;
    Extra extra{};
  };

  UvReq() = default;
  ~UvReq() { abandon(); }
  UvReq(const UvReq&) = delete;
  UvReq& operator=(const UvReq&) = delete;

  // A fresh request for `owner`, not yet in flight (any earlier one is abandoned). Fill its
  // extra, then hand node.req to libuv and call sent() if libuv took it; a request never sent
  // is freed by the next prepare(), abandon() or the destructor.
  Node& prepare(Owner* owner) {
    abandon();
    unsent_ = std::make_unique<Node>();
    unsent_->owner = owner;
    unsent_->slot = this;
    unsent_->req.data = unsent_.get();
    return *unsent_;
  }
  // libuv accepted the prepared request: it owns it until the callback.
  void sent() { in_flight_ = unsent_.release(); }

  // Starts a request in one step: submit(Req*) returns libuv's result; 0 means in flight.
  template <class Submit>
  int start(Owner* owner, Submit&& submit) {
    Node& node = prepare(owner);
    int rc = std::forward<Submit>(submit)(&node.req);
    if (rc == 0) {
      sent();
    } else {
      unsent_.reset();
    }
    return rc;
  }

  // In the libuv callback: takes the request back from libuv (it is freed with the returned
  // pointer). Its owner is null when the request was abandoned: then the callback must return.
  static std::unique_ptr<Node> complete(Req* req) {
    std::unique_ptr<Node> node(static_cast<Node*>(req->data));
    if (node->owner != nullptr) node->slot->in_flight_ = nullptr;
    return node;
  }

  // The callback of the request in flight (if any) will reach nobody. Resolves and other
  // thread-pool requests are cancelled; a connect or write ends when its handle is closed.
  void abandon() {
    unsent_.reset();
    if (in_flight_ == nullptr) return;
    in_flight_->owner = nullptr;
    if constexpr (std::is_same_v<Req, uv_getaddrinfo_t> || std::is_same_v<Req, uv_work_t>)
      uv_cancel(reinterpret_cast<uv_req_t*>(&in_flight_->req));
    in_flight_ = nullptr;
  }

  bool in_flight() const { return in_flight_ != nullptr; }
  Extra* extra() { return in_flight_ != nullptr ? &in_flight_->extra : nullptr; }

 private:
  std::unique_ptr<Node> unsent_;
  Node* in_flight_ = nullptr;  // owned by libuv until its callback
};

}  // namespace zlt
