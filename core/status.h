// Errors as values on the data plane (no exceptions past start-up).
#pragma once
#include <string>
#include <utility>
#include <variant>

namespace xmesh {

// A failed operation: a stable machine-readable reason (used for metrics labels and
// XMPP error mapping) plus a human-readable detail for logs.
struct Error {
  std::string reason;
  std::string detail;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status fail(std::string reason, std::string detail = {}) {
    Status s;
    s.ok_ = false;
    s.error_ = Error{std::move(reason), std::move(detail)};
    return s;
  }
  bool isOk() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  bool ok_ = true;
  Error error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::move(e)) {}      // NOLINT
  bool isOk() const { return v_.index() == 0; }
  explicit operator bool() const { return isOk(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace xmesh
