#include "sasl/failure.h"

#include <array>
#include <utility>

namespace xmesh::sasl {
namespace {

constexpr std::array<std::pair<Failure, std::string_view>, 11> kNames = {{
    {Failure::Aborted, "aborted"},
    {Failure::AccountDisabled, "account-disabled"},
    {Failure::CredentialsExpired, "credentials-expired"},
    {Failure::EncryptionRequired, "encryption-required"},
    {Failure::IncorrectEncoding, "incorrect-encoding"},
    {Failure::InvalidAuthzid, "invalid-authzid"},
    {Failure::InvalidMechanism, "invalid-mechanism"},
    {Failure::MalformedRequest, "malformed-request"},
    {Failure::MechanismTooWeak, "mechanism-too-weak"},
    {Failure::NotAuthorized, "not-authorized"},
    {Failure::TemporaryAuthFailure, "temporary-auth-failure"},
}};

}  // namespace

std::string_view failureName(Failure failure) {
  for (const auto& [f, name] : kNames) {
    if (f == failure) return name;
  }
  return "not-authorized";
}

std::optional<Failure> failureFromName(std::string_view name) {
  for (const auto& [f, n] : kNames) {
    if (n == name) return f;
  }
  return std::nullopt;
}

}  // namespace xmesh::sasl
