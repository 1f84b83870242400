#include "core/transport/demo_http.hpp"

#include <array>
#include <optional>
#include <string_view>

#include "core/common/ascii.hpp"
#include "core/runtime/callback_guard.hpp"

namespace zlt {
namespace {

constexpr std::size_t kMaxHead = 16 * 1024;
constexpr std::size_t kMaxBody = 1024 * 1024;
constexpr std::size_t kMaxConnections = 256;

constexpr std::string_view kPage =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>zlayer-tunnel quickstart</title></head>\n"
    "<body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\n"
    "<h1>It works!</h1>\n"
    "<p>This page was served through <b>zlayer-tunnel</b>: your request reached a public port\n"
    "of the tunnel server, crossed the tunnel to the agent, and the agent fetched this page\n"
    "from a service that is not exposed anywhere else.</p>\n"
    "</body></html>\n";

struct Request {
  std::string method;
  std::string target;
  bool keep_alive = true;
  std::size_t content_length = 0;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The request head (without the blank line); nullopt if it is malformed or unsupported.
std::optional<Request> parse_head(std::string_view head) {
  Request req;
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.0") {
    req.keep_alive = false;
  } else if (version != "HTTP/1.1") {
    return std::nullopt;
  }
  std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2);
  while (!rest.empty()) {
    std::size_t end = rest.find("\r\n");
    std::string_view field = rest.substr(0, end);
    rest = end == std::string_view::npos ? "" : rest.substr(end + 2);
    std::size_t colon = field.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view name = field.substr(0, colon);
    std::string_view value = trim(field.substr(colon + 1));
    if (iequals_ascii(name, "connection")) {
      if (iequals_ascii(value, "close")) req.keep_alive = false;
      if (iequals_ascii(value, "keep-alive")) req.keep_alive = true;
    } else if (iequals_ascii(name, "content-length")) {
      std::size_t n = 0;
      for (char ch : value) {
        if (ch < '0' || ch > '9' || n > kMaxBody) return std::nullopt;
        n = n * 10 + static_cast<std::size_t>(ch - '0');
      }
      req.content_length = n;
    } else if (iequals_ascii(name, "transfer-encoding")) {
      return std::nullopt;  // chunked bodies: not worth supporting for a demo
    }
  }
  return req;
}

std::string response(int code, std::string_view reason, std::string_view type,
                     std::string_view body, bool keep_alive, bool head_only) {
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + std::string(reason) + "\r\n";
  out += "Server: zlt-quickstart\r\n";
  out += "Content-Type: " + std::string(type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (code == 405) out += "Allow: GET, HEAD\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

std::string answer(const Request& req) {
  const bool head = req.method == "HEAD";
  if (req.method != "GET" && !head)
    return response(405, "Method Not Allowed", "text/plain", "method not allowed\n", req.keep_alive,
                    false);
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  if (path == "/")
    return response(200, "OK", "text/html; charset=utf-8", kPage, req.keep_alive, head);
  if (path == "/healthz") return response(200, "OK", "text/plain", "ok\n", req.keep_alive, head);
  return response(404, "Not Found", "text/plain", "not found\n", req.keep_alive, head);
}

// A write owns its bytes until libuv is done with them.
struct WriteRequest {
  uv_write_t req{};
  std::string data;
};

}  // namespace

class DemoHttpService::Connection {
 public:
  explicit Connection(DemoHttpService& service) : service_(service) {}

  bool accept(uv_stream_t* listener) {
    if (tcp_.init(uv_tcp_init, listener->loop) != 0) return false;
    tcp_.set_data(this);
    if (uv_accept(listener, tcp_.stream()) != 0) return false;
    return uv_read_start(tcp_.stream(), guarded<&on_alloc, "demo http read">,
                         guarded<&on_read, "demo http read">) == 0;
  }

 private:
  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(h->data);
    if (self == nullptr) {
      *buf = uv_buf_init(nullptr, 0);
      return;
    }
    *buf = uv_buf_init(self->read_buffer_.data(), static_cast<unsigned>(self->read_buffer_.size()));
  }

  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Connection*>(s->data);
    if (self == nullptr) return;
    if (nread < 0) {
      self->service_.close(self);  // EOF or error: either way the client is done
      return;
    }
    self->input_.append(buf->base, static_cast<std::size_t>(nread));
    self->process();
  }

