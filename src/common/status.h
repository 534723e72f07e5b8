// Errors as values. Expected failures (bad record, broker unavailable, disk full) travel as a
// Status or Result<T>; exceptions are for bugs and start-up misconfiguration only.
// Every error is classified so the caller knows what to do with it:
//   kRetriable — try the same step again later (broker down, transient I/O);
//   kReplay    — abandon the batch and re-run it from its write-ahead entry (partial output);
//   kFatal     — stop the job with the message (bad setting, data loss, corrupt checkpoint).
// Beside its kind, an error carries a code saying what happened (as librdkafka's rd_kafka_resp_err_t
// and Arrow's StatusCode do), so a caller can act on "the entry already exists" or "the checkpoint
// is locked" without parsing the message.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kpipe {

enum class ErrorKind { kRetriable, kReplay, kFatal };

enum class StatusCode {
  kOk,
  kUnknown,          // no more specific code given
  kInvalidArgument,  // a setting or an input that cannot work (the CLI exits 2)
  kNotFound,
  kAlreadyExists,  // a create-if-absent found the name taken (another writer, or our own earlier try)
  kLocked,         // another process holds the lock (the CLI exits 2)
  kIoError,
  kUnavailable,    // broker or store not reachable
  kDataLoss,       // offsets deleted before they were read
  kAborted,        // stopped on purpose (shutdown, a test's crash point)
  kFenced,         // GROUP_ID: another instance owns a partition of the batch now (the batch is abandoned)
  kUnimplemented,  // the store cannot do what was asked (an S3 endpoint without conditional PUTs)
  kInternal,       // a bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status success() { return Status(); }
  static Status retriable(std::string msg, StatusCode code = StatusCode::kUnknown) {
    return Status(ErrorKind::kRetriable, code, std::move(msg));
  }
  static Status replay(std::string msg, StatusCode code = StatusCode::kUnknown) {
    return Status(ErrorKind::kReplay, code, std::move(msg));
  }
  static Status fatal(std::string msg, StatusCode code = StatusCode::kUnknown) {
    return Status(ErrorKind::kFatal, code, std::move(msg));
  }

  bool ok() const { return !error_; }
  ErrorKind kind() const { return error_ ? error_->kind : ErrorKind::kFatal; }
  StatusCode code() const { return error_ ? error_->code : StatusCode::kOk; }
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
  static const char* code_name(StatusCode c) {
    switch (c) {
      case StatusCode::kOk: return "ok";
      case StatusCode::kUnknown: return "unknown";
      case StatusCode::kInvalidArgument: return "invalid argument";
      case StatusCode::kNotFound: return "not found";
      case StatusCode::kAlreadyExists: return "already exists";
      case StatusCode::kLocked: return "locked";
      case StatusCode::kIoError: return "I/O error";
      case StatusCode::kUnavailable: return "unavailable";
      case StatusCode::kDataLoss: return "data loss";
      case StatusCode::kAborted: return "aborted";
      case StatusCode::kFenced: return "fenced";
      case StatusCode::kUnimplemented: return "unimplemented";
      case StatusCode::kInternal: return "internal";
    }
    return "?";
  }

 private:
  struct Error {
    ErrorKind kind;
    StatusCode code;
    std::string message;
  };
  Status(ErrorKind kind, StatusCode code, std::string msg) : error_(Error{kind, code, std::move(msg)}) {}
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  // A Result holds a value or an error, never "no value and no error": an OK status becomes an
  // internal error that says so (Arrow's Result refuses it the same way), instead of a Result
  // whose value() would throw std::bad_variant_access far from the bug.
  Result(Status status)  // NOLINT(google-explicit-constructor)
      : v_(status.ok() ? Status::fatal("internal error: a Result was made from an OK status, without a value",
                                       StatusCode::kInternal)
                       : std::move(status)) {}

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
