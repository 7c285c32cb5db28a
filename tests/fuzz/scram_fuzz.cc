// libFuzzer target: the SASL parsers that see network bytes before authentication.
// Input: one selector byte, then the message(s). For a SCRAM exchange the two client
// messages are separated by the first '\n'.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "sasl/credentials.h"
#include "sasl/plain.h"
#include "sasl/scram.h"

namespace {

using namespace xmesh::sasl;

const ScramCredentials& credsFor(HashAlg alg) {
  // One iteration: the fuzzer is after parsing bugs, not PBKDF2 throughput.
  static const ScramCredentials sha1 = deriveCredentials(HashAlg::Sha1, "pencil", "salt", 1);
  static const ScramCredentials sha256 =
      deriveCredentials(HashAlg::Sha256, "pencil", "salt", 1);
  return alg == HashAlg::Sha1 ? sha1 : sha256;
}

void scramExchange(HashAlg alg, bool knownUser, std::string_view input) {
  size_t split = input.find('\n');
  std::string_view first = input.substr(0, split);
  std::string_view final = split == std::string_view::npos ? "" : input.substr(split + 1);
  ScramServer server(alg, "example.com");
  server.setServerNonceForTest("srv");
  if (!server.receiveClientFirst(first).isOk()) return;
  server.makeServerFirst(knownUser ? &credsFor(alg) : nullptr);
  auto result = server.receiveClientFinal(final);
  // Without the password no input can succeed for an unknown user.
  if (!knownUser && std::holds_alternative<std::string>(result)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: scramExchange(HashAlg::Sha1, true, input); break;
    case 1: scramExchange(HashAlg::Sha256, true, input); break;
    case 2: scramExchange(HashAlg::Sha256, false, input); break;
    case 3: (void)parsePlain(input); break;
    case 4: (void)parseStoredSecrets(input); break;
    default: {
      xmesh::Result<std::string> decoded = base64Decode(input);
      if (decoded.isOk() && base64Encode(decoded.value()).size() != input.size()) {
        __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
