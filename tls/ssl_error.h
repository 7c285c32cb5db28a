// BoringSSL reports failures through a thread-local error queue. These helpers turn it
// into the `detail` of an xmesh Error, and make sure one failure's leftovers never leak
// into the next operation's diagnosis (the queue is per thread, shared by all sessions
// of a loop).
#pragma once
#include <string>
#include <string_view>

namespace xmesh::tls {

// Drains the queue and returns "context: err1; err2" (at most a few entries, each
// formatted by ERR_error_string_n). Returns just `context` when the queue is empty.
std::string takeSslErrors(std::string_view context);

// Discards whatever a previous operation left in this thread's queue.
void clearSslErrors();

}  // namespace xmesh::tls
