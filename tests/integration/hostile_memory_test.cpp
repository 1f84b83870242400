// Memory, by real bytes: peers that make the other end buffer for them get a bounded queue,
// then a disconnect ("slow consumer"); one-byte messages cost about a byte; above the process
// budget new streams are refused ("server busy").
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "core/common/chunk.hpp"
#include "core/crypto/crypto.hpp"
#include "support/bystander.hpp"
#include "support/harness.hpp"
#include "support/net.hpp"
#include "support/raw_ws.hpp"

namespace zlt::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// One complete WebSocket frame carrying `message`: masked (with a zero key, which leaves the
// payload as it is) from a client, plain from a server.
std::string frame_of(const std::string& message, bool masked) {
  std::string f;
  f.push_back(static_cast<char>(0x82));
  const std::uint8_t mask_bit = masked ? 0x80 : 0;
  if (message.size() < 126) {
    f.push_back(static_cast<char>(mask_bit | message.size()));
  } else {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>(message.size() >> 8));
    f.push_back(static_cast<char>(message.size() & 0xff));
  }
  if (masked) f.append(4, '\0');
  return f + message;
}

// Keeps a WebSocket peer's socket full of one frame, repeated, without ever blocking: what the
// socket does not take stays queued here (never half a frame lost).
class Flooder {
 public:
  Flooder(int fd, std::string frame) : fd_(fd), frame_(std::move(frame)) {}

  // Queues `count` more frames (while little is pending) and sends what the socket takes
  // within `wait`.
  void pump(std::size_t count, std::chrono::milliseconds wait = 20ms) {
    if (pending_.size() < (1u << 20))
      for (std::size_t i = 0; i < count; ++i) pending_ += frame_;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return;
    while (!pending_.empty()) {
      ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) return;
      pending_.erase(0, static_cast<std::size_t>(n));
      sent_ += static_cast<std::size_t>(n);
    }
  }
  std::size_t frames_sent() const { return sent_ / frame_.size(); }

 private:
  int fd_;
  std::string frame_;
  std::string pending_;
  std::size_t sent_ = 0;
};

void shrink_receive_buffer(int fd) {
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
}

// The attacker's token: the harness's own token is the bystander's.
constexpr const char* kAttackerToken = "attacker-token";

// The status of the attacker's tunnel (null when there is none).
nlohmann::json tunnel_status(Harness& h) {
  nlohmann::json s = h.server_status();
  for (const auto& t : s.value("tunnels", nlohmann::json::array()))
    if (t.value("name", nlohmann::json()) == "attacker") return t;
  return nlohmann::json();
}

std::size_t figure(const nlohmann::json& j, const char* key) {
  return j.is_object() && j.contains(key) ? j[key].get<std::size_t>() : 0;
}

config::TunnelServerConfig quiet_server_config() {
  config::TunnelServerConfig c = Harness::server_config();
  // No liveness verdicts during the test: only the queue rules decide.
  c.heartbeat_interval = 30s;
  c.heartbeat_timeout = 60s;
  config::TokenEntry attacker;
  attacker.name = "attacker";
  attacker.sha256 = crypto::hash_token(kAttackerToken);
  c.tokens.push_back(attacker);
  return c;
}

// Floods `flood` (a peer that never reads) with Heartbeats, as long as the other end reads
// them (its kernel buffers fill first, then its queue), until `status()` says the other end is
// ending the session. Returns the largest queued_bytes seen on the way, or nullopt if the
// session did not end within the bounded flood.
template <class Status>
std::optional<std::size_t> flood_until_ending(RawWs& flood, bool masked, Status status) {
  shrink_receive_buffer(flood.fd());
  Flooder f(flood.fd(), frame_of(bytes_of(proto::Heartbeat{1}), masked));
  std::size_t max_queued = 0;
  bool throttled = false;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    f.pump(4000);
    nlohmann::json q = status();
    max_queued = std::max(max_queued, figure(q, "queued_bytes"));
    throttled = throttled || (q.is_object() && q.value("throttled", false));
    if (q.is_object() && q.value("ending", false)) return max_queued;
  }
  ADD_FAILURE() << "session still open after " << f.frames_sent() << " heartbeats ("
                << (throttled ? "throttled" : "never throttled") << "); queued " << max_queued;
  return std::nullopt;
}

// Reads what `peer` was sent until the close or the end of the connection. The Disconnect and
// the close frame wait behind everything queued, and a peer whose own bytes were never read
// gets a reset that may discard them; what does arrive must say "slow consumer".
void read_to_slow_consumer_end(RawWs& peer) {
  auto close = peer.wait_close(15s);
  ASSERT_TRUE(close.has_value() || peer.eof())
      << "connection still open; " << peer.skipped.size() << " messages read";
  if (close) {
    EXPECT_EQ(close->reason, "slow consumer");
  }
  if (peer.skipped.empty()) return;
  auto last = decode_message(peer.skipped.back());
  if (auto* bye = last ? std::get_if<proto::Disconnect>(&*last) : nullptr) {
    EXPECT_EQ(bye->reason, "slow consumer");
  }
}

}  // namespace

