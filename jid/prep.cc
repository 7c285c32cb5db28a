#include "jid/prep.h"

#include <stringprep.h>

#include <algorithm>
#include <cstring>

namespace xmesh::jid {
namespace {

// Work bound for libidn: prep can only shrink a string by dropping "mapped to nothing"
// characters, so a raw part far above the limit cannot come back under it.
constexpr size_t kMaxRawBytes = 4 * kMaxPartBytes;

enum class FastResult { Done, NotAscii, Rejected };

bool isAscii(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// ASCII controls (RFC 3454 C.2.1) are prohibited by nodeprep and resourceprep.
bool isAsciiControl(unsigned char c) { return c < 0x20 || c == 0x7F; }

// Nodeprep on ASCII: B.2 case folding, C.1.1 space and C.2.1 controls prohibited, plus
// the RFC 6122 Appendix A.5 list.
bool nodeAllowed(unsigned char c) {
  if (c == ' ' || isAsciiControl(c)) return false;
  switch (c) {
    case '"': case '&': case '\'': case '/': case ':': case '<': case '>': case '@':
      return false;
    default:
      return true;
  }
}

Error prepError(std::string_view reason, std::string_view profile, std::string detail) {
  return Error{std::string(reason), std::string(profile) + ": " + detail};
}

Result<std::string> runLibidn(std::string_view text, const Stringprep_profile* profile,
                              int flags, std::string_view reason, std::string_view name) {
  if (text.size() > kMaxRawBytes) return prepError(reason, name, "too long");
  if (text.find('\0') != std::string_view::npos) return prepError(reason, name, "NUL byte");
  if (!isValidUtf8(text)) return prepError(reason, name, "invalid UTF-8");
  // stringprep() works in place on a C string; a buffer of at least kMaxPartBytes + 1
  // means "result does not fit" can only mean "result too long".
  std::string buf(std::max(text.size(), kMaxPartBytes) + 1, '\0');
  std::memcpy(buf.data(), text.data(), text.size());
  int rc = stringprep(buf.data(), buf.size(), static_cast<Stringprep_profile_flags>(flags),
                      profile);
  if (rc == STRINGPREP_TOO_SMALL_BUFFER) return prepError(reason, name, "too long");
  if (rc != STRINGPREP_OK) {
    return prepError(reason, name, stringprep_strerror(static_cast<Stringprep_rc>(rc)));
  }
  buf.resize(std::strlen(buf.c_str()));
  if (buf.size() > kMaxPartBytes) return prepError(reason, name, "too long");
  return buf;
}

constexpr std::string_view kJidReason = "jid-malformed";

}  // namespace

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

Result<std::string> nodeprep(std::string_view text, PrepImpl impl) {
  if (impl == PrepImpl::Auto && isAscii(text)) {
    if (text.size() > kMaxPartBytes) return prepError(kJidReason, "nodeprep", "too long");
    std::string out(text);
    for (char& c : out) {
      if (!nodeAllowed(static_cast<unsigned char>(c))) {
        return prepError(kJidReason, "nodeprep", "prohibited character");
      }
      c = lower(c);
    }
    return out;
  }
  return runLibidn(text, stringprep_xmpp_nodeprep, 0, kJidReason, "nodeprep");
}

Result<std::string> nameprep(std::string_view text, PrepImpl impl) {
  if (impl == PrepImpl::Auto && isAscii(text)) {
    // Nameprep prohibits no ASCII character (the domain syntax check does that); NUL
    // cannot pass through libidn's C strings, so it is refused on both paths.
    if (text.size() > kMaxPartBytes) return prepError(kJidReason, "nameprep", "too long");
    if (text.find('\0') != std::string_view::npos) {
      return prepError(kJidReason, "nameprep", "NUL byte");
    }
    std::string out(text);
    for (char& c : out) c = lower(c);
    return out;
  }
  return runLibidn(text, stringprep_nameprep, 0, kJidReason, "nameprep");
}

Result<std::string> resourceprep(std::string_view text, PrepImpl impl) {
  if (impl == PrepImpl::Auto && isAscii(text)) {
    if (text.size() > kMaxPartBytes) return prepError(kJidReason, "resourceprep", "too long");
    for (char c : text) {
      if (isAsciiControl(static_cast<unsigned char>(c))) {
        return prepError(kJidReason, "resourceprep", "prohibited character");
      }
    }
    return std::string(text);
  }
  return runLibidn(text, stringprep_xmpp_resourceprep, 0, kJidReason, "resourceprep");
}

Result<std::string> saslprep(std::string_view text, bool storedString) {
  bool printable = std::all_of(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7F;
  });
  if (printable) {
    if (text.size() > kMaxPartBytes) return prepError("saslprep-failed", "saslprep", "too long");
    return std::string(text);
  }
  return runLibidn(text, stringprep_saslprep, storedString ? STRINGPREP_NO_UNASSIGNED : 0,
                   "saslprep-failed", "saslprep");
}

}  // namespace xmesh::jid
