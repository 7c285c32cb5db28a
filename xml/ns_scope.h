// Internal: namespace resolution by hand. Expat runs without namespace processing so the
// parser sees prefixes and declarations as written (needed to re-serialize stanzas
// faithfully); this file supplies the XML-Namespaces rules Expat would otherwise apply.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace xmesh::xml::detail {

inline constexpr std::string_view kXmlNs = "http://www.w3.org/XML/1998/namespace";
inline constexpr std::string_view kXmlnsNs = "http://www.w3.org/2000/xmlns/";
inline constexpr std::string_view kStreamsNs = "http://etherx.jabber.org/streams";

// A qualified name split at its colon. prefix is "" for unprefixed names.
struct QName {
  std::string_view prefix;
  std::string_view local;
};

// Splits `name` (already a valid XML Name, checked by Expat); returns false for names
// XML-Namespaces forbids (":a", "a:", "a:b:c", "a:2b"). Expat's Name check does not cover
// the local part's first character, which must start a name: we accept ASCII letters and
// '_' there. Non-ASCII local starts after a prefix are refused too (they would need
// Expat's private name tables; XMPP never uses them), so a local part always serializes
// as an element name of its own.
inline bool splitQName(std::string_view name, QName* out) {
  const size_t colon = name.find(':');
  if (colon == std::string_view::npos) {
    *out = QName{{}, name};
    return !name.empty();
  }
  out->prefix = name.substr(0, colon);
  out->local = name.substr(colon + 1);
  if (out->prefix.empty() || out->local.empty() || out->local.find(':') != std::string_view::npos) {
    return false;
  }
  const char first = out->local[0];
  return (first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_';
}

// If `attr` is a namespace declaration, sets *prefix ("" for the default namespace).
inline bool isNsDecl(std::string_view attr, std::string_view* prefix) {
  if (attr.size() < 5 || attr.compare(0, 5, "xmlns") != 0) return false;
  if (attr.size() == 5) {
    *prefix = {};
    return true;
  }
  if (attr[5] != ':') return false;  // e.g. "xmlnsfoo" is an ordinary attribute
  *prefix = attr.substr(6);
  return true;
}

// Checks the XML-Namespaces constraints on one declaration (prefix "" = default).
// Returns nullptr when fine, else a short reason. A declaration of the `xml` prefix to
// its own URI is legal and is reported through *redundant so callers can skip it.
inline const char* checkNsDecl(std::string_view prefix, std::string_view uri, bool* redundant) {
  *redundant = false;
  if (prefix == "xmlns") return "xmlns prefix declared";
  if (prefix == "xml") {
    if (uri != kXmlNs) return "xml prefix bound to another namespace";
    *redundant = true;
    return nullptr;
  }
  if (uri == kXmlNs || uri == kXmlnsNs) return "reserved namespace bound";
  if (!prefix.empty() && uri.empty()) return "prefix undeclared";
  if (prefix.find(':') != std::string_view::npos) return "bad prefix";
  return nullptr;
}

// Bindings in scope, innermost last. Slots (and their string capacity) are reused as
// elements open and close, so steady-state parsing does not allocate here.
class NsScope {
 public:
  struct Binding {
    std::string prefix;  // "" = default namespace
    std::string uri;
    size_t depth = 0;  // element depth that declared it
  };
  static constexpr size_t kNotFound = static_cast<size_t>(-1);

  void push(std::string_view prefix, std::string_view uri, size_t depth) {
    if (size_ == slots_.size()) slots_.emplace_back();
    Binding& b = slots_[size_++];
    b.prefix.assign(prefix);
    b.uri.assign(uri);
    b.depth = depth;
  }
  // Drops the bindings declared at `depth` or deeper (the element closing).
  void popDepth(size_t depth) {
    while (size_ > 0 && slots_[size_ - 1].depth >= depth) --size_;
  }
  // Index of the innermost binding of `prefix`, or kNotFound. Indexes are stable while
  // the binding stays in scope.
  size_t find(std::string_view prefix) const {
    for (size_t i = size_; i > 0; --i) {
      if (slots_[i - 1].prefix == prefix) return i - 1;
    }
    return kNotFound;
  }
  const Binding& at(size_t index) const { return slots_[index]; }
  size_t size() const { return size_; }
  void clear() { size_ = 0; }

 private:
  std::vector<Binding> slots_;
  size_t size_ = 0;
};

}  // namespace xmesh::xml::detail
