#include "core/transport/admission.hpp"

namespace zlt {

Admission::Decision Admission::decide(const std::string& source) const {
  const std::size_t mine = pending_from(source);
  if (mine >= limits_.max_pending_per_source)
    return {false, "too many unauthenticated connections from " + source, nullptr};
  const bool pending_full = pending_ >= limits_.max_pending;
  if (!pending_full && entries_.size() < limits_.max_connections) return {true, {}, nullptr};
  if (!load_.empty()) {
    const auto& [count, heaviest] = *load_.rbegin();
    // Strictly more than the newcomer's source: taking its place never makes the newcomer's
    // source the one holding the most.
    if (count > mine) return {true, {}, pending_by_source_.at(heaviest).front()};
  }
  return {false, pending_full ? "too many pending handshakes" : "too many connections", nullptr};
}

void Admission::add(Key key, const std::string& source) {
  remove(key);
  auto& list = pending_by_source_[source];
  const std::size_t before = list.size();
  list.push_back(key);
  entries_.emplace(key, Entry{source, true, std::prev(list.end())});
  ++pending_;
  set_load(source, before, before + 1);
}

void Admission::authenticated(Key key) {
  auto it = entries_.find(key);
  if (it != entries_.end()) leave_pending(it->second);
}

void Admission::remove(Key key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  leave_pending(it->second);
  entries_.erase(it);
}

std::size_t Admission::pending_from(const std::string& source) const {
  auto it = pending_by_source_.find(source);
  return it == pending_by_source_.end() ? 0 : it->second.size();
}

std::string Admission::source_of(Key key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? std::string() : it->second.source;
}

void Admission::leave_pending(Entry& entry) {
  if (!entry.pending) return;
  entry.pending = false;
  auto list = pending_by_source_.find(entry.source);
  const std::size_t before = list->second.size();
  list->second.erase(entry.in_source);
  --pending_;
  set_load(entry.source, before, before - 1);
  if (list->second.empty()) pending_by_source_.erase(list);
}

void Admission::set_load(const std::string& source, std::size_t before, std::size_t after) {
  if (before > 0) load_.erase({before, source});
  if (after > 0) load_.insert({after, source});
}

}  // namespace zlt
