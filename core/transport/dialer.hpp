// One asynchronous resolve-then-connect for every client socket: the WebSocket client, the
// TCP endpoints a stream dials and (resolve only) the UDP ones. An IP literal, or
// "localhost" (127.0.0.1), needs no lookup; a name is resolved with getaddrinfo, its
// addresses deduplicated, passed through the caller's AddressCheck (so the address checked is
// the address dialed), then tried in order until one connects. Callers word the failure for
// their peers from a DialFailure, which keeps every address tried with its error.
//
// Destroying a Dialer (or starting it again) abandons what is in flight: no callback follows.
// A callback may destroy the Dialer. Failures found before anything is in flight (a refused
// literal, a socket that cannot be created) are reported from inside connect()/resolve().
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/runtime/uv_handle.hpp"
#include "core/runtime/uv_req.hpp"
#include "core/transport/sockaddr.hpp"

namespace zlt {

// nullopt: `address` may be dialed; otherwise why not.
using AddressCheck = std::function<std::optional<std::string>(const SockAddr& address)>;
// A header a dialed endpoint puts ahead of the stream's bytes (a PROXY protocol header), made
// from the address it connected to; empty: nothing.
using DialHeader = std::function<std::string(const SockAddr& connected)>;

struct DialFailure {
  enum class Stage {
    resolve,  // the name did not resolve (uv_code), or to no IPv4/IPv6 address (uv_code 0)
    check,    // every address was refused by the AddressCheck (refusal: the first reason)
    connect,  // every address was tried (attempts)
  };
  struct Attempt {
    SockAddr address;
    int uv_code = 0;
  };
  Stage stage = Stage::resolve;
  std::string host;
  int uv_code = 0;  // resolve: getaddrinfo's error; connect: the last attempt's
  std::string refusal;
  std::vector<Attempt> attempts;

  // "127.0.0.1:1: connection refused (ECONNREFUSED)", several joined by "; ".
  std::string attempts_text() const;
};

class Dialer {
 public:
  using Connected = std::function<void(UvHandle<uv_tcp_t> socket, const SockAddr& peer)>;
  using Resolved = std::function<void(std::vector<SockAddr> addresses)>;
  using Failed = std::function<void(const DialFailure& failure)>;

  explicit Dialer(uv_loop_t* loop) : loop_(loop) {}
  ~Dialer() = default;
  Dialer(const Dialer&) = delete;
  Dialer& operator=(const Dialer&) = delete;

  // Resolves host and connects a TCP socket to the first permitted address that answers.
  // The socket comes with no data pointer and no reading started.
  void connect(std::string host, std::uint16_t port, AddressCheck check, Connected connected,
               Failed failed);
  // Resolves only (UDP): every permitted address, in getaddrinfo's order.
  void resolve(std::string host, std::uint16_t port, AddressCheck check, Resolved resolved,
               Failed failed);

  void abandon();
  bool busy() const { return lookup_.in_flight() || connecting_.in_flight(); }

 private:
  static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  static void on_connected(uv_connect_t* req, int status);
  void begin(std::string host, std::uint16_t port, int socktype, AddressCheck check, Failed failed);
  void have_addresses();
  void connect_next();
  void fail();

  uv_loop_t* loop_;
  std::string host_;
  std::uint16_t port_ = 0;
  AddressCheck check_;
  Connected connected_;
  Resolved resolved_;
  Failed failed_;
  std::vector<SockAddr> addresses_;
  std::size_t next_ = 0;
  DialFailure failure_;
  UvHandle<uv_tcp_t> socket_;
  UvReq<uv_getaddrinfo_t, Dialer> lookup_;
  UvReq<uv_connect_t, Dialer> connecting_;
};

}  // namespace zlt