// A peer that never reads its WebSocket and keeps sending Heartbeats: the server's queue for it
// stays at max_session_queue (plus one message), and after slow_peer_timeout it is gone.
TEST(HostileMemory, HeartbeatFloodIsBoundedAndSlowPeerDisconnected) {
  Harness h;
  config::TunnelServerConfig c = quiet_server_config();
  c.max_session_queue = 256u << 10;
  c.slow_peer_timeout = 1500ms;
  h.start_server(c);
  Bystander bystander(h);
  // A peer with little kernel buffering, so the server's queue is what fills.
  auto ws = RawWs::connect(h.control_port(), "/tunnel/v1", 4096);
  ASSERT_TRUE(ws && ws->is_open());
  auto answer = ws->authenticate(kAttackerToken, test_u1());
  ASSERT_TRUE(answer && decode_as<proto::AuthOk>(*answer));

  auto max_queued = flood_until_ending(*ws, true, [&] { return tunnel_status(h); });
  ASSERT_TRUE(max_queued.has_value());
  EXPECT_LE(*max_queued, c.max_session_queue + Chunk::kMaxFootprint);
  EXPECT_GT(*max_queued, c.max_session_queue / 2);  // the flood did reach the cap
  read_to_slow_consumer_end(*ws);
  auto gone = h.server_events().wait_event("tunnel_disconnected", 15s);
  ASSERT_TRUE(gone.has_value());
  EXPECT_THAT((*gone)["reason"].get<std::string>(), HasSubstr("slow consumer"));
  EXPECT_TRUE(bystander.finish());
}

// An agent that fills a public client's socket buffers and then spends the rest of its window
// on one-byte Data messages: the server holds about a byte per byte, within the window plus
// one chunk.
TEST(HostileMemory, OneByteDataFloodHoldsRealBytesWithinWindow) {
  Harness h;
  h.start_server(quiet_server_config());
  Bystander bystander(h);
  auto agent = open_session(h.control_port(), kAttackerToken);
  ASSERT_TRUE(agent);
  ASSERT_TRUE(agent->send(proto::Register{"flood", proto::ServiceProtocol::tcp, 1, 0, {}}));
  auto reg = agent->expect<proto::RegisterOk>();
  ASSERT_TRUE(reg && reg->assigned_port && *reg->assigned_port != 0);

  Fd client = tcp_connect(*reg->assigned_port);  // never reads
  ASSERT_TRUE(client);
  shrink_receive_buffer(client.get());
  auto conn = agent->expect<proto::Connect>();
  ASSERT_TRUE(conn);
  const Uuid id = conn->connection_id;
  ASSERT_TRUE(agent->send(proto::ConnectAck{id}));

  std::uint64_t credit = proto::kInitialWindow;
  std::uint64_t sent = 0;
  auto take_updates = [&](std::chrono::milliseconds wait) {
    while (auto m = agent->next_message(wait)) {
      wait = 0ms;
      auto decoded = decode_message(*m);
      if (!decoded) continue;
      if (auto* w = std::get_if<proto::WindowUpdate>(&*decoded)) credit += w->increment;
    }
  };
  auto stream_held = [&] {
    nlohmann::json t = tunnel_status(h);
    return figure(t, "held_bytes") - figure(t, "queued_bytes");
  };

  // Fill the client's socket buffers with large messages until the server holds bytes for it.
  // A quarter of the window always stays unspent, so the server never grows the window.
  const std::string big(16384, 'x');
  const auto* big_bytes = reinterpret_cast<const std::uint8_t*>(big.data());
  bool holding = false;
  for (int i = 0; i < 4000 && !holding; ++i) {
    take_updates(0ms);
    if (credit >= big.size() + proto::kInitialWindow / 4) {
      ASSERT_TRUE(agent->send(proto::Data{id, {big_bytes, big.size()}}));
      credit -= big.size();
      sent += big.size();
    } else {
      take_updates(20ms);
    }
    holding = stream_held() > 0;
  }
  ASSERT_TRUE(holding) << "the client's socket took " << sent << " bytes";

  // The rest of the window (bounded) in one-byte messages, sent in one go.
  const std::uint8_t one = 'y';
  const std::size_t ones = std::min<std::uint64_t>(credit, 4096);
  std::string burst;
  for (std::size_t i = 0; i < ones; ++i)
    burst += frame_of(bytes_of(proto::Data{id, {&one, 1}}), true);
  ASSERT_TRUE(agent->send_raw(burst));
  sent += ones;
  ASSERT_TRUE(eventually([&] {
    return figure(tunnel_status(h)["traffic"], "bytes_in") == sent;
  })) << "the server did not receive all " << sent << " bytes";

  const std::size_t held = stream_held();
  EXPECT_GE(held, ones);
  EXPECT_LE(held, proto::kInitialWindow + Chunk::kMaxFootprint)
      << "held " << held << " real bytes for at most " << proto::kInitialWindow << " of payload";
  EXPECT_TRUE(bystander.finish());
}

