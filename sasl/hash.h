// Thin BoringSSL wrappers shared by the SASL code (internal to xmesh_sasl).
#pragma once
#include <string>
#include <string_view>

#include "sasl/credentials.h"

namespace xmesh::sasl {

std::string hmac(HashAlg alg, std::string_view key, std::string_view data);
std::string digest(HashAlg alg, std::string_view data);
// Constant time in the contents; the lengths are not secret.
bool constantTimeEqual(std::string_view a, std::string_view b);
std::string xorBytes(std::string_view a, std::string_view b);  // sizes must match

}  // namespace xmesh::sasl
