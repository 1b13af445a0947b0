// Errors as values: a function that can fail returns Result<T>, holding either
// its value or an Error whose message a user can act on.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace hostless {

// What kind of failure an error is, so that each edge answers it one way
// (the gateway's HTTP status: gateway/errors.hpp http_status; the CLI's
// exit code: cli/context.hpp exit_code), as leveldb's Status does. kOther: not
// classified; the caller's own default applies.
enum class ErrorKind : unsigned char {
  kOther,
  kInvalid,       // the input is wrong: fix it and ask again
  kNotFound,      // no such site, name, job or file
  kUnavailable,   // not reachable now (a timeout, no peers, a busy node): try again later
  kRefused,       // hostile or forbidden: blocked, a stranger's bad metadata, a rollback
  kIo,            // the disk or the catalog failed
  kShuttingDown,  // the daemon is stopping
};

inline constexpr std::pair<ErrorKind, const char*> kErrorKindNames[] = {
    {ErrorKind::kInvalid, "invalid"},
    {ErrorKind::kNotFound, "not_found"},
    {ErrorKind::kUnavailable, "unavailable"},
    {ErrorKind::kRefused, "refused"},
    {ErrorKind::kIo, "io"},
    {ErrorKind::kShuttingDown, "shutting_down"},
};

// The kind's name in the API's JSON ("not_found", ...); "" for kOther.
inline const char* kind_name(ErrorKind kind) {
  for (const auto& [k, name] : kErrorKindNames) {
    if (k == kind) return name;
  }
  return "";
}
// The inverse; kOther for anything else.
inline ErrorKind parse_kind(const std::string& name) {
  for (const auto& [k, n] : kErrorKindNames) {
    if (name == n) return k;
  }
  return ErrorKind::kOther;
}

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kOther;
};

inline Error make_error(std::string message, ErrorKind kind = ErrorKind::kOther) {
  return Error{std::move(message), kind};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace hostless
