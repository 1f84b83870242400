// One stream opened toward a target and closed as soon as the server answers: tells whether the
// server will carry connections there before a user finds out on their first connection. The
// target sees one connection that closes at once.
#pragma once

#include <functional>
#include <string>

#include "core/common/error.hpp"
#include "core/protocol/message.hpp"

namespace zlt {

class AgentSession;

struct ProbeResult {
  enum class Outcome {
    reached,    // the server acknowledged (it connected to the target)
    refused,    // ConnectFail{reason}
    no_answer,  // timed out, or the session ended first
  };
  Outcome outcome = Outcome::no_answer;
  std::string reason;  // refused: the server's words; no_answer: what ended the wait
};

// Called once, on the loop thread.
using ProbeDone = std::function<void(const ProbeResult&)>;

// Errors (nothing opened, `done` not called): Errc::connection when the session cannot open
// streams.
Status probe_target(AgentSession& session, const std::string& target,
                    proto::ServiceProtocol protocol, ProbeDone done);

}  // namespace zlt
