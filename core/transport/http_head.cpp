#include "core/transport/http_head.hpp"

#include <algorithm>

namespace zlt {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The header lines after the first line, up to the empty line.
Status parse_header_lines(std::string_view head, HttpHeaders& out) {
  while (!head.empty()) {
    std::size_t eol = head.find("\r\n");
    if (eol == std::string_view::npos) return make_error(Errc::protocol, "malformed header line");
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (line.empty()) break;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return make_error(Errc::protocol, "malformed header line");
    std::string_view name = line.substr(0, colon);
    for (char c : name)
      if (c == ' ' || c == '\t') return make_error(Errc::protocol, "malformed header name");
    out.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  return {};
}

}  // namespace

std::optional<std::string_view> find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [n, v] : headers)
    if (iequals_ascii(n, name)) return std::string_view(v);
  return std::nullopt;
}

std::string HttpResponseHead::joined(std::string_view name) const {
  std::string out;
  for (const auto& [n, v] : headers) {
    if (!iequals_ascii(n, name)) continue;
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

bool HttpResponseHead::has_token(std::string_view name, std::string_view token) const {
  std::string all = joined(name);
  std::string_view list = all;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    if (iequals_ascii(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string HttpResponseHead::status_text() const {
  std::string out = std::to_string(status);
  if (!reason.empty()) out += " " + reason;
  return out;
}

std::size_t find_head_end(std::string_view bytes) {
  std::size_t pos = bytes.find("\r\n\r\n");
  return pos == std::string_view::npos ? 0 : pos + 4;
}

Result<HttpResponseHead> parse_response_head(std::string_view head) {
  HttpResponseHead out;
  std::size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return make_error(Errc::protocol, "malformed status line");
  std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);

  // "HTTP/1.1 101 Switching Protocols"; the reason phrase may be empty.
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ')
    return make_error(Errc::protocol, "malformed status line");
  std::string_view code = line.substr(9, 3);
  for (char c : code)
    if (c < '0' || c > '9') return make_error(Errc::protocol, "malformed status line");
  if (line.size() > 12 && line[12] != ' ')
    return make_error(Errc::protocol, "malformed status line");
  out.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (line.size() > 13) out.reason = std::string(trim(line.substr(13)));
  ZLT_TRY(parse_header_lines(head, out.headers));
  return out;
}

Result<HttpRequestHead> parse_request_head(std::string_view head) {
  HttpRequestHead out;
  std::size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return make_error(Errc::protocol, "malformed request line");
  std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  // "GET /metrics HTTP/1.1": exactly two spaces, a token method, a target without controls.
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == 0 || sp2 == std::string_view::npos || sp2 == sp1 + 1 ||
      line.find(' ', sp2 + 1) != std::string_view::npos)
    return make_error(Errc::protocol, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (char c : method)
    if (c < 'A' || c > 'Z') return make_error(Errc::protocol, "malformed request line");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return make_error(Errc::protocol, "malformed request line");
  if (version == "HTTP/1.0") {
    out.http10 = true;
  } else if (version != "HTTP/1.1") {
    return make_error(Errc::protocol, "unsupported HTTP version");
  }
  out.method = std::string(method);
  out.target = std::string(target);
  ZLT_TRY(parse_header_lines(head, out.headers));
  return out;
}

Result<std::optional<HttpResponseHead>> take_response_head(std::string_view bytes,
                                                           std::size_t& size) {
  size = find_head_end(bytes.substr(0, std::min(bytes.size(), kMaxResponseHead)));
  if (size == 0) {
    if (bytes.size() >= kMaxResponseHead)
      return make_error(Errc::protocol, "response header over 16 KiB");
    return std::optional<HttpResponseHead>{};
  }
  auto head = parse_response_head(bytes.substr(0, size));
  if (!head) return head.take_error();
  return std::optional<HttpResponseHead>(std::move(*head));
}

}  // namespace zlt
