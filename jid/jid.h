// A validated, normalized XMPP address (RFC 7622 syntax, RFC 6122 stringprep profiles).
//
// A Jid only ever holds prepared parts, so equality is plain string equality and routing
// tables can key on full()/bareString() directly.
#pragma once
#include <string>
#include <string_view>

#include "core/status.h"
#include "jid/prep.h"

namespace xmesh::jid {

class Jid {
 public:
  Jid() = default;  // The empty JID (no domain): "no address".

  // Splits per RFC 7622 §3.1 (resource = after the first '/', local = before the first
  // '@' of what remains), prepares each part and checks the domain syntax (LDH labels,
  // IPv4, or a bracketed IPv6 literal; one trailing dot stripped). Errors carry reason
  // "jid-malformed". impl is for tests and the fuzzer (see prep.h).
  static Result<Jid> parse(std::string_view text, PrepImpl impl = PrepImpl::Auto);

  const std::string& local() const { return local_; }
  const std::string& domain() const { return domain_; }
  const std::string& resource() const { return resource_; }
  bool isBare() const { return resource_.empty(); }
  bool empty() const { return domain_.empty(); }

  Jid bare() const;
  std::string full() const;  // "local@domain/resource", absent parts omitted.
  std::string bareString() const;
  // The caller guarantees resource is already prepared (it came from parse() or
  // resourceprep()); this is the resource-binding hot path, so it is not re-checked.
  Jid withResource(std::string_view resource) const;

  bool operator==(const Jid&) const = default;

 private:
  std::string local_;
  std::string domain_;
  std::string resource_;
};

}  // namespace xmesh::jid
