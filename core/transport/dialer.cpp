#include "core/transport/dialer.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "core/runtime/callback_guard.hpp"

namespace zlt {

std::string DialFailure::attempts_text() const {
  std::string out;
  for (const Attempt& a : attempts) {
    if (!out.empty()) out += "; ";
    out += a.address.to_string() + ": " + uv_error_text(a.uv_code);
  }
  return out;
}

void Dialer::abandon() {
  lookup_.abandon();
  connecting_.abandon();
  socket_.reset();
}

void Dialer::connect(std::string host, std::uint16_t port, AddressCheck check, Connected connected,
                     Failed failed) {
  connected_ = std::move(connected);
  resolved_ = nullptr;
  begin(std::move(host), port, SOCK_STREAM, std::move(check), std::move(failed));
}

void Dialer::resolve(std::string host, std::uint16_t port, AddressCheck check, Resolved resolved,
                     Failed failed) {
  resolved_ = std::move(resolved);
  connected_ = nullptr;
  begin(std::move(host), port, SOCK_DGRAM, std::move(check), std::move(failed));
}

void Dialer::begin(std::string host, std::uint16_t port, int socktype, AddressCheck check,
                   Failed failed) {
  abandon();
  host_ = std::move(host);
  port_ = port;
  check_ = std::move(check);
  failed_ = std::move(failed);
  addresses_.clear();
  next_ = 0;
  failure_ = DialFailure{};
  failure_.host = host_;
  if (auto literal = resolve_listen_address(host_, port)) {
    addresses_.push_back(*literal);
    have_addresses();
    return;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_protocol = socktype == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP;
  int rc = lookup_.start(this, [&](uv_getaddrinfo_t* req) {
    return uv_getaddrinfo(loop_, req, guarded<&Dialer::on_resolved, "dialer resolve">,
                          host_.c_str(), nullptr, &hints);
  });
  if (rc != 0) {
    failure_.uv_code = rc;
    fail();
  }
}

void Dialer::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(res, uv_freeaddrinfo);
  auto node = decltype(lookup_)::complete(req);
  Dialer* self = node->owner;
  if (self == nullptr) return;
  if (status != 0) {
    self->failure_.uv_code = status;
    self->fail();
    return;
  }
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    SockAddr a;
    std::memcpy(&a.storage, ai->ai_addr, std::min<std::size_t>(ai->ai_addrlen, sizeof a.storage));
    a.len = static_cast<socklen_t>(ai->ai_addrlen);
    a.set_port(self->port_);
    const bool seen =
        std::any_of(self->addresses_.begin(), self->addresses_.end(),
                    [&](const SockAddr& b) { return b.to_string() == a.to_string(); });
    if (!seen) self->addresses_.push_back(a);
  }
  self->have_addresses();
}

void Dialer::have_addresses() {
  if (addresses_.empty()) {
    failure_.stage = DialFailure::Stage::resolve;
    fail();
    return;
  }
  if (check_) {
    std::optional<std::string> first_refusal;
    std::erase_if(addresses_, [&](const SockAddr& a) {
      std::optional<std::string> why = check_(a);
      if (why && !first_refusal) first_refusal = std::move(why);
      return why.has_value();
    });
    if (addresses_.empty()) {
      failure_.stage = DialFailure::Stage::check;
      failure_.refusal = std::move(*first_refusal);
      fail();
      return;
    }
  }
  if (resolved_) {
    Resolved done = std::move(resolved_);
    done(std::move(addresses_));  // may destroy this
    return;
  }
  failure_.stage = DialFailure::Stage::connect;
  connect_next();
}

void Dialer::connect_next() {
  while (next_ < addresses_.size()) {
    const SockAddr& a = addresses_[next_++];
    int rc = socket_.init(uv_tcp_init, loop_);
    if (rc == 0) {
      rc = connecting_.start(this, [&](uv_connect_t* req) {
        return uv_tcp_connect(req, socket_.get(), a.get(),
                              guarded<&Dialer::on_connected, "dialer connect">);
      });
      if (rc == 0) return;
      socket_.reset();
    }
    failure_.attempts.push_back({a, rc});
    failure_.uv_code = rc;
  }
  fail();
}

void Dialer::on_connected(uv_connect_t* req, int status) {
  auto node = decltype(connecting_)::complete(req);
  Dialer* self = node->owner;
  if (self == nullptr) return;
  const SockAddr& a = self->addresses_[self->next_ - 1];
  if (status != 0) {
    self->failure_.attempts.push_back({a, status});
    self->failure_.uv_code = status;
    self->socket_.reset();
    self->connect_next();
    return;
  }
  Connected done = std::move(self->connected_);
  SockAddr peer = a;
  done(std::move(self->socket_), peer);  // may destroy self
}

void Dialer::fail() {
  if (!failed_) return;
  Failed failed = std::move(failed_);
  DialFailure failure = std::move(failure_);
  failed(failure);  // may destroy this
}

}  // namespace zlt
