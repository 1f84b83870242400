// Splicing two streams, usually of two sessions: the server relays a client's Open toward
// `service:NAME` to the session that registered NAME (docs/PROTOCOL.md §4.6). Data, Eof, Close,
// WindowUpdate and Datagram pass through with the ids translated, so flow control is end to
// end and the server holds at most one window per direction.
#pragma once

#include "core/session/stream.hpp"

namespace zlt {

// `opener_side` is the stream the client opened (an acceptor, still pending); `owner_side` is
// the stream the server opens toward the service's owner (an opener, Connect just sent). When
// the owner acknowledges, so does the opener side; whatever ends one half ends the other.
void splice(Stream& opener_side, Stream& owner_side);

}  // namespace zlt
