#include "tests/support/xmpp_test_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sasl/credentials.h"
#include "sasl/scram.h"

namespace xmesh::testing {

XmppTestClient::XmppTestClient(std::string domain) : domain_(std::move(domain)) {
  parser_ = std::make_unique<xml::StreamParser>(*this, xml::ParserLimits{.maxStanzaBytes = 16 << 20});
}

XmppTestClient::~XmppTestClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool XmppTestClient::fail(std::string why) {
  error_ = std::move(why);
  return false;
}

bool XmppTestClient::connect(int port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return fail("connect failed");
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return true;
}

void XmppTestClient::sendRaw(std::string_view bytes) {
  if (fd_ < 0) return;
  std::string wire;
  if (tls_) {
    (void)tls_->write(bytes);
    wire.swap(tls_->pendingCiphertext());
  } else {
    wire.assign(bytes);
  }
  size_t off = 0;
  while (off < wire.size()) {
    ssize_t n = ::send(fd_, wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

bool XmppTestClient::pump(int timeoutMs) {
  if (fd_ < 0 || closed_) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, timeoutMs);
  if (r <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  std::string_view in(buf, static_cast<size_t>(n));
  if (tls_) {
    std::string plain;
    Status st = tls_->feed(in, plain);
    if (tls_->hasPendingCiphertext()) {
      std::string out;
      out.swap(tls_->pendingCiphertext());
      (void)::send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
    }
    if (!st.isOk()) {
      closed_ = true;
      return false;
    }
    parser_->feed(plain);
  } else {
    parser_->feed(in);
  }
  return true;
}

std::optional<xml::Stanza> XmppTestClient::next(int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (queue_.empty()) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) return std::nullopt;
    if (!pump(left) && (closed_ || std::chrono::steady_clock::now() >= deadline)) {
      if (queue_.empty()) return std::nullopt;
    }
  }
  xml::Stanza s = std::move(queue_.front());
  queue_.pop_front();
  if (s.ns == "jabber:client" && (s.name == "message" || s.name == "presence" || s.name == "iq")) ++handled_;
  return s;
}

void XmppTestClient::onStreamOpen(const xml::StreamHeader&) { streamOpened_ = true; }
void XmppTestClient::onStanza(xml::Stanza&& s) {
  if (std::getenv("XMESH_TEST_TRACE")) std::fprintf(stderr, "[%s] << %s\n", jid_.c_str(), s.bytes.c_str());
  if (s.name == "error" && s.ns == "http://etherx.jabber.org/streams") {
    auto el = xml::parseElement(s.bytes, s.ns);
    if (el.isOk() && !el->children().empty()) streamError_ = el->children()[0].name();
  }
  queue_.push_back(std::move(s));
}
void XmppTestClient::onStreamClose() { closed_ = true; }
void XmppTestClient::onStreamError(xml::StreamError, std::string_view) { closed_ = true; }

bool XmppTestClient::openStream() {
  streamOpened_ = false;
  sendRaw("<?xml version='1.0'?><stream:stream to='" + domain_ +
          "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>");
  return waitFeatures();
}

bool XmppTestClient::waitFeatures() {
  auto f = waitFor([](const xml::Stanza& s) { return s.name == "features"; });
  if (!f) return fail("no stream features");
  features_ = f->bytes;
  return true;
}

bool XmppTestClient::startTls() {
  sendRaw("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  auto p = next();
  if (!p || p->name != "proceed") return fail("no proceed");
  tls::ClientOptions o;
  o.insecureSkipVerify = true;
  auto ctx = tls::TlsContext::client(o);
  if (!ctx.isOk()) return fail("tls context");
  tlsCtx_ = ctx.value();
  auto t = tls::TlsSession::connect(*tlsCtx_, domain_);
  if (!t.isOk()) return fail("tls session");
  tls_ = std::move(t.value());
  parser_->reset();
  // Kick the handshake: an empty write produces the ClientHello.
  sendRaw("");
  return openStream();
}

bool XmppTestClient::directTls() {
  tls::ClientOptions o;
  o.insecureSkipVerify = true;
  o.alpn = {"xmpp-client"};
  auto ctx = tls::TlsContext::client(o);
  if (!ctx.isOk()) return fail("tls context");
  tlsCtx_ = ctx.value();
  auto t = tls::TlsSession::connect(*tlsCtx_, domain_);
  if (!t.isOk()) return fail("tls session");
  tls_ = std::move(t.value());
  sendRaw("");
  return true;
}

bool XmppTestClient::authScram(const std::string& user, const std::string& password) {
  sasl::ScramClient c(sasl::HashAlg::Sha1, user, password);
  sendRaw("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>" +
          sasl::base64Encode(c.clientFirst()) + "</auth>");
  auto ch = next();
  if (!ch || ch->name != "challenge") return fail("no challenge: " + (ch ? ch->bytes : std::string("timeout")));
  auto el = xml::parseElement(ch->bytes, ch->ns);
  auto serverFirst = sasl::base64Decode(el->text());
  if (!serverFirst.isOk()) return fail("bad challenge");
  auto final = c.receiveServerFirst(serverFirst.value());
  if (!final.isOk()) return fail("bad server-first");
  sendRaw("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + sasl::base64Encode(final.value()) +
          "</response>");
  auto res = next();
  if (!res || res->name != "success") return fail("auth failed: " + (res ? res->bytes : std::string("timeout")));
  parser_->reset();
  return openStream();
}

bool XmppTestClient::bind(const std::string& resource) {
  sendRaw("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
          resource + "</resource></bind></iq>");
  auto r = waitFor([](const xml::Stanza& s) { return s.name == "iq" && s.id == "bind1"; });
  if (!r || r->type != "result") return fail("bind failed");
  auto el = xml::parseElement(r->bytes, r->ns);
  const xml::Element* b = el->child("bind");
  const xml::Element* j = b ? b->child("jid") : nullptr;
  if (!j) return fail("bind result without jid");
  jid_ = j->text();
  return true;
}

bool XmppTestClient::login(const std::string& user, const std::string& password,
                           const std::string& resource) {
  return openStream() && startTls() && authScram(user, password) && bind(resource);
}

void XmppTestClient::sendPresence(int priority) {
  sendRaw("<presence><priority>" + std::to_string(priority) + "</priority></presence>");
}

void XmppTestClient::sendMessage(const std::string& to, const std::string& body, const std::string& id) {
  std::string m = "<message type='chat' to='";
  xml::appendEscapedAttr(m, to);
  m += "'";
  if (!id.empty()) m += " id='" + id + "'";
  m += "><body>";
  xml::appendEscapedText(m, body);
  m += "</body></message>";
  sendRaw(m);
}

bool XmppTestClient::enableSm(bool resume, std::string* smId) {
  sendRaw(std::string("<enable xmlns='urn:xmpp:sm:3'") + (resume ? " resume='true'" : "") + "/>");
  auto e = waitFor([](const xml::Stanza& s) { return s.name == "enabled" || s.name == "failed"; });
  if (!e || e->name != "enabled") return fail("sm enable failed");
  handled_ = 0;
  auto el = xml::parseElement(e->bytes, e->ns);
  if (smId) *smId = std::string(el->attr("id"));
  return true;
}

bool XmppTestClient::resume(const std::string& previd, uint32_t h) {
  sendRaw("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='" + std::to_string(h) + "'/>");
  auto r = waitFor([](const xml::Stanza& s) { return s.name == "resumed" || s.name == "failed"; });
  if (!r || r->name != "resumed") return fail("resume failed: " + (r ? r->bytes : std::string("timeout")));
  return true;
}

void XmppTestClient::dropConnection() {
  if (fd_ >= 0) {
    linger l{1, 0};  // RST, like a dead network path
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(fd_);
    fd_ = -1;
  }
  closed_ = true;
}

void XmppTestClient::closeStream() { sendRaw("</stream:stream>"); }

bool XmppTestClient::waitClosed(int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (!closed_ && std::chrono::steady_clock::now() < deadline) pump(50);
  return closed_;
}

}  // namespace xmesh::testing
