// Result types shared by every mailport library.
//
// An Error carries a message written for the operator and a flag that
// marks whether the same operation may succeed later (temporary) or never
// will (permanent).  SMTP maps the two onto 4xx and 5xx replies, the queue onto
// "deferred" and "bounced".  Exceptions are not used across library
// boundaries; functions that can fail return Result<T> or Status.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mailport {

struct Error {
  std::string message;
  bool temporary = false;
};

inline Error TemporaryError(std::string message) {
  return Error{std::move(message), true};
}

inline Error PermanentError(std::string message) {
  return Error{std::move(message), false};
}

// Result<T> contains either a value or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}   // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok()
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Status is a Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  static Status Ok() { return Status(); }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }

  // REQUIRES: !ok()
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace mailport
