#include "sasl/scram.h"

#include <cassert>
#include <charconv>
#include <mutex>
#include <vector>

#include "jid/jid.h"
#include "jid/prep.h"
#include "sasl/hash.h"

namespace xmesh::sasl {
namespace {

// Bounds checked before any parsing work (tighter before authentication): a user name
// is at most 1023 bytes prepared, 3x that escaped.
constexpr size_t kMaxMessageBytes = 8192;
constexpr size_t kMaxNonceBytes = 1024;
constexpr size_t kNonceRandomBytes = 18;  // 24 base64 characters
constexpr uint32_t kMaxClientIterations = 10'000'000;

struct PolicyHolder {
  std::mutex mutex;
  UnknownUserPolicy policy{randomBytes(32)};
};

PolicyHolder& policyHolder() {
  static PolicyHolder holder;
  return holder;
}

UnknownUserPolicy currentPolicy() {
  PolicyHolder& h = policyHolder();
  std::lock_guard lock(h.mutex);
  return h.policy;
}

Error fail(Failure f, std::string detail) {
  return Error{std::string(failureName(f)), std::move(detail)};
}

std::vector<std::string_view> splitFields(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// "x=value" with x the expected attribute letter.
bool attr(std::string_view field, char name, std::string_view* value) {
  if (field.size() < 2 || field[0] != name || field[1] != '=') return false;
  *value = field.substr(2);
  return true;
}

// RFC 5802 extensions: attr-val = ALPHA "=" value. Unknown ones are ignored.
bool isExtension(std::string_view field) {
  return field.size() >= 2 && ((field[0] >= 'a' && field[0] <= 'z') ||
                               (field[0] >= 'A' && field[0] <= 'Z')) && field[1] == '=';
}

// printable = %x21-2B / %x2D-7E (no comma; commas were split off already).
bool isValidNonce(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > kMaxNonceBytes) return false;
  for (char c : nonce) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E || c == ',') return false;
  }
  return true;
}

// saslname: "=2C" is ',', "=3D" is '='; any other '=' is an encoding error.
Result<std::string> decodeSaslname(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=') {
      out += text[i];
      continue;
    }
    std::string_view esc = text.substr(i + 1, 2);
    if (esc == "2C") {
      out += ',';
    } else if (esc == "3D") {
      out += '=';
    } else {
      return fail(Failure::MalformedRequest, "bad saslname escape");
    }
    i += 2;
  }
  if (out.find('\0') != std::string::npos || !jid::isValidUtf8(out)) {
    return fail(Failure::MalformedRequest, "saslname is not UTF-8");
  }
  return out;
}

std::string encodeSaslname(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

std::string makeNonce() { return base64Encode(randomBytes(kNonceRandomBytes)); }

}  // namespace

void setUnknownUserPolicy(UnknownUserPolicy policy) {
  PolicyHolder& h = policyHolder();
  std::lock_guard lock(h.mutex);
  if (policy.secret.empty()) policy.secret = h.policy.secret;
  if (policy.saltLength == 0) policy.saltLength = 16;
  if (policy.iterations == 0) policy.iterations = 4096;
  h.policy = std::move(policy);
}

// ---------------------------------------------------------------- server

ScramServer::ScramServer(HashAlg alg, std::string domain) : alg_(alg), domain_(std::move(domain)) {}

Status ScramServer::checkAuthzid(std::string_view authzid) const {
  if (authzid.empty() || authzid == username_) return Status::ok();
  if (!domain_.empty()) {
    // The usual XMPP form: the bare JID the user authenticates as.
    Result<jid::Jid> asJid = jid::Jid::parse(authzid);
    Result<std::string> local = jid::nodeprep(username_);
    if (asJid && local && asJid->isBare() && asJid->local() == local.value() &&
        asJid->domain() == domain_) {
      return Status::ok();
    }
  }
  return Status::fail(std::string(failureName(Failure::InvalidAuthzid)),
                      "authzid differs from the authenticated user");
}

