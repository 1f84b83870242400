// Which connections a listener takes. Three caps: all connections, unauthenticated ones (from
// accept until the upgrade and the Auth are through), and unauthenticated ones per source
// address. When a cap on the whole is reached, a newcomer takes the place of the oldest
// unauthenticated connection of the source that holds the most of them, so a flood from a few
// addresses cannot lock everyone else out; a newcomer whose own source would then hold the
// most is refused instead. Bookkeeping only: the caller closes what it is told to.
#pragma once

#include <cstddef>
#include <list>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace zlt {

class Admission {
 public:
  using Key = void*;  // one connection (its libwebsockets handle)

  struct Limits {
    std::size_t max_connections = 10000;
    std::size_t max_pending = 1000;
    std::size_t max_pending_per_source = 64;
  };

  struct Decision {
    bool admit = false;
    std::string refusal;   // when refused: why, in words for the peer and the log
    Key evict = nullptr;   // when admitted: close this unauthenticated connection first
  };

  Admission() = default;
  explicit Admission(Limits limits) : limits_(limits) {}

  // What to do with a new connection from `source` (an IP address). Changes nothing.
  Decision decide(const std::string& source) const;
  // Records an admitted connection (unauthenticated).
  void add(Key key, const std::string& source);
  // The connection's peer has authenticated: it no longer counts as pending.
  void authenticated(Key key);
  // The connection is gone (no-op for an unknown key).
  void remove(Key key);

  bool contains(Key key) const { return entries_.contains(key); }
  std::size_t open() const { return entries_.size(); }
  std::size_t pending() const { return pending_; }
  std::size_t pending_from(const std::string& source) const;
  // The source address of a recorded connection (empty if unknown).
  std::string source_of(Key key) const;
  const Limits& limits() const { return limits_; }
  // A reload: connections already held stay; the new caps decide about the next ones.
  void set_limits(Limits limits) { limits_ = limits; }

 private:
  struct Entry {
    std::string source;
    bool pending = true;
    std::list<Key>::iterator in_source;  // valid while pending
  };
  void leave_pending(Entry& entry);
  void set_load(const std::string& source, std::size_t before, std::size_t after);

  Limits limits_;
  std::unordered_map<Key, Entry> entries_;
  std::unordered_map<std::string, std::list<Key>> pending_by_source_;  // oldest first
  std::set<std::pair<std::size_t, std::string>> load_;  // (pending count, source); most last
  std::size_t pending_ = 0;
};

}  // namespace zlt
