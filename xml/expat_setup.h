// Internal: the one place that creates and hardens Expat parsers, shared by the stream
// parser and parseElement() so both refuse the same restricted XML (RFC 6120 §11.1).
#pragma once
#ifndef XML_DTD
// Why: expat.h only declares the billion-laughs setters under XML_DTD; Debian's libexpat
// is built with DTD support (see expat_config.h), so the symbols exist.
#define XML_DTD 1
#endif
#include <expat.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "xml/stream_parser.h"

namespace xmesh::xml::detail {

// The Expat user data of every hardened parser. Restricted constructs are reported here;
// the implementation must stop the parser (XML_StopParser(parser, XML_FALSE)).
class ExpatSink {
 public:
  virtual ~ExpatSink() = default;
  virtual void onRejected(StreamError error, std::string_view detail) = 0;
};

// XML_ParserCreate("UTF-8") without namespace processing, hardened. nullptr on OOM.
XML_Parser createHardenedParser(ExpatSink* sink);
// Re-applies hardening, e.g. after XML_ParserReset (which clears handlers and settings).
// Sets the user data to `sink`; element/character handlers are left to the caller.
void hardenParser(XML_Parser parser, ExpatSink* sink);

// Whether the byte at document position `pos` would make Expat switch to UTF-16. Expat's
// initial sniffing ignores the encoding forced at creation: a NUL in the first two bytes
// or a UTF-16 byte order mark selects UTF-16 (verified on 2.5.0). UTF-8 never has these
// bytes there, so callers refuse them (RFC 6120 §11.6) before Expat sees them.
inline bool startsUtf16(size_t pos, uint8_t byte) {
  return (pos < 2 && byte == 0) || (pos == 0 && (byte == 0xFE || byte == 0xFF));
}

// The stream error for an Expat error code the parser stopped with on its own.
StreamError mapExpatError(XML_Error code);

}  // namespace xmesh::xml::detail
