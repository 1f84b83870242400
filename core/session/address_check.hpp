// A gate between resolving a name and dialing it: the dialer asks it about every address it
// is about to connect to, so the address that was checked is the one dialed (a second lookup,
// which DNS rebinding could answer differently, never happens).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/transport/sockaddr.hpp"

namespace zlt {

// nullopt: `address` may be dialed; otherwise why not (the stream's refusal).
using AddressCheck = std::function<std::optional<std::string>(const SockAddr& address)>;

// Drops the addresses `check` refuses. nullopt if some remain (or there is no check), else
// the refusal of the first one.
inline std::optional<std::string> keep_permitted(std::vector<SockAddr>& addresses,
                                                 const AddressCheck& check) {
  if (!check) return std::nullopt;
  std::optional<std::string> first_refusal;
  std::erase_if(addresses, [&](const SockAddr& a) {
    std::optional<std::string> why = check(a);
    if (why && !first_refusal) first_refusal = std::move(why);
    return why.has_value();
  });
  return addresses.empty() ? first_refusal : std::nullopt;
}

}  // namespace zlt
