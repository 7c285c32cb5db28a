// Certificate minting for local runs and the mesh: a self-signed certificate when the
// operator configured none, and (via xmeshctl) a mesh CA plus CA-issued node
// certificates for mutual-TLS r2r links.
//
// All keys are EC P-256: universally supported, and cheap enough. Measured per full
// TLS 1.3 handshake (perf/tls_handshake_cost.sh, this BoringSSL): server 2.09 M
// instructions with ECDSA P-256, 7.68 M with RSA-2048, 1.71 M with Ed25519 (client
// 3.2 M / 1.8 M / 2.0 M). Ed25519 would save the server 18%, but BoringSSL-based clients
// (Android's Conscrypt, so Conversations; Chrome) do not offer it by default and
// Apple's TLS not at all, so they could not connect; OpenSSL 1.1.1+ clients (slixmpp via
// Python ssl, libstrophe/profanity) would. Operators bringing their own certificate
// should prefer ECDSA P-256 over RSA for the same reason. Certificates
// are X.509v3 with a random 127-bit serial, basicConstraints, keyUsage, DNS SANs (what
// RFC 6125 / RFC 7590 verification looks at; the CN is only a label) and, for leaves,
// extendedKeyUsage serverAuth+clientAuth because mesh nodes are both. Validity starts
// an hour in the past to tolerate clock skew between nodes.
//
// Files are written to a temporary name and renamed into place, so a crash never leaves
// a truncated key; private keys are created with mode 0600. Errors carry reason
// "cert-error" (I/O, crypto) or "cert-invalid" (bad arguments).
#pragma once
#include <string>
#include <vector>

#include "core/status.h"

namespace xmesh::tls {

// Writes a self-signed certificate and its key. The subject CN is dnsNames[0] (or
// "xmesh" when empty). isCa=true makes a CA (keyCertSign) for issueCertificate();
// otherwise a leaf usable directly as its own trust anchor by peers that pin it.
Status generateSelfSigned(const std::string& certPath, const std::string& keyPath,
                          const std::vector<std::string>& dnsNames, int days,
                          bool isCa = false);

// Writes a leaf certificate for `commonName` + `dnsNames`, signed by the CA at
// caCertPath/caKeyPath, and its new key.
Status issueCertificate(const std::string& caCertPath, const std::string& caKeyPath,
                        const std::string& certPath, const std::string& keyPath,
                        const std::string& commonName, const std::vector<std::string>& dnsNames,
                        int days);

// Validity window of an issued certificate, in days relative to now (negative: in the
// past). The usual one-hour backdating applies to notBefore on top. Tests use a window
// entirely in the past for an expired certificate, or in the future for one not yet valid.
struct IssueOptions {
  int notBeforeDaysFromNow = 0;
  int notAfterDaysFromNow = 365;
};

// As above, with an explicit validity window (notBefore must precede notAfter, both
// within +-36500 days).
Status issueCertificate(const std::string& caCertPath, const std::string& caKeyPath,
                        const std::string& certPath, const std::string& keyPath,
                        const std::string& commonName, const std::vector<std::string>& dnsNames,
                        const IssueOptions& options);

}  // namespace xmesh::tls
