// One tunnelled connection (a TCP connection or a UDP peer), named by its connection_id, with
// the flow control of docs/PROTOCOL.md §4.3. A stream joins the session (the far side) to a local
// endpoint (a socket, or another stream when the server splices two sessions).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/common/chunk.hpp"
#include "core/common/uuid.hpp"
#include "core/protocol/message.hpp"
#include "core/runtime/uv_handle.hpp"
#include "core/session/counters.hpp"

namespace zlt {

class Session;
class Stream;

// The local side of a stream. All calls come from the owning Stream on the loop thread.
class StreamEndpoint {
 public:
  virtual ~StreamEndpoint() = default;
  // The stream is acknowledged: start moving bytes.
  virtual void on_open() = 0;
  // Bytes from the far side. The endpoint calls Stream::consumed(n) once n of them have been
  // handed to its socket; until then they count against the far side's window.
  virtual void deliver(std::span<const std::uint8_t> bytes) = 0;
  // One whole datagram from the far side.
  virtual void deliver_datagram(std::span<const std::uint8_t> bytes) { (void)bytes; }
  // Opener only: the far side refused the stream (ConnectFail{reason}); close() follows.
  virtual void on_refused(const std::string& reason) { (void)reason; }
  // The far side sent Eof: shut down the local write side after flushing, then call
  // Stream::local_write_done().
  virtual void deliver_eof() = 0;
  // Sending is possible again (window grew, channel drained): resume reading if paused.
  virtual void on_writable() = 0;
  // The stream is over; close the socket now (abortive: reset instead of an orderly close).
  // No call follows.
  virtual void close(bool abortive) = 0;
  // Bytes accepted by deliver() and not yet handed to the socket.
  virtual std::size_t buffered() const { return 0; }
  // What holding them really costs (the storage they occupy).
  virtual std::size_t held_bytes() const { return buffered(); }
  // The stream is ending, and why (`session_gone`: its whole session ended). Called just
  // before close().
  virtual void on_end(const std::string& why, bool session_gone) {
    (void)why;
    (void)session_gone;
  }
  // A WindowUpdate for this stream arrived. Endpoints that pass flow control through to
  // another stream (a splice) forward it; sockets have nothing to do.
  virtual void on_window_update(std::uint32_t increment) { (void)increment; }
};

class Stream {
 public:
  enum class Role { opener, acceptor };  // who sent Connect/Open
  enum class State { pending, open, ended };

  // Receive window bounds: start at the protocol's initial window, grow while the sender is
  // window-limited and we are not the bottleneck.
  static constexpr std::uint64_t kMaxWindow = 16u << 20;
  // Datagrams held while a datagram stream waits for its ConnectAck (docs/PROTOCOL.md §4.4).
  static constexpr std::size_t kMaxPendingDatagrams = 64;
  static constexpr std::size_t kMaxPendingDatagramBytes = 256u << 10;

  Stream(Session& session, Uuid id, proto::ServiceProtocol protocol, Role role, std::string label);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  const Uuid& id() const { return id_; }
  proto::ServiceProtocol protocol() const { return protocol_; }
  Role role() const { return role_; }
  State state() const { return state_; }
  bool is_datagram() const { return protocol_ == proto::ServiceProtocol::udp; }
  const std::string& label() const { return label_; }  // "web 1.2.3.4:5" for logs
  Session& session() { return session_; }
  CounterChain& counters() { return counters_; }
  const CounterChain& counters() const { return counters_; }

  void set_endpoint(std::unique_ptr<StreamEndpoint> endpoint);
  // Feeds the service's (or access session's) counters too; this stream counts in them from
  // now on, as it already does in its own and its tunnel's.
  void attach_service_counters(std::shared_ptr<Counters> service);
  StreamEndpoint* endpoint() { return endpoint_.get(); }
  // An opener that hears nothing by then gives up with Close{"timeout"}.
  void start_open_timer(std::chrono::milliseconds timeout);
  // Datagram streams end after this long without traffic (Close{"idle"}).
  void set_idle_timeout(std::chrono::milliseconds timeout);

  // ---- called by the endpoint ----
  // How many Data bytes may be sent right now (0: wait for on_writable).
  std::size_t send_allowance() const;
  // Nothing may be sent now: call the endpoint's on_writable once something may.
  void wait_writable();
  // Sends the chunk's content as Data. The chunk must have kFrameHeadroom + 21 bytes of
  // headroom (read into it at Chunk::kPayloadOffset). size <= send_allowance().
  void send_data(ChunkPtr payload);
  // Sends one datagram (dropped and counted if the channel is congested).
  void send_datagram(ChunkPtr payload);
  void send_eof();
  void consumed(std::size_t n);
  void local_write_done();
  // The endpoint failed (socket error, refused connect): Close{reason} to the far side.
  void fail(const std::string& reason);
  // Acceptor only: the local side is ready (ConnectAck) or not (ConnectFail{reason}).
  void accept();
  void refuse(const std::string& reason);

  // ---- called by a splice (relay.hpp): flow control passes through end to end ----
  // Sends bytes as Data whatever the local window says: the far end's window already bounds
  // them, since the credit of the other half came from this stream's peer.
  void relay_data(std::span<const std::uint8_t> bytes);
  // Gives the peer of this stream more credit (WindowUpdate), as the other half's peer did.
  void relay_credit(std::uint32_t increment);

  // ---- called by the session for messages naming this stream ----
  void on_ack();
  void on_refused(const std::string& reason);
  void on_data(std::span<const std::uint8_t> bytes);
  void on_datagram(std::span<const std::uint8_t> bytes);
  void on_eof();
  void on_close(const std::string& reason);
  void on_window_update(std::uint32_t increment);
  // The session is going away (or wants this stream gone): close without telling the peer.
  void abort(const std::string& reason);
  // The channel drained or the window grew.
  void notify_writable();

  bool sent_eof() const { return sent_eof_; }
  bool got_eof() const { return got_eof_; }
  std::uint64_t send_window() const { return send_window_; }
  std::uint64_t recv_window() const { return window_target_; }
  // Real bytes this stream holds: what its endpoint buffers toward the socket and datagrams
  // waiting for the ConnectAck.
  std::size_t held_bytes() const;

 private:
  void open();
  void end(const std::string& why, bool abortive, bool session_gone = false);
  void maybe_finish();
  void touch();
  void flush_pending_datagrams();

  Session& session_;
  Uuid id_;
  proto::ServiceProtocol protocol_;
  Role role_;
  State state_ = State::pending;
  std::string label_;
  std::unique_ptr<StreamEndpoint> endpoint_;
  CounterChain counters_;

  std::uint64_t send_window_ = proto::kInitialWindow;
  std::uint64_t recv_credit_ = proto::kInitialWindow;    // what the sender may still send
  std::uint64_t window_target_ = proto::kInitialWindow;  // the receive window we aim for
  std::uint64_t unreturned_ = 0;                         // consumed, not yet granted back
  bool sent_eof_ = false;
  bool got_eof_ = false;
  bool local_write_done_ = false;
  bool waiting_for_writable_ = false;

  std::deque<ChunkPtr> pending_datagrams_;
  std::size_t pending_datagram_bytes_ = 0;

  Timer open_timer_;
  Timer idle_timer_;
  std::chrono::milliseconds idle_timeout_{0};
  std::function<void()> idle_check_;
  std::uint64_t last_activity_ms_ = 0;

  friend class Session;
};

}  // namespace zlt
