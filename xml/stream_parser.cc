#include "xml/stream_parser.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "xml/escape.h"
#include "xml/expat_setup.h"
#include "xml/ns_scope.h"

namespace xmesh::xml {

std::string_view streamErrorName(StreamError error) {
  switch (error) {
    case StreamError::BadFormat: return "bad-format";
    case StreamError::InvalidNamespace: return "invalid-namespace";
    case StreamError::InvalidXml: return "invalid-xml";
    case StreamError::NotWellFormed: return "not-well-formed";
    case StreamError::PolicyViolation: return "policy-violation";
    case StreamError::RestrictedXml: return "restricted-xml";
    case StreamError::UnsupportedEncoding: return "unsupported-encoding";
    case StreamError::InvalidFrom: return "invalid-from";
  }
  return "undefined-condition";
}

namespace {

// Bytes handed to Expat per XML_Parse call. Small enough that the stanza limit is checked
// often, large enough that the per-call overhead vanishes.
constexpr size_t kSliceBytes = 8 * 1024;
// First allocation for a stanza's bytes: most stanzas fit, so one malloc per stanza.
constexpr size_t kStanzaReserve = 512;
// What Expat spends on a name it has not seen before (measured on 2.5.0: ~116 bytes for a
// short element name, ~60 for an attribute name), charged against nameBudgetBytes.
constexpr size_t kElementNameCost = 128;
constexpr size_t kAttributeNameCost = 64;

bool isXmlSpace(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

void appendAttr(std::string& out, std::string_view name, std::string_view value) {
  out += ' ';
  out += name;
  out += "='";
  appendEscapedAttr(out, value);
  out += '\'';
}

}  // namespace

// Depth convention: depth_ counts open elements, the stream root included, so a stanza's
// top element is at depth 2 and "nesting inside the stanza" is depth_ - 1.
class StreamParser::Impl final : public detail::ExpatSink {
 public:
  Impl(StreamHandler& handler, ParserLimits limits) : handler_(handler), limits_(limits) {
    parser_ = newParser();
  }
  ~Impl() override {
    if (parser_ != nullptr) XML_ParserFree(parser_);
  }

  void feed(std::string_view bytes);
  void suspend();
  void resume();
  void reset();
  bool suspended() const { return suspended_; }
  bool failed() const { return failed_; }
  void setLimits(ParserLimits limits) { limits_ = limits; }
  bool releaseIdle();

  void onRejected(StreamError error, std::string_view detail) override { fail(error, detail); }

 private:
  XML_Parser newParser();
  void drive(std::string_view input);
  void drainKept();
  bool afterExpat(XML_Status status);
  void doReset();
  void fail(StreamError error, std::string_view detail);
  // True once events must no longer reach the handler.
  bool stopped() const { return failed_ || closed_ || resetPending_; }
  // Absolute input positions of the current event (indexBase_ maps a recycled parser's
  // positions, which include its synthetic root, back onto the stream).
  uint64_t eventStart() const {
    return static_cast<uint64_t>(indexBase_ + static_cast<int64_t>(XML_GetCurrentByteIndex(parser_)));
  }
  uint64_t eventEnd() const {
    return eventStart() + static_cast<uint64_t>(XML_GetCurrentByteCount(parser_));
  }
  void recycleParser();
  void primeFreshParser(uint64_t at);

  static void onStartThunk(void* ud, const XML_Char* name, const XML_Char** atts);
  static void onEndThunk(void* ud, const XML_Char* name);
  static void onTextThunk(void* ud, const XML_Char* s, int len);
  void onStart(const char* name, const char** atts);
  void onEnd(const char* name);
  void onText(std::string_view text);
  bool declareNamespaces(const char** atts);
  bool resolvePrefix(std::string_view prefix, size_t* binding);
  std::string_view uriOf(std::string_view prefix, size_t binding) const;
  void openStream(const char* name, const char** atts);
  void beginStanza(const detail::QName& qname, std::string_view uri, const char** atts);
  bool writeAttributes(const char** atts, bool top);
  void requireRootDecl(size_t binding);
  void requireDefaultDecl(size_t binding);
  void closeStartTag();

