// Traffic accounting shared by streams, services and tunnels. "in" is what arrived from the
// tunnel (the far side) and went to a local socket; "out" is what a local socket produced and
// went into the tunnel.
#pragma once

#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

namespace zlt {

struct Counters {
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t datagrams_in = 0;
  std::uint64_t datagrams_out = 0;
  std::uint64_t drops = 0;  // datagrams dropped (congestion, full queues)
  std::uint64_t streams_active = 0;
  std::uint64_t streams_total = 0;

  Counters& operator+=(const Counters& o) {
    bytes_in += o.bytes_in;
    bytes_out += o.bytes_out;
    datagrams_in += o.datagrams_in;
    datagrams_out += o.datagrams_out;
    drops += o.drops;
    streams_active += o.streams_active;
    streams_total += o.streams_total;
    return *this;
  }

  nlohmann::json to_json() const {
    return {{"bytes_in", bytes_in},         {"bytes_out", bytes_out},
            {"datagrams_in", datagrams_in}, {"datagrams_out", datagrams_out},
            {"drops", drops},               {"streams_active", streams_active},
            {"streams_total", streams_total}};
  }
};

// The counters one stream feeds: its own, its service's and its tunnel's. Service and tunnel
// counters are shared so a stream may outlive the service it came from.
struct CounterChain {
  Counters own;
  std::shared_ptr<Counters> service;
  std::shared_ptr<Counters> tunnel;

  template <class F>
  void apply(F&& f) {
    f(own);
    if (service) f(*service);
    if (tunnel) f(*tunnel);
  }
};

}  // namespace zlt
