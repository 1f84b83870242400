// libFuzzer target for Open targets and allow-list entries (docs/PROTOCOL.md §4.6). The input is
// lines: the first is the target of an Open, the others are allow entries of the token that
// sends it. Entries go through the configuration's validation first, as they do when tokens,
// grants and admin requests are read; the AllowList is built from the valid ones only.
// Invariants: a parsed target prints back to a text that parses to the same target, and the
// entry naming exactly that target (when it is a valid entry) allows it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/allow_target.hpp"
#include "core/protocol/host_syntax.hpp"
#include "core/protocol/open_target.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

using zlt::fuzz::check;

bool same_target(const zlt::OpenTarget& a, const zlt::OpenTarget& b) {
  return a.kind == b.kind && a.name == b.name && a.host == b.host && a.port == b.port;
}

// Entries the caller knows to be valid; one that is refused is a failure.
bool allows(const std::vector<std::string>& entries, const zlt::OpenTarget& target) {
  auto list = zlt::AllowList::parse(entries);
  check(list.ok(), "a valid entry was refused");
  return list->allows(target);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view target_text;
  std::string_view rest;
  zlt::fuzz::split_first_line(input, target_text, rest);

  std::vector<std::string> entries;
  while (!rest.empty()) {
    std::string_view entry;
    zlt::fuzz::split_first_line(rest, entry, rest);
    if (zlt::config::is_valid_allow_target(entry)) entries.emplace_back(entry);
  }
  auto parsed = zlt::AllowList::parse(entries);
  check(parsed.ok(), "a valid entry was refused");
  const zlt::AllowList& allow = *parsed;
  check(allow.empty() == entries.empty(), "a valid entry was dropped");

  auto target = zlt::OpenTarget::parse(target_text);
  if (!target) {
    check(target.error().code == zlt::Errc::invalid_argument && !target.error().message.empty(),
          "parse error of the wrong kind or without a message");
    return 0;
  }
  if (target->kind == zlt::OpenTarget::Kind::service) {
    check(zlt::proto::is_valid_service_name(target->name), "invalid service name");
  } else {
    check(!target->host.empty() && target->port != 0, "address target without host or port");
  }

  // Every accepted target prints back to itself.
  const std::string printed = target->to_string();
  if (target->kind != zlt::OpenTarget::Kind::service) {
    check(zlt::proto::is_host_name(target->host) ||
              zlt::proto::is_ipv6_literal(target->host),
          "a host that is neither a DNS name nor an IP literal", printed);
  }
  auto again = zlt::OpenTarget::parse(printed);
  check(again.ok(), "a printed target does not parse", printed);
  check(same_target(*again, *target), "a printed target parses to another target", printed);

  (void)allow.allows(*target);
  check(!zlt::AllowList().allows(*target), "an empty allow list allows a target");
  // A name or IP literal prints as the allow entry that means exactly it.
  if (zlt::config::is_valid_allow_target(printed))
    check(allows({printed}, *target), "the entry naming a target refuses it", printed);
  const std::string any = target->kind == zlt::OpenTarget::Kind::service ? "service:*" : "*:*";
  check(allows({any}, *target), "a wildcard entry refuses a target", printed);
  return 0;
}