  StreamHandler& handler_;
  ParserLimits limits_;
  XML_Parser parser_ = nullptr;

  // Input accounting (see drive()). fed_ counts bytes given to Expat since the last
  // reset; mark_ is where the current unit began: the stream header, a run of
  // whitespace between stanzas, or a stanza.
  uint64_t fed_ = 0;
  uint64_t mark_ = 0;
  int64_t indexBase_ = 0;

  // Parser recycling (see ParserLimits::nameBudgetBytes).
  size_t nameCost_ = 0;
  std::string rootQName_;         // the root as written, to prime a fresh parser with
  bool priming_ = false;          // feeding the synthetic root: events are ours, not the peer's
  bool inSlice_ = false;          // inside XML_Parse of a slice drive() still holds
  uint64_t sliceStart_ = 0;       // absolute position of that slice
  bool recyclePending_ = false;   // a stanza ended past the budget; swap after XML_Parse
  uint64_t recycleAt_ = 0;        // absolute position where the fresh parser takes over
  bool expatSuspended_ = false;   // Expat itself is suspended (needs XML_ResumeParser)
  std::string kept_;     // input not yet given to Expat (suspended, or fed from a callback)
  std::string scratch_;  // kept_ being parsed by resume(), so callbacks may append to kept_

  bool busy_ = false;     // inside feed()/resume()
  bool inExpat_ = false;  // inside XML_Parse/XML_ResumeParser, i.e. in a callback
  bool suspended_ = false;
  bool resetPending_ = false;
  bool failed_ = false;
  bool closed_ = false;

  detail::NsScope scope_;
  size_t depth_ = 0;
  size_t rootBindings_ = 0;  // scope_[0, rootBindings_) were declared on the stream root
  std::string streamNs_;

