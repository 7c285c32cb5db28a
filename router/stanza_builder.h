// Small serializers for the stanzas the server itself originates (errors, roster pushes,
// presence it generates). Output is appended to strings; no tree is built.
#pragma once
#include <string>
#include <string_view>

#include "router/directory.h"

namespace xmesh::router {

// RFC 6120 8.3: an error reply to a stanza. `errorType` is cancel/modify/auth/wait.
std::string buildStanzaError(std::string_view element, std::string_view from, std::string_view to,
                             std::string_view id, std::string_view condition,
                             std::string_view errorType, std::string_view text = {});

// Default error type for a defined condition (RFC 6120 8.3.3).
std::string_view defaultErrorType(std::string_view condition);

// RFC 6121 2.1.6 roster push of one item to one resource.
std::string buildRosterPush(std::string_view toFull, const RosterEntry& item, bool removed,
                            std::string_view pushId);
void appendRosterItem(std::string& out, const RosterEntry& item, bool removed);

// A presence stanza the server generates (subscription replies, unavailable on close).
std::string buildPresence(std::string_view from, std::string_view to, std::string_view type);

// A stanza of ours (serialized by the server, no `to` on its root) with ` to='...'`
// inserted after the element name: broadcast presence replayed to one addressee.
std::string withToAttribute(std::string_view bytes, std::string_view to);

// XEP-0203 delayed-delivery stamp inserted before the closing tag of a stored message.
std::string withDelayStamp(std::string_view messageBytes, std::string_view fromDomain,
                           int64_t stampMs);

}  // namespace xmesh::router
