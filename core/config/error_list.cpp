#include "core/config/config.hpp"

namespace zlt::config {

void ErrorList::add_all(const ErrorList& inner, std::string_view prefix) {
  for (const Error& e : inner.errors()) add(make_error(e.code, std::string(prefix) + e.message));
}

Status ErrorList::first() const {
  if (errors_.empty()) return {};
  return errors_.front();
}

}  // namespace zlt::config
