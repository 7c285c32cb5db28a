// SASL failure conditions, named as RFC 6120 §6.5 names the <failure/> children.
#pragma once
#include <optional>
#include <string_view>

namespace xmesh::sasl {

enum class Failure {
  Aborted,
  AccountDisabled,
  CredentialsExpired,
  EncryptionRequired,
  IncorrectEncoding,
  InvalidAuthzid,
  InvalidMechanism,
  MalformedRequest,
  MechanismTooWeak,
  NotAuthorized,
  TemporaryAuthFailure,
};

std::string_view failureName(Failure failure);  // "not-authorized", ...
// The inverse, for Error::reason strings produced by this library.
std::optional<Failure> failureFromName(std::string_view name);

}  // namespace xmesh::sasl
