#include "tls/selfsigned.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/mem.h>
#include <openssl/nid.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "tls/ssl_error.h"

namespace xmesh::tls {
namespace {

constexpr long kSecondsPerDay = 86400;   // NOLINT(runtime/int)
constexpr long kBackdateSeconds = 3600;  // NOLINT(runtime/int): tolerate clock skew

Status certError(std::string_view context) {
  return Status::fail("cert-error", takeSslErrors(context));
}

// DNS names go into an OpenSSL config-style string ("DNS:a,DNS:b"), so anything but
// hostname characters could inject extra SAN entries; reject rather than escape.
bool validDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*' || c == '_';
    if (!ok) return false;
  }
  return true;
}

constexpr int kMaxDays = 36500;

Status validateNames(const std::vector<std::string>& dnsNames) {
  for (const auto& n : dnsNames) {
    if (!validDnsName(n)) return Status::fail("cert-invalid", "invalid DNS name '" + n + "'");
  }
  return Status::ok();
}

Status validateArgs(const std::vector<std::string>& dnsNames, int days) {
  if (days <= 0 || days > kMaxDays) return Status::fail("cert-invalid", "days out of range");
  return validateNames(dnsNames);
}

Status validateArgs(const std::vector<std::string>& dnsNames, const IssueOptions& window) {
  auto inRange = [](int d) { return d >= -kMaxDays && d <= kMaxDays; };
  if (!inRange(window.notBeforeDaysFromNow) || !inRange(window.notAfterDaysFromNow) ||
      window.notBeforeDaysFromNow >= window.notAfterDaysFromNow) {
    return Status::fail("cert-invalid", "validity window out of range");
  }
  return validateNames(dnsNames);
}

bssl::UniquePtr<EVP_PKEY> generateP256() {
  bssl::UniquePtr<EC_KEY> ec(EC_KEY_new_by_curve_name(NID_X9_62_prime256v1));
  if (!ec || !EC_KEY_generate_key(ec.get())) return nullptr;
  bssl::UniquePtr<EVP_PKEY> key(EVP_PKEY_new());
  if (!key || !EVP_PKEY_assign_EC_KEY(key.get(), ec.release())) return nullptr;
  return key;
}

// A random positive 127-bit serial: unique without a counter to keep (RFC 5280 allows
// up to 20 octets; the clear top bit keeps the DER INTEGER positive).
bool setRandomSerial(X509* cert) {
  uint8_t bytes[16];
  RAND_bytes(bytes, sizeof(bytes));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;  // never a short/zero serial
  bssl::UniquePtr<BIGNUM> bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

bool addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX v3;
  std::memset(&v3, 0, sizeof(v3));
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  bssl::UniquePtr<X509_EXTENSION> ext(X509V3_EXT_nconf_nid(nullptr, &v3, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1);
}

bool addKeyUsage(X509* cert, X509* issuer, bool isCa, bool selfSigned) {
  if (isCa) return addExtension(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
  // A self-signed leaf gets no keyUsage at all (as `openssl req -x509` does): its peers
  // use it as its own trust anchor, and verifiers only treat a certificate as
  // self-signed if it may sign certificates, which RFC 5280 reserves for CA:TRUE.
  if (selfSigned) return true;
  return addExtension(cert, issuer, NID_key_usage, "critical,digitalSignature");
}

std::string sanValue(const std::vector<std::string>& dnsNames) {
  std::string san;
  for (const auto& n : dnsNames) {
    if (!san.empty()) san += ',';
    san += "DNS:" + n;
  }
  return san;
}

// Builds and signs a certificate for `key`. issuer/issuerKey null: self-signed.
Result<bssl::UniquePtr<X509>> buildCertificate(EVP_PKEY* key, const std::string& commonName,
                                               const std::vector<std::string>& dnsNames,
                                               const IssueOptions& window, bool isCa, X509* issuer,
                                               EVP_PKEY* issuerKey) {
  auto fail = [](std::string_view what) {
    return Error{"cert-error", takeSslErrors(what)};
  };
  bssl::UniquePtr<X509> cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), X509_VERSION_3) || !setRandomSerial(cert.get())) {
    return fail("creating certificate");
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (!X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                  reinterpret_cast<const uint8_t*>(commonName.data()),
                                  static_cast<int>(commonName.size()), -1, 0)) {
    return fail("setting subject");
  }
  X509* self = issuer != nullptr ? issuer : cert.get();
  if (!X509_set_issuer_name(cert.get(), X509_get_subject_name(self)) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()),
                       window.notBeforeDaysFromNow * kSecondsPerDay - kBackdateSeconds) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                       window.notAfterDaysFromNow * kSecondsPerDay) ||
      !X509_set_pubkey(cert.get(), key)) {
    return fail("setting validity/key");
  }
  bool ok =
      addExtension(cert.get(), self, NID_basic_constraints,
                   isCa ? "critical,CA:TRUE,pathlen:0" : "critical,CA:FALSE") &&
      addKeyUsage(cert.get(), self, isCa, issuer == nullptr) &&
      addExtension(cert.get(), self, NID_subject_key_identifier, "hash") &&
      (issuer == nullptr ||
       addExtension(cert.get(), self, NID_authority_key_identifier, "keyid:always")) &&
      (isCa || addExtension(cert.get(), self, NID_ext_key_usage, "serverAuth,clientAuth")) &&
      (dnsNames.empty() ||
       addExtension(cert.get(), self, NID_subject_alt_name, sanValue(dnsNames)));
  if (!ok) return fail("adding extensions");
  if (!X509_sign(cert.get(), issuerKey != nullptr ? issuerKey : key, EVP_sha256())) {
    return fail("signing certificate");
  }
  return cert;
}

