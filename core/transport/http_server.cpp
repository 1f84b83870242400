#include "core/transport/http_server.hpp"

#include <unistd.h>

#include <array>
#include <exception>
#include <optional>
#include <string_view>

#include "core/common/ascii.hpp"
#include "core/runtime/callback_guard.hpp"
#include "core/runtime/log.hpp"
#include "core/transport/http_head.hpp"

namespace zlt {
namespace {

constexpr const char* kLog = "http";

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string serialize(const HttpResponse& r, bool keep_alive, bool head_only) {
  std::string out = "HTTP/1.1 " + http_status_line(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (!head_only) out += r.body;
  return out;
}

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body) + "\n";
  return r;
}

// A write owns its bytes until libuv is done with them.
struct WriteRequest {
  uv_write_t req{};
  std::string data;
};

}  // namespace

std::string http_status_line(int status) {
  return std::to_string(status) + " " + std::string(reason_phrase(status));
}

class HttpServer::Connection {
 public:
  explicit Connection(HttpServer& server) : server_(server) {}

  bool accept(uv_stream_t* listener) {
    if (tcp_.init(uv_tcp_init, listener->loop) != 0) return false;
    tcp_.set_data(this);
    if (uv_accept(listener, tcp_.stream()) != 0) return false;
    peer_ = peer_of(tcp_.get()).to_string();
    idle_.attach(listener->loop);
    arm_idle();
    return uv_read_start(tcp_.stream(), guarded<&on_alloc, "http listener read">,
                         guarded<&on_read, "http listener read">) == 0;
  }

  // Answers with `response` and closes once it is written.
  void refuse(const HttpResponse& response) { finish(serialize(response, false, false)); }
  bool counted = true;  // false: refused over max_connections, only being answered

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
      self->server_.close(self);  // EOF or error: either way the client is done
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
    if (status < 0 || (self->closing_ && self->writes_pending_ == 0)) self->server_.close(self);
  }

  void arm_idle() {
    idle_.start(server_.limits_.idle_timeout, [this] {
      ZLT_LOG(debug, kLog).field("peer", peer_)
          << server_.name_ << ": connection idle for " << server_.limits_.idle_timeout.count()
          << " ms, closed";
      server_.close(this);
    });
  }

  // Answers every complete request in the buffer (pipelining), in order.
  void process() {
    const Limits& limits = server_.limits_;
    while (!closing_) {
      const std::size_t end = find_head_end(input_);
      if (end == 0 || end > limits.max_request_head) {
        if (end > limits.max_request_head || input_.size() > limits.max_request_head)
          refuse(plain(431,
                       "request head over " + std::to_string(limits.max_request_head) + " bytes"));
        return;
      }
      auto head = parse_request_head(std::string_view(input_).substr(0, end));
      if (!head) {
        refuse(plain(400, head.error().message));
        return;
      }
      std::size_t length = 0;
      if (head->header("transfer-encoding")) {
        refuse(plain(501, "chunked request bodies are not supported"));
        return;
      }
      if (auto cl = head->header("content-length")) {
        if (cl->empty() || cl->size() > 12 || cl->find_first_not_of("0123456789") != cl->npos) {
          refuse(plain(400, "malformed Content-Length"));
          return;
        }
        length = std::stoull(std::string(*cl));
        if (length > limits.max_body) {
          refuse(plain(413, "request body over " + std::to_string(limits.max_body) + " bytes"));
          return;
        }
      }
      if (input_.size() < end + length) return;  // the body is still on its way
      bool keep_alive = !head->http10;
      if (auto c = head->header("connection")) {
        if (iequals_ascii(*c, "close")) keep_alive = false;
        if (iequals_ascii(*c, "keep-alive")) keep_alive = true;
      }
      HttpRequest request;
      request.method = head->method == "HEAD" ? "GET" : head->method;
      std::string_view target = head->target;
      const std::size_t q = target.find('?');
      request.path = std::string(target.substr(0, q));
      if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
      if (auto a = head->header("authorization")) request.authorization = std::string(*a);
      request.body = input_.substr(end, length);
      request.peer = peer_;
      input_.erase(0, end + length);
      ++server_.requests_;
      arm_idle();
      HttpResponse response = answer(request);
      std::string bytes = serialize(response, keep_alive, head->method == "HEAD");
      if (!keep_alive) {
        finish(std::move(bytes));
        return;
      }
      if (!write(std::move(bytes))) return;
    }
  }

  HttpResponse answer(const HttpRequest& request) {
    try {
      return server_.handler_(request);
    } catch (const std::exception& e) {
      ZLT_LOG(error, kLog) << server_.name_ << ": " << request.path << ": " << e.what();
      return plain(500, "internal error");
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
    if (uv_write(&w->req, tcp_.stream(), &buf, 1, guarded<&on_written, "http listener write">) !=
        0) {
      server_.close(this);
      return false;
    }
    w.release();  // on_written takes it back
    ++writes_pending_;
    return true;
  }

  HttpServer& server_;
  UvHandle<uv_tcp_t> tcp_;
  Timer idle_;
  std::string peer_;
  std::array<char, 4096> read_buffer_{};
  std::string input_;
  bool closing_ = false;
  std::size_t writes_pending_ = 0;
};

Result<std::unique_ptr<HttpServer>> HttpServer::listen(uv_loop_t* loop, std::string name,
                                                       const SockAddr& address, Limits limits,
                                                       Handler handler) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->loop_ = loop;
  server->name_ = std::move(name);
  server->limits_ = limits;
  server->handler_ = std::move(handler);
  auto fd = listen_tcp(address, 64);
  if (!fd) return make_error(Errc::connection, server->name_ + ": " + fd.error().message);
  auto fail = [&](const char* what, int rc) {
    return make_error(Errc::connection, server->name_ + ": " + what + " " + address.to_string() +
                                            ": " + uv_error_text(rc));
  };
  if (int rc = server->listener_.init(uv_tcp_init, loop); rc != 0) {
    ::close(*fd);
    return fail("init", rc);
  }
  if (int rc = uv_tcp_open(server->listener_.get(), *fd); rc != 0) {
    ::close(*fd);
    return fail("open", rc);
  }
  server->listener_.set_data(server.get());
  server->address_ = local_of(*fd);
  if (int rc = uv_listen(server->listener_.stream(), 64, guarded<&on_connection, "http listener">);
      rc != 0)
    return fail("listen", rc);
  return server;
}

HttpServer::~HttpServer() {
  connections_.clear();
  listener_.reset();
}

void HttpServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<HttpServer*>(listener->data);
  if (self == nullptr || status < 0) return;
  std::size_t counted = 0;
  for (const auto& [raw, c] : self->connections_) counted += c->counted ? 1 : 0;
  auto connection = std::make_unique<Connection>(*self);
  if (!connection->accept(listener)) return;
  Connection* raw = connection.get();
  if (counted >= self->limits_.max_connections) {
    ++self->refused_;
    // Refused ones are answered too, but only as many again as the cap: past that the
    // connection is dropped at once (it was accepted, so it does not linger in the backlog).
    if (self->connections_.size() >= 2 * self->limits_.max_connections) return;
    ZLT_LOG(debug, kLog) << self->name_ << ": connection refused: too many connections (max "
                         << self->limits_.max_connections << ")";
    connection->counted = false;
    self->connections_[raw] = std::move(connection);
    raw->refuse(plain(
        503, "too many connections (max " + std::to_string(self->limits_.max_connections) + ")"));
    return;
  }
  self->connections_[raw] = std::move(connection);
}

void HttpServer::close(Connection* connection) {
  connections_.erase(connection);
}

}  // namespace zlt
