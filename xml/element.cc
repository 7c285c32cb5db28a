#include "xml/element.h"

#include <algorithm>
#include <optional>

#include "xml/expat_setup.h"
#include "xml/ns_scope.h"

namespace xmesh::xml {

Element::Element(std::string name, std::string ns) : name_(std::move(name)), ns_(std::move(ns)) {}

std::string_view Element::attr(std::string_view name) const {
  for (const auto& [key, value] : attrs_) {
    if (key == name) return value;
  }
  return {};
}

bool Element::hasAttr(std::string_view name) const {
  for (const auto& attribute : attrs_) {
    if (attribute.first == name) return true;
  }
  return false;
}

Element& Element::setAttr(std::string name, std::string value) {
  for (auto& [key, old] : attrs_) {
    if (key == name) {
      old = std::move(value);
      return *this;
    }
  }
  attrs_.emplace_back(std::move(name), std::move(value));
  return *this;
}

Element& Element::setText(std::string text) {
  text_ = std::move(text);
  return *this;
}

Element& Element::appendText(std::string_view text) {
  text_.append(text);
  return *this;
}

Element& Element::addChild(Element child) { return children_.emplace_back(std::move(child)); }

const Element* Element::child(std::string_view name, std::string_view ns) const {
  for (const Element& c : children_) {
    if (c.name_ == name && (ns.empty() || c.ns_ == ns)) return &c;
  }
  return nullptr;
}

std::string Element::serialize(std::string_view parentNs) const {
  std::string out;
  serializeTo(out, parentNs);
  return out;
}

void Element::serializeTo(std::string& out, std::string_view parentNs) const {
  // The XML namespace may not be a default namespace; it is only ever spelled `xml:`.
  const bool xmlPrefixed = ns_ == detail::kXmlNs;
  out += '<';
  if (xmlPrefixed) out += "xml:";
  out += name_;
  std::string_view effectiveNs = parentNs;
  if (!ns_.empty() && ns_ != parentNs && !xmlPrefixed) {
    out += " xmlns='";
    appendEscapedAttr(out, ns_);
    out += '\'';
    effectiveNs = ns_;
  }
  for (const auto& [key, value] : attrs_) {
    out += ' ';
    out += key;
    out += "='";
    appendEscapedAttr(out, value);
    out += '\'';
  }
  if (text_.empty() && children_.empty()) {
    out += "/>";
    return;
  }
  out += '>';
  appendEscapedText(out, text_);
  for (const Element& c : children_) c.serializeTo(out, effectiveNs);
  out += "</";
  if (xmlPrefixed) out += "xml:";
  out += name_;
  out += '>';
}

namespace {

// Bounds recursion in serialize() and ~Element() for trees built from untrusted bytes;
// the stream parser's own limit (maxDepth) is far below this.
constexpr size_t kMaxParseDepth = 256;

// Builds the tree from SAX events. Open elements are addressed by pointer: an element's
// ancestors never move while it is open (only its own children vector grows).
class TreeBuilder final : public detail::ExpatSink {
 public:
  explicit TreeBuilder(std::string_view defaultNs) { scope_.push({}, defaultNs, 0); }
  void setParser(XML_Parser parser) { parser_ = parser; }

  void onRejected(StreamError error, std::string_view detail) override {
    if (error_) return;
    error_ = Error{std::string(streamErrorName(error)), std::string(detail)};
    XML_StopParser(parser_, XML_FALSE);
  }

  static void onStartThunk(void* ud, const XML_Char* name, const XML_Char** atts) {
    static_cast<TreeBuilder*>(static_cast<detail::ExpatSink*>(ud))->onStart(name, atts);
  }
  static void onEndThunk(void* ud, const XML_Char*) {
    static_cast<TreeBuilder*>(static_cast<detail::ExpatSink*>(ud))->onEnd();
  }
  static void onTextThunk(void* ud, const XML_Char* s, int len) {
    auto* self = static_cast<TreeBuilder*>(static_cast<detail::ExpatSink*>(ud));
    if (!self->error_ && !self->open_.empty()) {
      self->open_.back()->appendText(std::string_view(s, static_cast<size_t>(len)));
    }
  }

  std::optional<Error>& error() { return error_; }
  std::optional<Element>& root() { return root_; }

 private:
  void onStart(const char* name, const char** atts) {
    if (error_) return;
    if (open_.size() >= kMaxParseDepth) {
      onRejected(StreamError::PolicyViolation, "element nesting too deep");
      return;
    }
    const size_t depth = open_.size() + 1;
    for (size_t i = 0; atts[i] != nullptr; i += 2) {
      std::string_view prefix;
      if (!detail::isNsDecl(atts[i], &prefix)) continue;
      bool redundant = false;
      if (const char* why = detail::checkNsDecl(prefix, atts[i + 1], &redundant)) {
        onRejected(StreamError::NotWellFormed, why);
        return;
      }
      if (!redundant) scope_.push(prefix, atts[i + 1], depth);
    }
    std::string_view uri;
    detail::QName qname;
    if (!resolve(name, &qname, &uri)) return;
    Element element{std::string(qname.local), std::string(uri)};
    for (size_t i = 0; atts[i] != nullptr; i += 2) {
      if (!addAttribute(element, atts[i], atts[i + 1])) return;
    }
    if (open_.empty()) {
      root_.emplace(std::move(element));
      open_.push_back(&*root_);
    } else {
      open_.push_back(&open_.back()->addChild(std::move(element)));
    }
  }