Result<std::string> ScramServer::receiveClientFirst(std::string_view message) {
  if (state_ != State::Start) return fail(Failure::MalformedRequest, "unexpected client-first");
  state_ = State::Done;  // stays Done unless the message is accepted
  if (message.size() > kMaxMessageBytes) return fail(Failure::MalformedRequest, "too long");

  // gs2-header = gs2-cbind-flag "," [authzid] ","
  size_t flagEnd = message.find(',');
  if (flagEnd == std::string_view::npos) return fail(Failure::MalformedRequest, "no gs2 header");
  size_t authzEnd = message.find(',', flagEnd + 1);
  if (authzEnd == std::string_view::npos) return fail(Failure::MalformedRequest, "no gs2 header");
  std::string_view flag = message.substr(0, flagEnd);
  std::string_view authzField = message.substr(flagEnd + 1, authzEnd - flagEnd - 1);
  if (flag.substr(0, 2) == "p=") {
    return fail(Failure::MalformedRequest, "channel binding requested but not offered");
  }
  // "y": the client could bind but believes we cannot, which is true (no -PLUS offered).
  if (flag != "n" && flag != "y") return fail(Failure::MalformedRequest, "bad gs2 flag");
  std::string authzid;
  if (!authzField.empty()) {
    std::string_view value;
    if (!attr(authzField, 'a', &value) || value.empty()) {
      return fail(Failure::MalformedRequest, "bad authzid field");
    }
    Result<std::string> decoded = decodeSaslname(value);
    if (!decoded) return decoded.error();
    authzid = std::move(decoded.value());
  }

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  std::string_view bare = message.substr(authzEnd + 1);
  std::vector<std::string_view> fields = splitFields(bare);
  std::string_view user;
  std::string_view nonce;
  if (fields.size() < 2 || !attr(fields[0], 'n', &user) || !attr(fields[1], 'r', &nonce)) {
    // An "m=" first field lands here too: mandatory extensions we do not know must fail.
    return fail(Failure::MalformedRequest, "expected n=...,r=...");
  }
  for (size_t i = 2; i < fields.size(); ++i) {
    if (!isExtension(fields[i])) return fail(Failure::MalformedRequest, "bad extension");
  }
  if (!isValidNonce(nonce)) return fail(Failure::MalformedRequest, "bad nonce");
  Result<std::string> decoded = decodeSaslname(user);
  if (!decoded) return decoded.error();
  Result<std::string> prepared = jid::saslprep(decoded.value(), /*storedString=*/false);
  if (!prepared) return fail(Failure::MalformedRequest, "username fails SASLprep");
  if (prepared->empty()) return fail(Failure::MalformedRequest, "empty username");

  username_ = std::move(prepared.value());
  if (Status s = checkAuthzid(authzid); !s) return s.error();
  gs2Header_ = std::string(message.substr(0, authzEnd + 1));
  clientFirstBare_ = std::string(bare);
  clientNonce_ = std::string(nonce);
  state_ = State::GotClientFirst;
  return username_;
}

std::string ScramServer::makeServerFirst(const ScramCredentials* creds) {
  assert(state_ == State::GotClientFirst && "makeServerFirst before receiveClientFirst");
  if (state_ != State::GotClientFirst) return {};
  state_ = State::SentServerFirst;

  std::string salt;
  uint32_t iterations = 0;
  knownUser_ = creds != nullptr && creds->alg == alg_ && creds->iterations > 0 &&
               creds->storedKey.size() == hashSize(alg_);
  if (knownUser_) {
    salt = creds->salt;
    iterations = creds->iterations;
    storedKey_ = creds->storedKey;
    serverKey_ = creds->serverKey;
  } else {
    UnknownUserPolicy policy = currentPolicy();
    std::string label = std::string(mechanismName(alg_)) + '\0' + username_;
    salt = hmac(HashAlg::Sha256, policy.secret, label);
    while (salt.size() < policy.saltLength) salt += hmac(HashAlg::Sha256, policy.secret, salt);
    salt.resize(policy.saltLength);
    iterations = policy.iterations;
    // Random keys: step 3 runs the same computation as for a real user and fails.
    storedKey_ = randomBytes(hashSize(alg_));
    serverKey_ = randomBytes(hashSize(alg_));
  }
  nonce_ = clientNonce_ + (serverNonceForTest_.empty() ? makeNonce() : serverNonceForTest_);
  serverFirst_ = "r=" + nonce_ + ",s=" + base64Encode(salt) + ",i=" + std::to_string(iterations);
  return serverFirst_;
}

std::variant<std::string, Failure> ScramServer::receiveClientFinal(std::string_view message) {
  if (state_ != State::SentServerFirst) return Failure::MalformedRequest;
  state_ = State::Done;
  if (message.size() > kMaxMessageBytes) return Failure::MalformedRequest;

  // client-final-message = client-final-message-without-proof "," proof; proof is last.
  size_t proofPos = message.rfind(",p=");
  if (proofPos == std::string_view::npos) return Failure::MalformedRequest;
  std::string_view without = message.substr(0, proofPos);
  std::string_view proofB64 = message.substr(proofPos + 3);
  if (proofB64.find(',') != std::string_view::npos) return Failure::MalformedRequest;

  std::vector<std::string_view> fields = splitFields(without);
  std::string_view cbind;
  std::string_view nonce;
  if (fields.size() < 2 || !attr(fields[0], 'c', &cbind) || !attr(fields[1], 'r', &nonce)) {
    return Failure::MalformedRequest;
  }
  for (size_t i = 2; i < fields.size(); ++i) {
    if (!isExtension(fields[i])) return Failure::MalformedRequest;
  }
  Result<std::string> cbindInput = base64Decode(cbind);
  if (!cbindInput) return Failure::IncorrectEncoding;
  // Without channel binding, c= carries exactly the gs2 header of client-first.
  if (cbindInput.value() != gs2Header_) return Failure::MalformedRequest;
  if (nonce != nonce_) return Failure::NotAuthorized;
  Result<std::string> proof = base64Decode(proofB64);
  if (!proof) return Failure::IncorrectEncoding;
  if (proof->size() != hashSize(alg_)) return Failure::MalformedRequest;

  std::string authMessage = clientFirstBare_;
  authMessage.append(1, ',').append(serverFirst_).append(1, ',').append(without);
  std::string clientSignature = hmac(alg_, storedKey_, authMessage);
  std::string clientKey = xorBytes(proof.value(), clientSignature);
  bool match = constantTimeEqual(digest(alg_, clientKey), storedKey_);
  if (!match || !knownUser_) return Failure::NotAuthorized;
  return "v=" + base64Encode(hmac(alg_, serverKey_, authMessage));
}

