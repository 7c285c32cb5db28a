#include "jid/jid.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace xmesh::jid {
namespace {

Error malformed(std::string detail) { return Error{"jid-malformed", std::move(detail)}; }

bool isAsciiText(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// "[v6]" literal: validated and rewritten to the canonical inet_ntop form, so that
// [::1] and [0:0::1] are the same address.
Result<std::string> prepIpv6Literal(std::string_view text) {
  if (text.size() < 3 || text.back() != ']' || text.size() > INET6_ADDRSTRLEN + 2) {
    return malformed("bad IPv6 literal");
  }
  char addrText[INET6_ADDRSTRLEN + 1] = {};
  std::memcpy(addrText, text.data() + 1, text.size() - 2);
  in6_addr addr{};
  if (inet_pton(AF_INET6, addrText, &addr) != 1) return malformed("bad IPv6 literal");
  char canonical[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, &addr, canonical, sizeof canonical) == nullptr) {
    return malformed("bad IPv6 literal");
  }
  return "[" + std::string(canonical) + "]";
}

// IDNA2003 treats the ideographic and full-width full stops as label separators.
std::string mapFullStops(std::string_view text) {
  static constexpr std::string_view kStops[] = {"\xE3\x80\x82", "\xEF\xBC\x8E", "\xEF\xBD\xA1"};
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    bool mapped = false;
    for (std::string_view stop : kStops) {
      if (text.substr(i, stop.size()) == stop) {
        out += '.';
        i += stop.size();
        mapped = true;
        break;
      }
    }
    if (!mapped) out += text[i++];
  }
  return out;
}

// After nameprep: every ASCII byte must be a letter, digit, '-' or '.' (STD3 rules), labels
// are non-empty, and pure-ASCII labels follow the DNS hostname rules (1-63 bytes, no
// hyphen at either end). Non-ASCII labels were vetted by nameprep.
bool isValidDomainSyntax(std::string_view domain) {
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string_view::npos) end = domain.size();
    std::string_view label = domain.substr(start, end - start);
    if (label.empty()) return false;
    bool ascii = true;
    for (char c : label) {
      auto u = static_cast<unsigned char>(c);
      if (u >= 0x80) {
        ascii = false;
      } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
        return false;
      }
    }
    if (ascii && (label.size() > 63 || label.front() == '-' || label.back() == '-')) {
      return false;
    }
    start = end + 1;
  }
  return true;
}

Result<std::string> prepDomain(std::string_view raw, PrepImpl impl) {
  if (!raw.empty() && raw.front() == '[') return prepIpv6Literal(raw);
  std::string mapped;
  if (!isAsciiText(raw)) {
    mapped = mapFullStops(raw);
    raw = mapped;
  }
  // RFC 7622 §3.2: one final dot is stripped before any other canonicalization
  // ("example.com." is "example.com").
  if (!raw.empty() && raw.back() == '.') raw.remove_suffix(1);
  if (raw.empty()) return malformed("empty domainpart");
  Result<std::string> prepared = nameprep(raw, impl);
  if (!prepared) return prepared;
  const std::string& domain = prepared.value();
  if (domain.empty()) return malformed("empty domainpart");
  if (!isValidDomainSyntax(domain)) return malformed("bad domainpart syntax");
  return prepared;
}

}  // namespace

Result<Jid> Jid::parse(std::string_view text, PrepImpl impl) {
  std::string_view rest = text;
  std::string_view resourceRaw;
  bool hasResource = false;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    resourceRaw = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    hasResource = true;
  }
  std::string_view localRaw;
  bool hasLocal = false;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    localRaw = rest.substr(0, at);
    rest = rest.substr(at + 1);
    hasLocal = true;
  }

  Jid jid;
  if (hasLocal) {
    Result<std::string> local = nodeprep(localRaw, impl);
    if (!local) return local.error();
    if (local->empty()) return malformed("empty localpart");
    jid.local_ = std::move(local.value());
  }
  Result<std::string> domain = prepDomain(rest, impl);
  if (!domain) return domain.error();
  jid.domain_ = std::move(domain.value());
  if (hasResource) {
    Result<std::string> resource = resourceprep(resourceRaw, impl);
    if (!resource) return resource.error();
    if (resource->empty()) return malformed("empty resourcepart");
    jid.resource_ = std::move(resource.value());
  }
  return jid;
}

Jid Jid::bare() const {
  Jid out;
  out.local_ = local_;
  out.domain_ = domain_;
  return out;
}

std::string Jid::bareString() const {
  if (local_.empty()) return domain_;
  std::string out;
  out.reserve(local_.size() + 1 + domain_.size());
  out.append(local_).append(1, '@').append(domain_);
  return out;
}

std::string Jid::full() const {
  std::string out = bareString();
  if (!resource_.empty()) out.append(1, '/').append(resource_);
  return out;
}

Jid Jid::withResource(std::string_view resource) const {
  Jid out = bare();
  out.resource_ = std::string(resource);
  return out;
}

}  // namespace xmesh::jid
