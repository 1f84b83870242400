#include "core/access/access_probe.hpp"

#include <memory>

#include "core/agent/agent_session.hpp"
#include "core/session/stream.hpp"

namespace zlt {
namespace {

// Carries no bytes: it only listens for the server's answer and hangs up on an acknowledgement.
class ProbeEndpoint final : public StreamEndpoint {
 public:
  ProbeEndpoint(Stream& stream, ProbeDone done) : stream_(stream), done_(std::move(done)) {}

  void on_open() override {
    // Hang up before reporting, so the callback finds the probe already gone.
    ProbeDone done = take();
    stream_.fail("access probe");
    if (done) done({ProbeResult::Outcome::reached, {}});
  }
  void on_refused(const std::string& reason) override {
    finish({ProbeResult::Outcome::refused, reason});
  }
  void deliver(std::span<const std::uint8_t> bytes) override { stream_.consumed(bytes.size()); }
  void deliver_eof() override { stream_.local_write_done(); }
  void on_writable() override {}
  void close(bool) override { finish({ProbeResult::Outcome::no_answer, "no answer"}); }

 private:
  // Moved out first: ending the stream calls close() again, which must then report nothing.
  ProbeDone take() {
    ProbeDone done = std::move(done_);
    done_ = nullptr;
    return done;
  }
  void finish(const ProbeResult& result) {
    if (ProbeDone done = take()) done(result);
  }

  Stream& stream_;
  ProbeDone done_;
};

}  // namespace

Status probe_target(AgentSession& session, const std::string& target,
                    proto::ServiceProtocol protocol, ProbeDone done) {
  auto opened = session.open(
      target, protocol,
      [&done](Stream& s) { return std::make_unique<ProbeEndpoint>(s, std::move(done)); },
      "probe " + target, nullptr);
  if (!opened) return opened.take_error();
  return {};
}

}  // namespace zlt
