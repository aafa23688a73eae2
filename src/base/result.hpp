// base/result: the error vocabulary of the core and a small Result<T> to carry it.
//
// The core runs where exceptions do not exist, so every fallible call returns a value. Errors are
// deliberately few and broad; the layer that talks to a caller (the SMC dispatcher, the CLI) maps
// them onto its own codes.
#pragma once

#include <type_traits>
#include <utility>

namespace teemm {

enum class Error : unsigned char {
  kOk = 0,
  kInvalidArgument,   // a value outside its domain (unknown type, bad level, bad flags)
  kZeroSize,          // a region or request of no bytes
  kMisaligned,        // an address or size not aligned as required
  kAddressOverflow,   // a range that wraps or reaches past the architectural address limit
  kOverlap,           // a range that overlaps another it may not overlap
  kOutOfMemory,       // a caller-sized pool (regions, table pages, tree nodes) is exhausted
  kNoVirtualSpace,    // no free virtual range large enough
  kNotFound,          // no such object, range or mapping
  kAlreadyMapped,     // the target range already holds a live mapping
  kNotMapped,         // the target range holds no mapping where one was required
  kBusy,              // the object is in use (references outstanding)
  kPermissionDenied,  // the caller may not act on this object
  kLimitReached,      // a quota or configured bound would be exceeded
  kForbiddenMemory,   // memory of a kind the call may not use (secure memory as shared memory, RAM as IO)
};

// A stable, human-readable name for logs and the CLI.
constexpr const char* error_name(Error error) {
  switch (error) {
    case Error::kOk: return "ok";
    case Error::kInvalidArgument: return "invalid argument";
    case Error::kZeroSize: return "zero size";
    case Error::kMisaligned: return "misaligned";
    case Error::kAddressOverflow: return "address overflow";
    case Error::kOverlap: return "overlap";
    case Error::kOutOfMemory: return "out of memory";
    case Error::kNoVirtualSpace: return "no virtual space";
    case Error::kNotFound: return "not found";
    case Error::kAlreadyMapped: return "already mapped";
    case Error::kNotMapped: return "not mapped";
    case Error::kBusy: return "busy";
    case Error::kPermissionDenied: return "permission denied";
    case Error::kLimitReached: return "limit reached";
    case Error::kForbiddenMemory: return "memory not allowed for this use";
  }
  return "unknown error";
}

// Either a T or an Error. T must be default-constructible (every payload in the core is a small
// value type), which keeps this free of unions and placement new.
template <typename T>
class [[nodiscard]] Result {
 public:
  static_assert(std::is_default_constructible_v<T>);

  constexpr Result(T value) : value_(std::move(value)), error_(Error::kOk) {}  // NOLINT: implicit
  constexpr Result(Error error) : value_(), error_(error) {}                   // NOLINT: implicit

  constexpr bool ok() const { return error_ == Error::kOk; }
  constexpr explicit operator bool() const { return ok(); }
  constexpr Error error() const { return error_; }
  constexpr const T& value() const { return value_; }
  constexpr T& value() { return value_; }
  constexpr const T& operator*() const { return value_; }
  constexpr const T* operator->() const { return &value_; }

 private:
  T value_;
  Error error_;
};

// The result of an operation with nothing to return.
class [[nodiscard]] Status {
 public:
  constexpr Status() : error_(Error::kOk) {}
  constexpr Status(Error error) : error_(error) {}  // NOLINT: implicit

  constexpr bool ok() const { return error_ == Error::kOk; }
  constexpr explicit operator bool() const { return ok(); }
  constexpr Error error() const { return error_; }

 private:
  Error error_;
};

}  // namespace teemm
