// A small owning tree for stanzas the server handles locally (roster, bind, SASL, disco).
// Routed stanzas never become trees: see Stanza.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "xml/escape.h"

namespace xmesh::xml {

// An element with resolved namespace, attributes in document order, its direct text
// (concatenated) and child elements. Mixed content keeps text and children apart: on
// serialization the text comes first, which is lossless for XMPP's element-only and
// text-only content models.
//
// Namespaces: ns() is the element's namespace. An empty ns means "inherit the parent's"
// (builder convenience: Element("item") under a roster query needs no namespace), so an
// explicit xmlns='' undeclaration cannot be represented. Attribute names are kept as
// written; a prefixed attribute other than xml:* carries its own xmlns:prefix declaration
// on the same element, so any subtree serializes standalone.
class Element {
 public:
  Element() = default;
  explicit Element(std::string name, std::string ns = {});

  const std::string& name() const { return name_; }
  const std::string& ns() const { return ns_; }

  std::string_view attr(std::string_view name) const;  // "" if absent
  bool hasAttr(std::string_view name) const;
  // Sets (or replaces) an attribute; returns *this for chaining.
  Element& setAttr(std::string name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& attrs() const { return attrs_; }

  const std::string& text() const { return text_; }  // concatenated direct text
  Element& setText(std::string text);
  Element& appendText(std::string_view text);

  // Returns the added child. The reference is invalidated by the next addChild().
  Element& addChild(Element child);
  const std::vector<Element>& children() const { return children_; }
  // First child with that local name and namespace; ns "" matches any namespace.
  const Element* child(std::string_view name, std::string_view ns = {}) const;

  // Serializes canonically (single-quoted attributes, <x/> when empty); ns is written as
  // xmlns='..' only when non-empty and different from parentNs.
  std::string serialize(std::string_view parentNs = {}) const;
  void serializeTo(std::string& out, std::string_view parentNs = {}) const;

 private:
  std::string name_;
  std::string ns_;
  std::vector<std::pair<std::string, std::string>> attrs_;
  std::string text_;
  std::vector<Element> children_;
};

// Parses one element's bytes (e.g. Stanza::bytes) into a tree, with the same restricted
// XML rules as the stream parser. Namespaces are resolved; unprefixed elements without an
// xmlns get defaultNs. For Stanza::bytes pass Stanza::ns or the stream's default ns
// (StreamHeader::ns): the bytes are written so both give the same tree. Errors carry a
// stream error name as reason ("not-well-formed", "restricted-xml",
// "unsupported-encoding", "policy-violation" for nesting > 256).
Result<Element> parseElement(std::string_view bytes, std::string_view defaultNs);

}  // namespace xmesh::xml
