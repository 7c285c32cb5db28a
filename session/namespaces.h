// XML namespaces the c2s session speaks.
#pragma once
#include <string_view>

namespace xmesh::session::ns {
inline constexpr std::string_view kClient = "jabber:client";
inline constexpr std::string_view kStreams = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view kStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kTls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view kSasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view kBind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view kSession = "urn:ietf:params:xml:ns:xmpp-session";
inline constexpr std::string_view kSm = "urn:xmpp:sm:3";
inline constexpr std::string_view kRoster = "jabber:iq:roster";
inline constexpr std::string_view kPing = "urn:xmpp:ping";
inline constexpr std::string_view kDiscoInfo = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view kDiscoItems = "http://jabber.org/protocol/disco#items";
}  // namespace xmesh::session::ns
