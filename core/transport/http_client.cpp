#include "zlt/http.hpp"

#include "core/transport/http_connection.hpp"
#include "core/transport/http_head.hpp"

#include <charconv>
#include <vector>

namespace zlt {
namespace {

// The body of a "Transfer-Encoding: chunked" response; nullopt if it is malformed.
std::optional<std::string> dechunk(std::string_view raw) {
  std::string body;
  for (;;) {
    const std::size_t line_end = raw.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    std::string_view size_text = raw.substr(0, line_end);
    size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions
    std::size_t size = 0;
    auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || p == size_text.data()) return std::nullopt;
    raw.remove_prefix(line_end + 2);
    if (size == 0) return body;  // trailers, if any, are of no interest
    if (raw.size() < size + 2) return std::nullopt;
    body.append(raw.substr(0, size));
    raw.remove_prefix(size + 2);
  }
}

std::string request_text(const HttpCall& call, const Url& url) {
  std::string r = call.method + " " + url.target + " HTTP/1.1\r\nHost: " + url.authority() +
                  "\r\nUser-Agent: zlt/" ZLT_VERSION_STRING "\r\nConnection: close\r\n";
  for (const auto& [name, value] : call.headers) r += name + ": " + value + "\r\n";
  if (call.body) r += "Content-Length: " + std::to_string(call.body->size()) + "\r\n";
  r += "\r\n";
  if (call.body) r += *call.body;
  return r;
}

}  // namespace

Result<HttpReply> http_call(const HttpCall& call) {
  auto url = parse_url(call.url);
  if (!url) return url.take_error();
  if (url->scheme != "http" && url->scheme != "https")
    return make_error(Errc::config, "invalid URL '" + call.url + "': expected http:// or https://");
  auto connection = HttpConnection::open(*url, call.tls, call.timeout);
  if (!connection) return connection.take_error();
  ZLT_TRY((*connection)->write_all(request_text(call, *url)));

  std::string response;
  std::vector<std::uint8_t> buffer(16384);
  for (;;) {
    auto n = (*connection)->read(buffer);
    if (!n) return n.take_error();
    if (*n == 0) break;
    response.append(reinterpret_cast<const char*>(buffer.data()), *n);
  }
  const std::string where = url->host_port();
  const std::size_t head_end = find_head_end(response);
  if (head_end == 0)
    return make_error(Errc::protocol, "no HTTP response from " + where + " (" +
                                          std::to_string(response.size()) + " bytes)");
  auto head = parse_response_head(std::string_view(response).substr(0, head_end));
  if (!head)
    return make_error(Errc::protocol,
                      "bad HTTP response from " + where + ": " + head.error().message);
  HttpReply reply;
  reply.status = head->status;
  reply.status_text = head->status_text();
  reply.status_line = response.substr(0, response.find("\r\n"));
  reply.bytes = response.size();
  std::string_view raw = std::string_view(response).substr(head_end);
  if (head->has_token("Transfer-Encoding", "chunked")) {
    auto body = dechunk(raw);
    if (!body) return make_error(Errc::protocol, "malformed chunked body from " + where);
    reply.body = std::move(*body);
  } else {
    reply.body = std::string(raw);
    if (auto length = head->header("Content-Length")) {
      std::size_t n = 0;
      auto [p, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
      if (ec != std::errc() || p != length->data() + length->size())
        return make_error(Errc::protocol, "bad Content-Length from " + where);
      if (n > reply.body.size())
        return make_error(Errc::protocol, "truncated response from " + where);
      reply.body.resize(n);
    }
  }
  return reply;
}

Result<FetchResult> http_get(const std::string& host, std::uint16_t port, const std::string& path,
                             std::chrono::milliseconds timeout) {
  const bool v6 = host.find(':') != std::string::npos;
  HttpCall call;
  call.url = "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + path;
  call.timeout = timeout;
  auto reply = http_call(call);
  if (!reply) return reply.take_error();
  FetchResult result;
  result.status_line = reply->status_line;
  result.bytes = reply->bytes;
  result.body_bytes = reply->body.size();
  return result;
}

}  // namespace zlt
