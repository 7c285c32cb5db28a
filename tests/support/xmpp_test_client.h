// A blocking XMPP client for tests: a real TCP socket, real TLS (BoringSSL via
// tls::TlsSession) and the project's own stream parser for what the server sends.
// Simple on purpose: one thread, poll() with timeouts, stanzas collected in a queue.
#pragma once
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "tls/context.h"
#include "tls/session.h"
#include "xml/element.h"
#include "xml/stream_parser.h"

namespace xmesh::testing {

class XmppTestClient : public xml::StreamHandler {
 public:
  explicit XmppTestClient(std::string domain = "localhost");
  ~XmppTestClient() override;

  bool connect(int port);
  void sendRaw(std::string_view bytes);
  // Next top-level element from the server, or nullopt on timeout/close.
  std::optional<xml::Stanza> next(int timeoutMs = 3000);
  // Waits for a stanza satisfying pred, discarding others (kept count in skipped()).
  template <typename Pred>
  std::optional<xml::Stanza> waitFor(Pred pred, int timeoutMs = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now()).count());
      auto s = next(std::max(left, 1));
      if (!s) return std::nullopt;
      if (pred(*s)) return s;
    }
    return std::nullopt;
  }

  // Full negotiation: stream, STARTTLS, SCRAM-SHA-1, bind. Returns false with lastError().
  bool login(const std::string& user, const std::string& password, const std::string& resource = "t");
  bool openStream();
  bool startTls();
  // XEP-0368: TLS from the first byte (call right after connect()).
  bool directTls();
  bool authScram(const std::string& user, const std::string& password);
  bool bind(const std::string& resource);
  void sendPresence(int priority = 0);
  void sendMessage(const std::string& to, const std::string& body, const std::string& id = {});
  bool enableSm(bool resume, std::string* smId);
  bool resume(const std::string& previd, uint32_t h);
  // Closes the socket abruptly (no </stream:stream>).
  void dropConnection();
  void closeStream();
  // True when the server closed the connection within the timeout.
  bool waitClosed(int timeoutMs = 3000);
  // Stops reading (to make the server's output queue grow).
  int fd() const { return fd_; }

  const std::string& jid() const { return jid_; }
  const std::string& lastError() const { return error_; }
  const std::string& streamError() const { return streamError_; }
  // The <stream:features/> of the last stream opened (e.g. after SASL).
  const std::string& lastFeatures() const { return features_; }
  uint32_t handled() const { return handled_; }

  // xml::StreamHandler
  void onStreamOpen(const xml::StreamHeader& header) override;
  void onStanza(xml::Stanza&& stanza) override;
  void onStreamClose() override;
  void onStreamError(xml::StreamError error, std::string_view detail) override;

 private:
  bool pump(int timeoutMs);
  bool waitFeatures();
  bool fail(std::string why);

  std::string domain_;
  int fd_ = -1;
  bool closed_ = false;
  bool streamOpened_ = false;
  std::shared_ptr<tls::TlsContext> tlsCtx_;
  std::unique_ptr<tls::TlsSession> tls_;
  std::unique_ptr<xml::StreamParser> parser_;
  std::deque<xml::Stanza> queue_;
  std::string jid_;
  std::string error_;
  std::string streamError_;
  std::string features_;
  uint32_t handled_ = 0;  // XEP-0198 inbound count (message/presence/iq)
};

}  // namespace xmesh::testing