// Writes through `emit` into path.tmp (created with `mode`), then renames over path.
Status writeFileAtomically(const std::string& path, mode_t mode,
                           const std::function<bool(FILE*)>& emit) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // O_EXCL below: never write through a planted symlink
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::fail("cert-error", "open " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, mode);  // the umask may have narrowed or (for 0644) kept it; be exact
  FILE* file = ::fdopen(fd, "w");
  if (file == nullptr) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::fail("cert-error", "fdopen " + tmp);
  }
  bool ok = emit(file);
  ok = (std::fflush(file) == 0) && ok;
  ok = (::fsync(fd) == 0) && ok;
  ok = (std::fclose(file) == 0) && ok;
  if (!ok) {
    ::unlink(tmp.c_str());
    return certError("writing " + path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::fail("cert-error", "rename to " + path + ": " + std::strerror(err));
  }
  return Status::ok();
}

Status writeKeyAndCert(const std::string& certPath, const std::string& keyPath, EVP_PKEY* key,
                       X509* cert) {
  // Key first: a certificate without its key is useless, the reverse merely stale.
  Status s = writeFileAtomically(keyPath, 0600, [key](FILE* f) {
    return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  if (!s) return s;
  return writeFileAtomically(certPath, 0644,
                             [cert](FILE* f) { return PEM_write_X509(f, cert) == 1; });
}

template <typename T>
Result<bssl::UniquePtr<T>> readPem(const std::string& path, T* (*reader)(FILE*, T**,
                                                                          pem_password_cb*,
                                                                          void*)) {
  FILE* file = std::fopen(path.c_str(), "re");
  if (file == nullptr) {
    return Error{"cert-error", "open " + path + ": " + std::strerror(errno)};
  }
  bssl::UniquePtr<T> value(reader(file, nullptr, nullptr, nullptr));
  std::fclose(file);
  if (!value) return Error{"cert-error", takeSslErrors("parsing " + path)};
  return value;
}

}  // namespace

Status generateSelfSigned(const std::string& certPath, const std::string& keyPath,
                          const std::vector<std::string>& dnsNames, int days, bool isCa) {
  clearSslErrors();
  if (auto s = validateArgs(dnsNames, days); !s) return s;
  bssl::UniquePtr<EVP_PKEY> key = generateP256();
  if (!key) return certError("generating P-256 key");
  std::string cn = dnsNames.empty() ? "xmesh" : dnsNames.front();
  auto cert = buildCertificate(key.get(), cn, dnsNames, IssueOptions{0, days}, isCa, nullptr,
                               nullptr);
  if (!cert) return Status::fail(cert.error().reason, cert.error().detail);
  return writeKeyAndCert(certPath, keyPath, key.get(), cert->get());
}

Status issueCertificate(const std::string& caCertPath, const std::string& caKeyPath,
                        const std::string& certPath, const std::string& keyPath,
                        const std::string& commonName, const std::vector<std::string>& dnsNames,
                        int days) {
  if (auto s = validateArgs(dnsNames, days); !s) return s;
  return issueCertificate(caCertPath, caKeyPath, certPath, keyPath, commonName, dnsNames,
                          IssueOptions{0, days});
}

Status issueCertificate(const std::string& caCertPath, const std::string& caKeyPath,
                        const std::string& certPath, const std::string& keyPath,
                        const std::string& commonName, const std::vector<std::string>& dnsNames,
                        const IssueOptions& options) {
  clearSslErrors();
  if (auto s = validateArgs(dnsNames, options); !s) return s;
  if (commonName.empty() || commonName.size() > 64) {  // ub-common-name (RFC 5280)
    return Status::fail("cert-invalid", "common name must be 1..64 bytes");
  }
  auto caCert = readPem<X509>(caCertPath, PEM_read_X509);
  if (!caCert) return Status::fail(caCert.error().reason, caCert.error().detail);
  auto caKey = readPem<EVP_PKEY>(caKeyPath, PEM_read_PrivateKey);
  if (!caKey) return Status::fail(caKey.error().reason, caKey.error().detail);
  if (!X509_check_private_key(caCert->get(), caKey->get())) {
    return certError("CA key " + caKeyPath + " does not match " + caCertPath);
  }
  if (X509_check_ca(caCert->get()) == 0) {
    return Status::fail("cert-invalid", caCertPath + " is not a CA certificate");
  }
  bssl::UniquePtr<EVP_PKEY> key = generateP256();
  if (!key) return certError("generating P-256 key");
  auto cert = buildCertificate(key.get(), commonName, dnsNames, options, /*isCa=*/false,
                               caCert->get(), caKey->get());
  if (!cert) return Status::fail(cert.error().reason, cert.error().detail);
  return writeKeyAndCert(certPath, keyPath, key.get(), cert->get());
}

}  // namespace xmesh::tls
