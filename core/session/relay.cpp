#include "core/session/relay.hpp"

#include <algorithm>
#include <memory>
#include <string>

namespace zlt {
namespace {

// One half of a splice: everything its stream receives goes out through the other half.
class RelayEndpoint final : public StreamEndpoint {
 public:
  RelayEndpoint(Stream& self, Stream& peer) : self_(&self), peer_(&peer) {}

  void unlink() { peer_ = nullptr; }

  // The owner acknowledged (this is the owner-side half): the opener gets its ConnectAck.
  void on_open() override {
    if (peer_ != nullptr && peer_->state() == Stream::State::pending) peer_->accept();
  }
  void deliver(std::span<const std::uint8_t> bytes) override {
    if (peer_ != nullptr) peer_->relay_data(bytes);
  }
  void deliver_datagram(std::span<const std::uint8_t> bytes) override {
    if (peer_ == nullptr) return;
    ChunkPtr chunk = acquire_chunk_for(bytes.size(), Chunk::kPayloadOffset);
    chunk->append(bytes);
    peer_->send_datagram(std::move(chunk));
  }
  void deliver_eof() override {
    if (peer_ != nullptr) peer_->send_eof();
    // Nothing is buffered here: this direction is done as soon as the Eof is passed on.
    self_->local_write_done();
  }
  void on_writable() override {}
  void on_window_update(std::uint32_t increment) override {
    if (peer_ != nullptr) peer_->relay_credit(increment);
  }
  void on_end(const std::string& why, bool session_gone) override {
    end_reason_ = session_gone ? "peer session ended" : why;
  }
  void close(bool abortive) override {
    Stream* peer = peer_;
    peer_ = nullptr;
    if (peer == nullptr) return;
    if (auto* back = dynamic_cast<RelayEndpoint*>(peer->endpoint())) back->unlink();
    // A half that finished cleanly (Eof both ways) leaves the other to finish by itself: a
    // Close now could cut off data its peer is still writing out.
    if (!abortive) return;
    const std::string reason = end_reason_.empty() ? "peer session ended" : end_reason_;
    // The other half learns why: before the owner acknowledged, the opener gets ConnectFail
    // with the owner's reason; afterwards a Close.
    if (peer->state() == Stream::State::pending && peer->role() == Stream::Role::acceptor) {
      peer->refuse(reason);
    } else {
      peer->fail(reason);
    }
  }

 private:
  Stream* self_;
  Stream* peer_;
  std::string end_reason_;
};

}  // namespace

void splice(Stream& opener_side, Stream& owner_side) {
  opener_side.set_endpoint(std::make_unique<RelayEndpoint>(opener_side, owner_side));
  owner_side.set_endpoint(std::make_unique<RelayEndpoint>(owner_side, opener_side));
}

}  // namespace zlt
