// libFuzzer target: Jid::parse. Checks that the ASCII fast path and the libidn path agree
// on every input, and that a parsed JID's normalized form parses back to itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "jid/jid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using xmesh::jid::Jid;
  using xmesh::jid::PrepImpl;
  xmesh::Result<Jid> fast = Jid::parse(text);
  xmesh::Result<Jid> slow = Jid::parse(text, PrepImpl::Libidn);
  if (fast.isOk() != slow.isOk()) __builtin_trap();
  if (!fast.isOk()) return 0;
  if (!(fast.value() == slow.value())) __builtin_trap();
  xmesh::Result<Jid> again = Jid::parse(fast->full());
  if (!again.isOk() || !(again.value() == fast.value())) __builtin_trap();
  if (fast->bare().withResource(fast->resource()) != fast.value()) __builtin_trap();
  return 0;
}