// ---------------------------------------------------------------- client

ScramClient::ScramClient(HashAlg alg, std::string username, std::string password)
    : alg_(alg), username_(std::move(username)), password_(std::move(password)) {}

void ScramClient::setSaltedPasswordCache(std::string salted, std::string salt,
                                         uint32_t iterations) {
  cachedSalted_ = std::move(salted);
  cachedSalt_ = std::move(salt);
  cachedIterations_ = iterations;
}

std::string ScramClient::clientFirst() {
  if (clientNonce_.empty()) clientNonce_ = makeNonce();
  Result<std::string> prepared = jid::saslprep(username_, /*storedString=*/false);
  std::string_view name = prepared ? std::string_view(prepared.value()) : username_;
  clientFirstBare_ = "n=" + encodeSaslname(name) + ",r=" + clientNonce_;
  return "n,," + clientFirstBare_;
}

Result<std::string> ScramClient::receiveServerFirst(std::string_view message) {
  auto bad = [](std::string detail) { return Error{"scram-bad-server-first", std::move(detail)}; };
  if (clientFirstBare_.empty()) return bad("clientFirst() not called");
  if (message.size() > kMaxMessageBytes) return bad("too long");
  std::vector<std::string_view> fields = splitFields(message);
  std::string_view nonce;
  std::string_view saltB64;
  std::string_view iterText;
  if (fields.size() < 3 || !attr(fields[0], 'r', &nonce) || !attr(fields[1], 's', &saltB64) ||
      !attr(fields[2], 'i', &iterText)) {
    return bad("expected r=...,s=...,i=...");
  }
  if (!isValidNonce(nonce) || nonce.size() <= clientNonce_.size() ||
      nonce.substr(0, clientNonce_.size()) != clientNonce_) {
    return bad("server nonce does not extend the client nonce");
  }
  Result<std::string> salt = base64Decode(saltB64);
  if (!salt || salt->empty()) return bad("bad salt");
  uint32_t iterations = 0;
  const char* end = iterText.data() + iterText.size();
  auto [ptr, ec] = std::from_chars(iterText.data(), end, iterations);
  if (iterText.empty() || ec != std::errc() || ptr != end || iterations == 0 ||
      iterations > kMaxClientIterations) {
    return bad("bad iteration count");
  }

  if (!cachedSalted_.empty() && cachedSalt_ == salt.value() && cachedIterations_ == iterations) {
    salted_ = cachedSalted_;
  } else {
    salted_ = saltedPassword(alg_, password_, salt.value(), iterations);
  }
  salt_ = std::move(salt.value());
  iterations_ = iterations;

  std::string without = "c=" + base64Encode("n,,") + ",r=" + std::string(nonce);
  std::string authMessage = clientFirstBare_ + "," + std::string(message) + "," + without;
  std::string clientKey = hmac(alg_, salted_, "Client Key");
  std::string storedKey = digest(alg_, clientKey);
  std::string proof = xorBytes(clientKey, hmac(alg_, storedKey, authMessage));
  expectedServerSignature_ = hmac(alg_, hmac(alg_, salted_, "Server Key"), authMessage);
  return without + ",p=" + base64Encode(proof);
}

Status ScramClient::verifyServerFinal(std::string_view message) {
  if (expectedServerSignature_.empty()) {
    return Status::fail("scram-bad-server-final", "receiveServerFirst() not completed");
  }
  std::string_view first = message.substr(0, message.find(','));
  std::string_view value;
  if (attr(first, 'e', &value)) return Status::fail("scram-server-error", std::string(value));
  if (!attr(first, 'v', &value)) return Status::fail("scram-bad-server-final", "expected v=");
  Result<std::string> signature = base64Decode(value);
  if (!signature) return Status::fail("scram-bad-server-final", "bad base64");
  if (!constantTimeEqual(signature.value(), expectedServerSignature_)) {
    return Status::fail("scram-server-signature-mismatch");
  }
  return Status::ok();
}

}  // namespace xmesh::sasl
