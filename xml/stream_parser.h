// Sans-IO XMPP stream parser: bytes in, stream events out (RFC 6120 §4, §11).
//
// Hardened Expat underneath: restricted XML is refused, namespaces are resolved by hand,
// and the per-stanza byte limit is enforced while bytes arrive, before Expat can buffer
// an oversized element. Each top-level element is delivered as a Stanza (bytes + routing
// fields) as soon as its last byte has been fed.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "xml/stanza.h"

namespace xmesh::xml {

enum class StreamError {  // RFC 6120 §4.9.3 conditions this layer can raise
  BadFormat,
  InvalidNamespace,
  InvalidXml,
  NotWellFormed,
  PolicyViolation,
  RestrictedXml,
  UnsupportedEncoding,
  InvalidFrom /*unused here*/,
};

// The RFC 6120 condition element name: "not-well-formed", "restricted-xml", ...
std::string_view streamErrorName(StreamError error);

struct StreamHeader {
  std::string to, from, version, lang, id;
  std::string ns;  // default ns declared on the stream root, e.g. jabber:client ("" if none)
};

// Receives events synchronously from feed()/resume(). A callback may call suspend(),
// reset() or setLimits() on the parser, but must not destroy it.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual void onStreamOpen(const StreamHeader& header) = 0;
  virtual void onStanza(Stanza&& stanza) = 0;
  virtual void onStreamClose() = 0;
  // At most once per stream; no event follows it until reset().
  virtual void onStreamError(StreamError error, std::string_view detail) = 0;
};

struct ParserLimits {
  size_t maxStanzaBytes = 256 * 1024;  // counted over raw input bytes of one top-level element
  size_t maxDepth = 32;                // element nesting inside a stanza (the stanza itself is 1)
  size_t maxAttributes = 64;           // per element, namespace declarations included
  // Expat keeps every distinct element and attribute name for the parser's lifetime, so a
  // long stream of unique names would grow memory without bound. Names are charged here
  // (about what Expat spends on a new one) and, past this budget, the Expat parser is
  // swapped for a fresh one at the next stanza boundary. Invisible to the handler.
  size_t nameBudgetBytes = 1024 * 1024;
};

class StreamParser {
 public:
  StreamParser(StreamHandler& handler, ParserLimits limits);
  ~StreamParser();
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  // Feeds raw bytes. Events are delivered synchronously. After a stream error (or after
  // </stream:stream>) input is ignored until reset(). While suspended, or when called
  // from inside a callback, the bytes are kept and parsed later in order.
  void feed(std::string_view bytes);
  // From inside a callback: parsing stops after the current event; the unconsumed input
  // is kept inside and is delivered on resume(). Outside a callback: no-op.
  void suspend();
  // Continues with the kept input. Not from inside a callback (ignored there).
  void resume();
  bool suspended() const;
  // Stream restart (after SASL success, after STARTTLS): fresh Expat parser, all buffered
  // and kept input discarded (no plaintext byte survives STARTTLS), error state cleared.
  // Inside a callback it takes effect when the current feed()/resume() returns, and the
  // rest of that input is discarded.
  void reset();
  // E.g. looser after authentication. Applies from the next slice of input.
  void setLimits(ParserLimits limits);
  // Frees the Expat parser and scratch buffers while the stream sits idle between
  // stanzas; the next feed() primes a fresh parser inside the stream root (as parser
  // recycling does), invisibly to the handler. Idle sessions dominate a node's memory:
  // Expat keeps ~10 KiB per parser. Returns false (and does nothing) unless the stream
  // is open, between stanzas, with no partial input, not suspended and not in a callback.
  bool releaseIdle();
  bool failed() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xmesh::xml