// Above max_buffered_bytes process-wide, new streams are refused: an Open gets
// ConnectFail{"server busy"} and a new public connection is closed.
TEST(HostileMemory, ProcessBudgetRefusesNewStreams) {
  Harness h;
  config::TunnelServerConfig c = quiet_server_config();
  // Far below one session's queue cap (2 MiB): how far a flood's replies pile up before the
  // transport stops reading depends on timing (at times it stalls near 64 KiB), and the flood
  // must cross the budget whatever the pace.
  c.max_buffered_bytes = 32u << 10;
  config::TokenEntry second;
  second.name = "flood";
  second.sha256 = crypto::hash_token("flood-token");
  c.tokens.push_back(second);
  h.start_server(c);
  auto opener = open_session(h.control_port(), Harness::kToken);
  ASSERT_TRUE(opener);
  ASSERT_TRUE(opener->send(proto::Register{"web", proto::ServiceProtocol::tcp, 1, 0, {}}));
  auto reg = opener->expect<proto::RegisterOk>();
  ASSERT_TRUE(reg && reg->assigned_port && *reg->assigned_port != 0);

  // Within the budget, an Open is answered by the policy.
  ASSERT_TRUE(opener->send(proto::Open{test_u1(), proto::ServiceProtocol::tcp, "127.0.0.1:9"}));
  auto before = opener->expect<proto::ConnectFail>();
  ASSERT_TRUE(before);
  EXPECT_NE(before->reason, "server busy");

  // A second session that never reads fills its queue past the process budget. The queue
  // dips below the budget whenever the kernel takes a burst of replies, so each probe below
  // first pumps until the budget is crossed and is retried (a bounded number of times) when
  // it lands in such a dip.
  auto flood = open_session(h.control_port(), "flood-token");
  ASSERT_TRUE(flood);
  Flooder f(flood->fd(), frame_of(bytes_of(proto::Heartbeat{1}), true));
  shrink_receive_buffer(flood->fd());
  auto over_budget = [&] {
    return h.server_status().value("buffered_bytes", std::size_t{0}) > c.max_buffered_bytes;
  };
  auto cross_budget = [&] {
    for (int i = 0; i < 2000 && !over_budget(); ++i) f.pump(4000);
    return over_budget();
  };

  bool open_refused = false;
  for (std::uint8_t attempt = 0; attempt < 50 && !open_refused; ++attempt) {
    ASSERT_TRUE(cross_budget()) << "the flood never crossed max_buffered_bytes";
    Uuid id = test_u2();
    id.bytes[15] = attempt;
    ASSERT_TRUE(opener->send(proto::Open{id, proto::ServiceProtocol::tcp, "127.0.0.1:9"}));
    auto during = opener->expect<proto::ConnectFail>();
    ASSERT_TRUE(during);
    EXPECT_EQ(during->connection_id, id);
    open_refused = during->reason == "server busy";
  }
  EXPECT_TRUE(open_refused) << "no Open was refused with \"server busy\"";

  bool public_refused = false;
  for (int attempt = 0; attempt < 20 && !public_refused; ++attempt) {
    ASSERT_TRUE(cross_budget()) << "the flood never crossed max_buffered_bytes";
    Fd client = tcp_connect(*reg->assigned_port);
    ASSERT_TRUE(client);
    public_refused = wait_closed(client.get(), 500ms);
  }
  EXPECT_TRUE(public_refused) << "a public connection was accepted while busy";
  // No bystander here: above the process budget every new stream is refused, a bystander's
  // too; that is the budget's purpose.
}

// The agent applies the same rule toward a server that never reads: its queue stays capped and
// after slow_peer_timeout it leaves with "slow consumer".
TEST(HostileMemory, AgentDisconnectsNonReadingServer) {
  Harness h;
  std::uint16_t port = 0;
  Fd listener = tcp_listen(&port);
  ASSERT_TRUE(listener);
  config::TunnelClientConfig cc = h.client_config();
  cc.server_url = "ws://127.0.0.1:" + std::to_string(port) + "/tunnel/v1";
  cc.max_session_queue = 64u << 10;
  cc.slow_peer_timeout = 1s;
  cc.heartbeat_interval = 30s;
  cc.heartbeat_timeout = 60s;
  h.start_agent(cc);

  auto server = RawWs::accept(listener.get());
  ASSERT_TRUE(server);
  auto auth = server->expect<proto::Auth>();
  ASSERT_TRUE(auth);
  ASSERT_TRUE(server->send(
      proto::AuthOk{test_u1(), proto::V2Trailer{proto::kProtoVersion2, proto::feature::kAll}}));
  ASSERT_TRUE(h.agent_events().wait_event("authenticated"));

  auto queue = [&] { return h.agent_status().value("queue", nlohmann::json::object()); };
  auto max_queued = flood_until_ending(*server, false, queue);
  ASSERT_TRUE(max_queued.has_value()) << "the agent kept a server that does not read";
  EXPECT_LE(*max_queued, cc.max_session_queue + Chunk::kMaxFootprint);
  auto gone = h.agent_events().wait_event("disconnected", 15s);
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ((*gone)["reason"], "slow consumer");
}

}  // namespace zlt::test