  static void on_written(uv_write_t* req, int status) {
    std::unique_ptr<WriteRequest> owned(static_cast<WriteRequest*>(req->data));
    auto* self = static_cast<Connection*>(req->handle->data);  // null once closed
    if (self == nullptr) return;
    --self->writes_pending_;
    if (status < 0 || (self->closing_ && self->writes_pending_ == 0)) self->service_.close(self);
  }

  // Answers every complete request in the buffer (pipelining), in order.
  void process() {
    while (!closing_) {
      std::size_t end = input_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (input_.size() > kMaxHead)
          finish(response(431, "Request Header Fields Too Large", "text/plain", "too large\n",
                          false, false));
        return;
      }
      std::optional<Request> req = parse_head(std::string_view(input_).substr(0, end));
      if (!req) {
        finish(response(400, "Bad Request", "text/plain", "bad request\n", false, false));
        return;
      }
      const std::size_t total = end + 4 + req->content_length;
      if (input_.size() < total) return;  // the body is still on its way
      input_.erase(0, total);
      ++service_.requests_;
      if (!req->keep_alive) {
        finish(answer(*req));
        return;
      }
      if (!write(answer(*req))) return;
    }
  }

  // Sends the last response, then closes once it is written.
  void finish(std::string bytes) {
    closing_ = true;
    uv_read_stop(tcp_.stream());
    write(std::move(bytes));
  }

  // False if the connection was closed.
  bool write(std::string bytes) {
    auto w = std::make_unique<WriteRequest>();
    w->data = std::move(bytes);
    w->req.data = w.get();
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, tcp_.stream(), &buf, 1,
                 guarded<&on_written, "demo http write">) != 0) {
      service_.close(this);
      return false;
    }
    w.release();  // on_written takes it back
    ++writes_pending_;
    return true;
  }

  DemoHttpService& service_;
  UvHandle<uv_tcp_t> tcp_;
  std::array<char, 16384> read_buffer_{};
  std::string input_;
  bool closing_ = false;
  std::size_t writes_pending_ = 0;
};

Result<std::unique_ptr<DemoHttpService>> DemoHttpService::start(uv_loop_t* loop,
                                                                const std::string& host) {
  std::unique_ptr<DemoHttpService> service(new DemoHttpService());
  auto fail = [&](const char* what, int rc) {
    return make_error(Errc::connection,
                      std::string("demo service: ") + what + " " + host + ": " + uv_error_text(rc));
  };
  if (int rc = service->listener_.init(uv_tcp_init, loop); rc != 0) return fail("init", rc);
  service->listener_.set_data(service.get());
  sockaddr_in addr{};
  if (int rc = uv_ip4_addr(host.c_str(), 0, &addr); rc != 0) return fail("address", rc);
  if (int rc = uv_tcp_bind(service->listener_.get(), reinterpret_cast<const sockaddr*>(&addr), 0);
      rc != 0)
    return fail("bind", rc);
  if (int rc = uv_listen(service->listener_.stream(), 64,
                         guarded<&on_connection, "demo http listener">);
      rc != 0)
    return fail("listen", rc);
  sockaddr_in bound{};
  int len = sizeof bound;
  if (int rc =
          uv_tcp_getsockname(service->listener_.get(), reinterpret_cast<sockaddr*>(&bound), &len);
      rc != 0)
    return fail("getsockname", rc);
  service->port_ = ntohs(bound.sin_port);
  return service;
}

DemoHttpService::~DemoHttpService() {
  connections_.clear();
  listener_.reset();
}

void DemoHttpService::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<DemoHttpService*>(listener->data);
  if (self == nullptr || status < 0) return;
  auto connection = std::make_unique<Connection>(*self);
  // Over the limit the connection is accepted and dropped at once, so it does not linger in
  // the backlog.
  if (!connection->accept(listener) || self->connections_.size() >= kMaxConnections) return;
  Connection* raw = connection.get();
  self->connections_[raw] = std::move(connection);
}

void DemoHttpService::close(Connection* connection) {
  connections_.erase(connection);
}

}  // namespace zlt