  // The stanza under construction.
  Stanza cur_;
  std::vector<char> rootDeclared_;  // per root binding: already declared on cur_'s top element
  bool inTopStartTag_ = false;
  size_t topAttrsEnd_ = 0;  // where late root-prefix declarations go in the top start tag
  std::string lateDecls_;   // root-prefix declarations found after the top start tag
  bool topPrefixed_ = false;    // the top element is spelled with a prefix (<stream:features>)
  bool defaultDeclared_ = false;  // the stream default ns was declared on the top element
  bool startTagOpen_ = false;  // last start tag still lacks its '>' (may become "/>")
  bool haveFirstChild_ = false;
  std::vector<std::pair<std::string_view, std::string_view>> prefixedAttrs_;  // dup check
};

XML_Parser StreamParser::Impl::newParser() {
  XML_Parser parser = detail::createHardenedParser(this);
  // Allocation failure at connection setup is not recoverable in this process.
  assert(parser != nullptr);
  XML_SetElementHandler(parser, onStartThunk, onEndThunk);
  XML_SetCharacterDataHandler(parser, onTextThunk);
  return parser;
}

void StreamParser::Impl::onStartThunk(void* ud, const XML_Char* name, const XML_Char** atts) {
  static_cast<Impl*>(static_cast<detail::ExpatSink*>(ud))->onStart(name, atts);
}
void StreamParser::Impl::onEndThunk(void* ud, const XML_Char* name) {
  static_cast<Impl*>(static_cast<detail::ExpatSink*>(ud))->onEnd(name);
}
void StreamParser::Impl::onTextThunk(void* ud, const XML_Char* s, int len) {
  static_cast<Impl*>(static_cast<detail::ExpatSink*>(ud))
      ->onText(std::string_view(s, static_cast<size_t>(len)));
}

// ---- Input driving -------------------------------------------------------------------

void StreamParser::Impl::feed(std::string_view bytes) {
  if (failed_ || closed_ || bytes.empty()) return;
  if (busy_ || suspended_) {
    kept_.append(bytes);
    return;
  }
  busy_ = true;
  if (parser_ == nullptr) primeFreshParser(fed_);  // released while idle
  drive(bytes);
  drainKept();
  busy_ = false;
  if (resetPending_) doReset();
}

// Feeds `input` in slices. Before each slice the current unit (stanza, header, or run of
// inter-stanza whitespace) may grow to at most maxStanzaBytes: the slice is cut so the
// unit cannot pass the limit, and a unit already at the limit with more input coming is
// refused. So Expat never buffers more than the limit of one element, however the peer
// splits it.
void StreamParser::Impl::drive(std::string_view input) {
  size_t offset = 0;
  while (offset < input.size() && !stopped() && !suspended_) {
    const uint64_t used = fed_ - mark_;
    if (used >= limits_.maxStanzaBytes) {
      fail(StreamError::PolicyViolation, "stanza exceeds size limit");
      return;
    }
    const size_t room = static_cast<size_t>(limits_.maxStanzaBytes - used);
    size_t n = std::min({kSliceBytes, input.size() - offset, room});
    if (fed_ < 2) {
      // The first two bytes go in one at a time, each checked before Expat sees it, so
      // the outcome does not depend on how the peer split them.
      if (detail::startsUtf16(fed_, static_cast<uint8_t>(input[offset]))) {
        fail(StreamError::UnsupportedEncoding, "stream is not UTF-8");
        return;
      }
      n = 1;
    }
    sliceStart_ = fed_;
    fed_ += n;
    inExpat_ = inSlice_ = true;
    const XML_Status status = XML_Parse(parser_, input.data() + offset, static_cast<int>(n), XML_FALSE);
    inExpat_ = inSlice_ = false;
    if (recyclePending_) {
      // Expat stopped right after a stanza; the rest of this slice is still in `input`.
      offset += static_cast<size_t>(recycleAt_ - sliceStart_);
      recycleParser();
      continue;  // the loop condition stops here if the handler also suspended
    }
    offset += n;
    if (!afterExpat(status)) break;
  }
  if (suspended_ && !stopped() && offset < input.size()) {
    // Older than anything a callback appended to kept_ meanwhile, so it goes first.
    kept_.insert(0, input.substr(offset));
  }
}

// Parses what callbacks fed during parsing (kept_), unless parsing must pause.
void StreamParser::Impl::drainKept() {
  while (!kept_.empty() && !suspended_ && !stopped()) {
    scratch_.swap(kept_);
    drive(scratch_);
    scratch_.clear();
  }
}

// Returns whether parsing may continue after an Expat call.
bool StreamParser::Impl::afterExpat(XML_Status status) {
  if (status == XML_STATUS_SUSPENDED) {
    expatSuspended_ = true;
    return false;
  }
  if (status == XML_STATUS_ERROR && !stopped()) {
    // Expat stopped on its own: malformed input.
    const XML_Error code = XML_GetErrorCode(parser_);
    fail(detail::mapExpatError(code), XML_ErrorString(code));
  }
  return !stopped();
}

void StreamParser::Impl::suspend() {
  if (!inExpat_ || suspended_ || stopped()) return;
  suspended_ = true;
  XML_StopParser(parser_, XML_TRUE);
}

void StreamParser::Impl::resume() {
  if (!suspended_ || busy_) return;
  suspended_ = false;
  busy_ = true;
  bool proceed = !stopped();
  if (proceed && expatSuspended_) {
    expatSuspended_ = false;
    inExpat_ = true;
    // Expat kept the rest of the slice it was parsing; finish that first.
    const XML_Status status = XML_ResumeParser(parser_);
    inExpat_ = false;
    proceed = afterExpat(status);
  }
  if (proceed) drainKept();
  busy_ = false;
  if (resetPending_) doReset();
}

void StreamParser::Impl::reset() {
  if (!busy_) {
    doReset();
    return;
  }
  if (resetPending_) return;
  resetPending_ = true;
  if (inExpat_) XML_StopParser(parser_, XML_FALSE);
}

// Swaps in a fresh Expat parser positioned inside the stream root, as if it had parsed
// everything up to recycleAt_. Our own state (namespaces, depth, marks) carries over.
void StreamParser::Impl::recycleParser() {
  recyclePending_ = false;
  XML_ParserFree(parser_);
  parser_ = nullptr;
  primeFreshParser(recycleAt_);
}

// A fresh Expat parser that has seen only a synthetic root start tag, positioned so that
// absolute input position `at` continues the stream.
void StreamParser::Impl::primeFreshParser(uint64_t at) {
  parser_ = newParser();
  std::string prime;
  prime.reserve(rootQName_.size() + 2);
  prime += '<';
  prime += rootQName_;
  prime += '>';
  priming_ = true;
  const XML_Status status = XML_Parse(parser_, prime.data(), static_cast<int>(prime.size()), XML_FALSE);
  priming_ = false;
  // The root name came from Expat itself, so the synthetic tag always parses.
  assert(status == XML_STATUS_OK);
  (void)status;
  indexBase_ = static_cast<int64_t>(at) - static_cast<int64_t>(prime.size());
  fed_ = at;
  nameCost_ = 0;
  expatSuspended_ = false;
}

bool StreamParser::Impl::releaseIdle() {
  if (parser_ == nullptr) return true;
  // Only between stanzas, with every fed byte consumed into complete events.
  if (busy_ || inExpat_ || suspended_ || expatSuspended_ || stopped() || depth_ != 1 ||
      rootQName_.empty() || fed_ != mark_ || !kept_.empty() || recyclePending_)
    return false;
  XML_ParserFree(parser_);
  parser_ = nullptr;
  std::string().swap(kept_);
  std::string().swap(scratch_);
  std::string().swap(lateDecls_);
  cur_ = Stanza{};
  std::vector<std::pair<std::string_view, std::string_view>>().swap(prefixedAttrs_);
  nameCost_ = 0;
  return true;
}

void StreamParser::Impl::doReset() {
  if (parser_ != nullptr) XML_ParserFree(parser_);
  parser_ = newParser();
  fed_ = mark_ = 0;
  indexBase_ = 0;
  nameCost_ = 0;
  rootQName_.clear();
  recyclePending_ = expatSuspended_ = false;
  kept_.clear();
  kept_.shrink_to_fit();  // the plaintext must not linger in memory either
  scratch_.clear();
  suspended_ = resetPending_ = failed_ = closed_ = false;
  scope_.clear();
  depth_ = rootBindings_ = 0;
  streamNs_.clear();
  cur_ = Stanza{};
  lateDecls_.clear();
  inTopStartTag_ = startTagOpen_ = haveFirstChild_ = false;
}

void StreamParser::Impl::fail(StreamError error, std::string_view detail) {
  if (stopped()) return;
  failed_ = true;
  if (inExpat_) XML_StopParser(parser_, XML_FALSE);
  cur_ = Stanza{};  // a partial stanza is attacker-sized garbage now
  handler_.onStreamError(error, detail);
}

// ---- SAX events ----------------------------------------------------------------------

void StreamParser::Impl::onStart(const char* name, const char** atts) {
  if (stopped() || priming_) return;
  size_t attrCount = 0;
  nameCost_ += kElementNameCost + std::strlen(name);
  while (atts[2 * attrCount] != nullptr) {
    nameCost_ += kAttributeNameCost + std::strlen(atts[2 * attrCount]);
    ++attrCount;
  }
  if (attrCount > limits_.maxAttributes) {
    fail(StreamError::PolicyViolation, "too many attributes");
    return;
  }
  if (depth_ == 0) {
    openStream(name, atts);
    return;
  }
  if (depth_ > limits_.maxDepth) {  // the new element would nest at depth_ inside the stanza
    fail(StreamError::PolicyViolation, "element nesting too deep");
    return;
  }
  ++depth_;
  if (!declareNamespaces(atts)) return;
  detail::QName qname;
  if (!detail::splitQName(name, &qname)) {
    fail(StreamError::NotWellFormed, "bad element name");
    return;
  }
  size_t binding = detail::NsScope::kNotFound;
  if (!resolvePrefix(qname.prefix, &binding)) return;
  const std::string_view uri = uriOf(qname.prefix, binding);

  if (depth_ == 2) {
    beginStanza(qname, uri, atts);
    return;
  }
  if (depth_ == 3 && !haveFirstChild_) {
    haveFirstChild_ = true;
    cur_.firstChildName.assign(qname.local);
    cur_.firstChildNs.assign(uri);
  }
  closeStartTag();
  cur_.bytes += '<';
  cur_.bytes += name;
  if (qname.prefix.empty()) {
    requireDefaultDecl(binding);
  } else {
    requireRootDecl(binding);
  }
  if (!writeAttributes(atts, false)) return;
  startTagOpen_ = true;
}

void StreamParser::Impl::openStream(const char* name, const char** atts) {
  depth_ = 1;
  if (!declareNamespaces(atts)) return;
  rootBindings_ = scope_.size();
  detail::QName qname;
  size_t binding = detail::NsScope::kNotFound;
  if (!detail::splitQName(name, &qname)) {
    fail(StreamError::NotWellFormed, "bad element name");
    return;
  }
  if (!resolvePrefix(qname.prefix, &binding)) return;
  if (qname.local != "stream" || binding == detail::NsScope::kNotFound ||
      scope_.at(binding).uri != detail::kStreamsNs) {
    fail(StreamError::InvalidNamespace, "root is not stream in the streams namespace");
    return;
  }
  StreamHeader header;
  for (size_t i = 0; atts[i] != nullptr; i += 2) {
    const std::string_view attr = atts[i];
    if (attr == "to") header.to = atts[i + 1];
    else if (attr == "from") header.from = atts[i + 1];
    else if (attr == "version") header.version = atts[i + 1];
    else if (attr == "id") header.id = atts[i + 1];
    else if (attr == "xml:lang") header.lang = atts[i + 1];
    else if (attr.find(':') != std::string_view::npos && attr.compare(0, 6, "xmlns:") != 0) {
      detail::QName aq;
      size_t ab = 0;
      if (!detail::splitQName(attr, &aq)) {
        fail(StreamError::NotWellFormed, "bad attribute name");
        return;
      }
      if (!resolvePrefix(aq.prefix, &ab)) return;
    }
  }
  const size_t def = scope_.find({});
  if (def != detail::NsScope::kNotFound) header.ns = scope_.at(def).uri;
  streamNs_ = header.ns;
  rootQName_ = name;
  rootDeclared_.assign(rootBindings_, 0);
  mark_ = eventEnd();
  handler_.onStreamOpen(header);
}

void StreamParser::Impl::beginStanza(const detail::QName& qname, std::string_view uri,
                                     const char** atts) {
  mark_ = eventStart();
  cur_ = Stanza{};
  cur_.bytes.reserve(kStanzaReserve);
  lateDecls_.clear();
  topPrefixed_ = !qname.prefix.empty();
  defaultDeclared_ = false;
  std::fill(rootDeclared_.begin(), rootDeclared_.end(), 0);
  haveFirstChild_ = false;
  cur_.name.assign(qname.local);
  cur_.ns.assign(uri);
  cur_.bytes += '<';
  cur_.bytes.append(qname.prefix);
  if (!qname.prefix.empty()) cur_.bytes += ':';
  cur_.bytes.append(qname.local);
  cur_.fromInsertPos = cur_.bytes.size();
  inTopStartTag_ = true;
  if (!qname.prefix.empty()) {
    size_t binding = scope_.find(qname.prefix);
    requireRootDecl(binding);
  }
  const bool ok = writeAttributes(atts, true);
  inTopStartTag_ = false;
  if (!ok) return;
  topAttrsEnd_ = cur_.bytes.size();
  startTagOpen_ = true;
}

// Pushes the element's xmlns declarations (depth_ is the element's depth).
bool StreamParser::Impl::declareNamespaces(const char** atts) {
  for (size_t i = 0; atts[i] != nullptr; i += 2) {
    std::string_view prefix;
    if (!detail::isNsDecl(atts[i], &prefix)) continue;
    const std::string_view uri = atts[i + 1];
    bool redundant = false;
    if (const char* why = detail::checkNsDecl(prefix, uri, &redundant)) {
      fail(StreamError::NotWellFormed, why);
      return false;
    }
    if (!redundant) scope_.push(prefix, uri, depth_);
  }
  return true;
}

// Resolves a prefix; "xml" is predeclared and yields kNotFound like an absent default ns.
bool StreamParser::Impl::resolvePrefix(std::string_view prefix, size_t* binding) {
  *binding = detail::NsScope::kNotFound;
  if (prefix == "xml") return true;
  *binding = scope_.find(prefix);
  if (*binding == detail::NsScope::kNotFound && !prefix.empty()) {
    fail(StreamError::NotWellFormed, "unbound namespace prefix");
    return false;
  }
  return true;
}

// The namespace a resolved prefix stands for ("" when the default ns is undeclared).
std::string_view StreamParser::Impl::uriOf(std::string_view prefix, size_t binding) const {
  if (prefix == "xml") return detail::kXmlNs;
  return binding == detail::NsScope::kNotFound ? std::string_view() : std::string_view(scope_.at(binding).uri);
}

// Writes the attributes of the element whose "<name" was just written. On the top
// element, also captures the routing fields and drops `from` (the router stamps it).
bool StreamParser::Impl::writeAttributes(const char** atts, bool top) {
  std::string& out = cur_.bytes;
  prefixedAttrs_.clear();
  for (size_t i = 0; atts[i] != nullptr; i += 2) {
    const std::string_view attr = atts[i];
    const std::string_view value = atts[i + 1];
    std::string_view declPrefix;
    if (detail::isNsDecl(attr, &declPrefix)) {
      // The stream's default ns is declared by the receiving stream: not repeated, unless
      // the top element is prefixed and the declaration is what its children inherit.
      if (top && !topPrefixed_ && attr.size() == 5 && value == streamNs_) continue;
      if (declPrefix == "xml") continue;
      appendAttr(out, attr, value);
      continue;
    }
    if (attr.find(':') != std::string_view::npos) {
      detail::QName aq;
      size_t binding = 0;
      if (!detail::splitQName(attr, &aq)) {
        fail(StreamError::NotWellFormed, "bad attribute name");
        return false;
      }
      if (!resolvePrefix(aq.prefix, &binding)) return false;
      const std::string_view uri = uriOf(aq.prefix, binding);
      for (const auto& [seenUri, seenLocal] : prefixedAttrs_) {
        if (seenUri == uri && seenLocal == aq.local) {
          fail(StreamError::NotWellFormed, "duplicate attribute");
          return false;
        }
      }
      prefixedAttrs_.emplace_back(uri, aq.local);
      if (binding != detail::NsScope::kNotFound) requireRootDecl(binding);
      if (top && attr == "xml:lang") cur_.lang.assign(value);
    } else if (top) {
      if (attr == "from") {
        cur_.from.assign(value);
        continue;
      }
      if (attr == "to") {
        cur_.to.assign(value);
        cur_.toAttrPos = out.size();
        appendAttr(out, attr, value);
        cur_.toAttrLen = out.size() - cur_.toAttrPos;
        continue;
      }
      if (attr == "type") cur_.type.assign(value);
      else if (attr == "id") cur_.id.assign(value);
    }
    appendAttr(out, attr, value);
  }
  return true;
}

// A prefix used in the stanza but declared on the stream root is declared on the stanza's
// top element, so the stanza bytes stand alone when routed to another stream.
void StreamParser::Impl::requireRootDecl(size_t binding) {
  if (binding >= rootBindings_ || rootDeclared_[binding] != 0) return;
  rootDeclared_[binding] = 1;
  const detail::NsScope::Binding& b = scope_.at(binding);
  if (b.prefix.empty()) return;  // the stream default ns: declared by the receiving stream
  // Rare: first use after the top start tag was written. Collected and inserted once when
  // the stanza ends, so a hostile stanza cannot make us shift its bytes per prefix.
  std::string& target = inTopStartTag_ ? cur_.bytes : lateDecls_;
  target += " xmlns:";
  target += b.prefix;
  target += "='";
  appendEscapedAttr(target, b.uri);
  target += '\'';
}

// Under a prefixed top element (<stream:features>, <db:result>), unprefixed children
// inherit the stream's default ns, which differs from the stanza's own ns. Declaring it
// on the top element keeps parseElement(bytes, stanza.ns) exact.
void StreamParser::Impl::requireDefaultDecl(size_t binding) {
  const bool inherited = binding == detail::NsScope::kNotFound || binding < rootBindings_;
  if (!topPrefixed_ || defaultDeclared_ || !inherited || streamNs_ == cur_.ns) return;
  defaultDeclared_ = true;
  lateDecls_ += " xmlns='";
  appendEscapedAttr(lateDecls_, streamNs_);
  lateDecls_ += '\'';
}

void StreamParser::Impl::closeStartTag() {
  if (startTagOpen_) {
    cur_.bytes += '>';
    startTagOpen_ = false;
  }
}

void StreamParser::Impl::onEnd(const char* name) {
  if (stopped()) return;
  if (depth_ == 1) {
    closed_ = true;
    depth_ = 0;
    if (inExpat_) XML_StopParser(parser_, XML_FALSE);  // anything after the close is ignored
    handler_.onStreamClose();
    return;
  }
  if (startTagOpen_) {
    cur_.bytes += "/>";
    startTagOpen_ = false;
  } else {
    cur_.bytes += "</";
    cur_.bytes += name;
    cur_.bytes += '>';
  }
  scope_.popDepth(depth_);
  --depth_;
  if (depth_ == 1) {
    mark_ = eventEnd();
    if (!lateDecls_.empty()) {
      // Everything recorded so far (the to span) lies before topAttrsEnd_.
      cur_.bytes.insert(topAttrsEnd_, lateDecls_);
      lateDecls_.clear();
    }
    handler_.onStanza(std::move(cur_));
    // Recycle only while drive() holds the rest of the slice (not inside resume()).
    if (nameCost_ > limits_.nameBudgetBytes && inSlice_ && mark_ >= sliceStart_ && !stopped()) {
      recyclePending_ = true;
      recycleAt_ = mark_;
      if (!suspended_) XML_StopParser(parser_, XML_TRUE);
    }
  }
}

void StreamParser::Impl::onText(std::string_view text) {
  if (stopped()) return;
  if (depth_ <= 1) {
    // Whitespace keepalives between stanzas: checked, never stored.
    if (!isXmlSpace(text)) {
      fail(StreamError::NotWellFormed, "text at stream level");
      return;
    }
    mark_ = eventEnd();
    return;
  }
  closeStartTag();
  appendEscapedText(cur_.bytes, text);
}

// ---- Public shell ----------------------------------------------------------------------

StreamParser::StreamParser(StreamHandler& handler, ParserLimits limits)
    : impl_(std::make_unique<Impl>(handler, limits)) {}
StreamParser::~StreamParser() = default;
void StreamParser::feed(std::string_view bytes) { impl_->feed(bytes); }
void StreamParser::suspend() { impl_->suspend(); }
void StreamParser::resume() { impl_->resume(); }
bool StreamParser::suspended() const { return impl_->suspended(); }
void StreamParser::reset() { impl_->reset(); }
void StreamParser::setLimits(ParserLimits limits) { impl_->setLimits(limits); }
bool StreamParser::releaseIdle() { return impl_->releaseIdle(); }
bool StreamParser::failed() const { return impl_->failed(); }

}  // namespace xmesh::xml
