// libFuzzer target for URLs: server and proxy URLs (parse_url, parse_proxy_url), the no_proxy
// rule and percent-decoding of proxy credentials. The input is a URL, optionally followed by a
// newline and a no_proxy list. Invariants: a parsed URL has a known scheme, a port, a target
// starting with '/', and its logged form (credentials dropped) parses back to the same URL.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/transport/http_proxy.hpp"
#include "core/transport/url.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zlt::fuzz::check;

void check_url(const zlt::Url& url) {
  check(url.scheme == "ws" || url.scheme == "wss" || url.scheme == "http" || url.scheme == "https",
        "unknown scheme accepted", url.scheme);
  check(url.port != 0, "port 0");
  check(!url.host.empty(), "empty host");
  check(!url.target.empty() && url.target.front() == '/', "target not starting with '/'",
        url.target);
  check(url.userinfo.empty() || url.scheme == "http" || url.scheme == "https",
        "credentials in a server URL");

  const std::string logged = url.to_string();
  check(logged.find('@') == std::string::npos || url.target.find('@') != std::string::npos,
        "credentials in the logged URL", logged);
  auto again = zlt::parse_url(logged);
  check(again.ok(), "the logged URL does not parse", logged);
  check(again->scheme == url.scheme && again->host == url.host && again->port == url.port &&
            again->target == url.target && again->host_is_ipv6 == url.host_is_ipv6 &&
            again->userinfo.empty(),
        "the logged URL parses to another URL", logged);
  check(again->authority() == url.authority() && again->host_port() == url.host_port(),
        "authority differs");
  (void)url.host_is_ip();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view text;
  std::string_view no_proxy;
  zlt::fuzz::split_first_line(input, text, no_proxy);

  auto url = zlt::parse_url(text);
  if (url) {
    check_url(*url);
    (void)zlt::no_proxy_matches(no_proxy, *url);
    // Every list entry "*" matches whatever the target.
    check(zlt::no_proxy_matches(std::string(no_proxy) + ",*", *url), "'*' does not match");
    check(zlt::no_proxy_matches(url->host, *url), "the host itself does not match");
  } else {
    check(url.error().code == zlt::Errc::config && !url.error().message.empty(),
          "parse error of the wrong kind or without a message");
  }

  auto proxy = zlt::parse_proxy_url(text);
  if (proxy) check_url(*proxy);

  const std::string decoded = zlt::percent_decode(text);
  check(decoded.size() <= text.size(), "percent-decoding grew the text");
  return 0;
}
