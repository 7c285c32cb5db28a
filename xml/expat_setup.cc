#include "xml/expat_setup.h"

#include <cstring>

namespace xmesh::xml::detail {
namespace {

ExpatSink* sinkOf(void* userData) { return static_cast<ExpatSink*>(userData); }

bool isUtf8Name(const char* encoding) {
  // Case-insensitive: XML encoding names are ("UTF-8", "utf-8").
  static constexpr char kUtf8[] = "utf-8";
  for (size_t i = 0; i < sizeof(kUtf8); ++i) {
    char c = encoding[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kUtf8[i]) return false;
  }
  return true;
}

void onXmlDecl(void* ud, const XML_Char* /*version*/, const XML_Char* encoding, int /*standalone*/) {
  // We force UTF-8 at creation, so Expat would silently ignore another declared encoding;
  // RFC 6120 §11.6 wants it refused instead.
  if (encoding != nullptr && !isUtf8Name(encoding)) {
    sinkOf(ud)->onRejected(StreamError::UnsupportedEncoding, "encoding is not UTF-8");
  }
}

void onDoctype(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "DOCTYPE");
}

void onEntityDecl(void* ud, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                  const XML_Char*, const XML_Char*, const XML_Char*) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "entity declaration");
}

void onUnparsedEntityDecl(void* ud, const XML_Char*, const XML_Char*, const XML_Char*,
                          const XML_Char*, const XML_Char*) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "unparsed entity declaration");
}

void onNotationDecl(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, const XML_Char*) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "notation declaration");
}

void onElementDecl(void* ud, const XML_Char*, XML_Content* model) {
  // Why XML_FreeContentModel is skipped: we never reach here without a DOCTYPE, which has
  // already stopped the parser; the model is freed with the parser.
  (void)model;
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "element declaration");
}

void onAttlistDecl(void* ud, const XML_Char*, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "attribute list declaration");
}

void onProcessingInstruction(void* ud, const XML_Char*, const XML_Char*) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "processing instruction");
}

void onComment(void* ud, const XML_Char*) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "comment");
}

void onSkippedEntity(void* ud, const XML_Char*, int) {
  sinkOf(ud)->onRejected(StreamError::RestrictedXml, "entity reference");
}

int onExternalEntityRef(XML_Parser parser, const XML_Char*, const XML_Char*, const XML_Char*,
                        const XML_Char*) {
  // This handler receives the parser, not the user data, so look it up.
  sinkOf(XML_GetUserData(parser))->onRejected(StreamError::RestrictedXml, "external entity");
  return XML_STATUS_ERROR;
}

}  // namespace

XML_Parser createHardenedParser(ExpatSink* sink) {
  XML_Parser parser = XML_ParserCreate("UTF-8");
  if (parser != nullptr) hardenParser(parser, sink);
  return parser;
}

void hardenParser(XML_Parser parser, ExpatSink* sink) {
  XML_SetUserData(parser, sink);
  XML_SetXmlDeclHandler(parser, onXmlDecl);
  XML_SetStartDoctypeDeclHandler(parser, onDoctype);
  XML_SetEntityDeclHandler(parser, onEntityDecl);
  XML_SetUnparsedEntityDeclHandler(parser, onUnparsedEntityDecl);
  XML_SetNotationDeclHandler(parser, onNotationDecl);
  XML_SetElementDeclHandler(parser, onElementDecl);
  XML_SetAttlistDeclHandler(parser, onAttlistDecl);
  XML_SetProcessingInstructionHandler(parser, onProcessingInstruction);
  XML_SetCommentHandler(parser, onComment);
  XML_SetSkippedEntityHandler(parser, onSkippedEntity);
  XML_SetExternalEntityRefHandler(parser, onExternalEntityRef);
  XML_SetParamEntityParsing(parser, XML_PARAM_ENTITY_PARSING_NEVER);
  // Defence in depth: a DOCTYPE never gets this far, but if it did, entity expansion
  // may not amplify input more than 2x after the first 64 KiB of output.
  XML_SetBillionLaughsAttackProtectionMaximumAmplification(parser, 2.0f);
  XML_SetBillionLaughsAttackProtectionActivationThreshold(parser, 64 * 1024);
#ifdef XMESH_HAVE_REPARSE_DEFERRAL
  // With deferral on, Expat holds back a large token split across reads until much more
  // input arrives; a stanza must be delivered as soon as its last byte is fed.
  XML_SetReparseDeferralEnabled(parser, XML_FALSE);
#endif
}

StreamError mapExpatError(XML_Error code) {
  switch (code) {
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
      return StreamError::UnsupportedEncoding;
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
    case XML_ERROR_NOT_STANDALONE:
    case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
      return StreamError::RestrictedXml;
    case XML_ERROR_NO_MEMORY:
      return StreamError::PolicyViolation;
    default:
      return StreamError::NotWellFormed;
  }
}

}  // namespace xmesh::xml::detail
