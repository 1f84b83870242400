// libFuzzer target for the HTTP response-head parser, as the WebSocket client and the CONNECT
// proxy client use it on what a server or proxy answers: find the end of the head within the
// size limit, parse it, and check it as an upgrade answer and as a CONNECT answer. The parser
// must also cope with heads that are not complete (the input as a whole is parsed too).
// Invariants: a parsed status has three digits, header names are non-empty without blanks or
// colons, values are trimmed, and the accessors agree with the header list. The same bytes go
// through the request-head parser of the metrics and admin listeners too: a parsed request
// has an upper-case method, a target without blanks or controls, and the same header rules.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/transport/http_head.hpp"
#include "core/transport/http_proxy.hpp"
#include "core/transport/url.hpp"
#include "core/transport/ws_handshake.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zlt::fuzz::check;

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

void check_head(const zlt::HttpResponseHead& head) {
  check(head.status >= 0 && head.status <= 999, "status out of range");
  check(head.reason.empty() || (!is_blank(head.reason.front()) && !is_blank(head.reason.back())),
        "reason not trimmed");
  check(head.status_text().starts_with(std::to_string(head.status)), "status_text");
  for (const auto& [name, value] : head.headers) {
    check(!name.empty(), "empty header name");
    check(name.find_first_of(" \t:") == std::string::npos, "header name with blank or colon");
    check(value.empty() || (!is_blank(value.front()) && !is_blank(value.back())),
          "header value not trimmed");
    check(value.find("\r\n") == std::string::npos, "header value spans lines");
    auto first = head.header(name);
    check(first.has_value(), "header() misses a header");
    check(head.joined(name).starts_with(*first), "joined() does not start with the first value");
    (void)head.has_token(name, value);
  }

  static const zlt::Url server = *zlt::parse_url("wss://tunnel.example.com/tunnel/v1");
  static const zlt::Url proxy = *zlt::parse_url("http://user:pw@proxy.example.com:3128");
  auto upgrade = zlt::check_upgrade_response(head, "dGhlIHNhbXBsZSBub25jZQ==", {"zlt-tunnel"});
  check(upgrade.ok() || !upgrade.error().message.empty(), "upgrade refusal without a reason");
  if (upgrade.ok()) check(head.status == 101, "upgrade accepted without 101");
  auto connect = zlt::check_connect_response(head, server, proxy);
  check(connect.ok() || !connect.error().message.empty(), "CONNECT refusal without a reason");
  if (connect.ok()) check(head.status >= 200 && head.status <= 299, "CONNECT accepted without 2xx");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const std::size_t end = zlt::find_head_end(input);
  check(end == 0 || (end >= 4 && end <= input.size() && input.substr(end - 4, 4) == "\r\n\r\n"),
        "find_head_end");
  if (end != 0 && end <= zlt::kMaxResponseHead) {
    auto head = zlt::parse_response_head(input.substr(0, end));
    if (head) check_head(*head);
  }

  auto request = zlt::parse_request_head(input.substr(0, end == 0 ? input.size() : end));
  if (request) {
    check(!request->method.empty(), "empty method");
    for (char c : request->method) check(c >= 'A' && c <= 'Z', "method not upper-case");
    check(!request->target.empty(), "empty target");
    for (char c : request->target)
      check(static_cast<unsigned char>(c) > 0x20 && c != 0x7f, "target with blank or control");
    for (const auto& [name, value] : request->headers) {
      check(!name.empty(), "empty request header name");
      check(name.find_first_of(" \t:") == std::string::npos, "request header name with blank");
      check(request->header(name).has_value(), "request header() misses a header");
      (void)value;
    }
  } else {
    check(request.error().code == zlt::Errc::protocol && !request.error().message.empty(),
          "request parse error of the wrong kind or without a message");
  }

  auto whole = zlt::parse_response_head(input);
  if (whole)
    check_head(*whole);
  else
    check(whole.error().code == zlt::Errc::protocol && !whole.error().message.empty(),
          "parse error of the wrong kind or without a message");
  return 0;
}
