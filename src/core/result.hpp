// Result<T>: a value or an Error, for code paths that must not throw (data path, parsers).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace porthole {

// What kind of failure an Error is, so callers branch on a code and never on message text.
// The stream-level ones travel in mux RESET frames (proto::ResetCode maps onto them).
enum class Errc : std::uint8_t {
  generic = 0,
  refused,         // the local service refused the connection or could not be dialed
  timed_out,       // a deadline passed (dial, read, handshake)
  no_such_tunnel,  // a stream named a tunnel the peer does not have
  shutdown,        // the peer is going away
  cancelled,       // the other side gave up (stream reset, aborted)
  closed,          // the session or connection is gone
  protocol,        // the peer broke the protocol
  conflict,        // a name or port is held by someone else
  forbidden,       // not allowed (scopes, policy)
};

// A short stable name for logs and metrics labels: "refused", "timed_out", ...
std::string_view errc_name(Errc code);

struct Error {
  std::string message;
  Errc code = Errc::generic;
};

template <class... Args>
Error make_error(fmt::format_string<Args...> f, Args&&... args) {
  return Error{fmt::format(f, std::forward<Args>(args)...)};
}
template <class... Args>
Error make_error(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return Error{fmt::format(f, std::forward<Args>(args)...), code};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

}  // namespace porthole