  // Keeps unprefixed and xml:* attributes; a prefixed attribute brings along its
  // declaration so the element stays self-contained. Other declarations are dropped:
  // element namespaces live in ns().
  bool addAttribute(Element& element, std::string_view name, std::string_view value) {
    std::string_view declPrefix;
    if (detail::isNsDecl(name, &declPrefix)) return true;
    if (name.find(':') == std::string_view::npos) {
      element.setAttr(std::string(name), std::string(value));
      return true;
    }
    detail::QName qname;
    std::string_view uri;
    if (!resolve(name, &qname, &uri)) return false;
    if (qname.prefix != "xml") {
      std::string decl = "xmlns:";
      decl += qname.prefix;
      const std::string_view bound = element.attr(decl);
      if (!bound.empty() && bound != uri) {
        onRejected(StreamError::NotWellFormed, "prefix conflict");
        return false;
      }
      if (bound.empty()) element.setAttr(std::move(decl), std::string(uri));
    }
    element.setAttr(std::string(name), std::string(value));
    return true;
  }

  bool resolve(std::string_view name, detail::QName* qname, std::string_view* uri) {
    if (!detail::splitQName(name, qname)) {
      onRejected(StreamError::NotWellFormed, "bad name");
      return false;
    }
    if (qname->prefix == "xml") {
      *uri = detail::kXmlNs;
      return true;
    }
    const size_t binding = scope_.find(qname->prefix);
    if (binding == detail::NsScope::kNotFound) {
      onRejected(StreamError::NotWellFormed, "unbound namespace prefix");
      return false;
    }
    *uri = scope_.at(binding).uri;
    return true;
  }

  void onEnd() {
    if (error_ || open_.empty()) return;
    scope_.popDepth(open_.size());
    open_.pop_back();
  }

  XML_Parser parser_ = nullptr;
  detail::NsScope scope_;
  std::vector<Element*> open_;
  std::optional<Element> root_;
  std::optional<Error> error_;
};

// One parser per thread, reset between uses: XML_ParserCreate costs several allocations
// and parseElement runs for every locally handled stanza.
class ThreadParser {
 public:
  ~ThreadParser() {
    if (parser_ != nullptr) XML_ParserFree(parser_);
  }
  XML_Parser get(detail::ExpatSink* sink) {
    if (parser_ == nullptr) {
      parser_ = detail::createHardenedParser(sink);
    } else if (XML_ParserReset(parser_, "UTF-8") == XML_TRUE) {
      detail::hardenParser(parser_, sink);
    } else {
      XML_ParserFree(parser_);
      parser_ = detail::createHardenedParser(sink);
    }
    return parser_;
  }

 private:
  XML_Parser parser_ = nullptr;
};

}  // namespace

Result<Element> parseElement(std::string_view bytes, std::string_view defaultNs) {
  for (size_t pos = 0; pos < 2 && pos < bytes.size(); ++pos) {
    if (detail::startsUtf16(pos, static_cast<uint8_t>(bytes[pos]))) {
      return Error{"unsupported-encoding", "not UTF-8"};
    }
  }
  thread_local ThreadParser threadParser;
  TreeBuilder builder(defaultNs);
  XML_Parser parser = threadParser.get(&builder);
  if (parser == nullptr) return Error{"policy-violation", "out of memory"};
  builder.setParser(parser);
  XML_SetElementHandler(parser, TreeBuilder::onStartThunk, TreeBuilder::onEndThunk);
  XML_SetCharacterDataHandler(parser, TreeBuilder::onTextThunk);

  // XML_Parse takes an int length; hand over large inputs in pieces.
  constexpr size_t kPiece = 1 << 20;
  size_t offset = 0;
  XML_Status status = XML_STATUS_OK;
  do {
    const size_t n = std::min(kPiece, bytes.size() - offset);
    const bool last = offset + n == bytes.size();
    status = XML_Parse(parser, bytes.data() + offset, static_cast<int>(n), last ? XML_TRUE : XML_FALSE);
    offset += n;
  } while (status == XML_STATUS_OK && offset < bytes.size());

  if (builder.error()) return std::move(*builder.error());
  if (status != XML_STATUS_OK) {
    const XML_Error code = XML_GetErrorCode(parser);
    return Error{std::string(streamErrorName(detail::mapExpatError(code))), XML_ErrorString(code)};
  }
  if (!builder.root()) return Error{"not-well-formed", "no element"};
  return std::move(*builder.root());
}

}  // namespace xmesh::xml
