// Errors as values. Expected failures (bad record, broker unavailable, disk full) travel as a
// Status or Result<T>; exceptions are for bugs and start-up misconfiguration only.
// Every error is classified so the caller knows what to do with it:
//   kRetriable — try the same step again later (broker down, transient I/O);
//   kReplay    — abandon the batch and re-run it from its write-ahead entry (partial output);
//   kFatal     — stop the job with the message (bad setting, data loss, corrupt checkpoint).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kpipe {

enum class ErrorKind { kRetriable, kReplay, kFatal };

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status success() { return Status(); }
  static Status retriable(std::string msg) { return Status(ErrorKind::kRetriable, std::move(msg)); }
  static Status replay(std::string msg) { return Status(ErrorKind::kReplay, std::move(msg)); }
  static Status fatal(std::string msg) { return Status(ErrorKind::kFatal, std::move(msg)); }

  bool ok() const { return !error_; }
  ErrorKind kind() const { return error_ ? error_->kind : ErrorKind::kFatal; }
  bool is_retriable() const { return error_ && error_->kind == ErrorKind::kRetriable; }
  const std::string& message() const {
    static const std::string kEmpty;
    return error_ ? error_->message : kEmpty;
  }
  // Prefixes the message with where it happened ("writing parquet: ...").
  Status& with_context(const std::string& context) {
    if (error_) error_->message = context + ": " + error_->message;
    return *this;
  }
  static const char* kind_name(ErrorKind k) {
    switch (k) {
      case ErrorKind::kRetriable: return "retriable";
      case ErrorKind::kReplay: return "replay";
      case ErrorKind::kFatal: return "fatal";
    }
    return "?";
  }

 private:
  struct Error {
    ErrorKind kind;
    std::string message;
  };
  Status(ErrorKind kind, std::string msg) : error_(Error{kind, std::move(msg)}) {}
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kpipe

#define KPIPE_CONCAT_INNER(a, b) a##b
#define KPIPE_CONCAT(a, b) KPIPE_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when it is not ok.
#define KPIPE_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::kpipe::Status _kpipe_st = (expr);    \
    if (!_kpipe_st.ok()) return _kpipe_st; \
  } while (0)

#define KPIPE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// KPIPE_ASSIGN_OR_RETURN(auto x, Compute());
#define KPIPE_ASSIGN_OR_RETURN(lhs, expr) KPIPE_ASSIGN_OR_RETURN_IMPL(KPIPE_CONCAT(_kpipe_res_, __LINE__), lhs, expr)
