// ACME (RFC 8555) response documents, parsed without I/O: the directory, problem documents
// (RFC 7807 + ACME subproblems), orders, authorizations, challenges, and Retry-After values.
// Everything here reads bytes a CA (or anyone on the path before TLS verification) sent, so
// every input is either parsed or refused with a message; nothing throws or asserts
// (fuzz target: tests/fuzz/fuzz_acme.cpp). Depends on core and nlohmann-json only.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::acme {

inline constexpr std::string_view kErrorPrefix = "urn:ietf:params:acme:error:";

struct Subproblem {
  std::string type, detail, identifier;  // identifier: the dns value it is about ("" if none)
};

// An ACME problem document (RFC 8555 6.7): `type` is the full URN.
struct Problem {
  std::string type, detail;
  int status = 0;
  std::vector<Subproblem> subproblems;
  // "badNonce" for urn:ietf:params:acme:error:badNonce, else the whole type.
  std::string short_type() const;
  bool is(std::string_view short_name) const { return short_type() == short_name; }
  // One line for logs and the admin API: "rateLimited: too many certificates (a.example: ...)".
  std::string summary() const;
};

struct Directory {
  std::string new_nonce, new_account, new_order, terms_of_service;
};

struct Challenge {
  std::string type, url, token, status;
  std::optional<Problem> error;
};

struct Authorization {
  std::string status, identifier;  // identifier: the dns name
  bool wildcard = false;
  std::vector<Challenge> challenges;
  std::optional<Problem> error;  // the first failed challenge's error, if any
};

struct Order {
  std::string status, finalize, certificate;
  std::vector<std::string> authorizations, identifiers;
  std::optional<Problem> error;
};

Result<Directory> parse_directory(std::string_view body);
Result<Problem> parse_problem(std::string_view body);
Result<Order> parse_order(std::string_view body);
Result<Authorization> parse_authorization(std::string_view body);
Result<Challenge> parse_challenge(std::string_view body);

// A challenge token is base64url (RFC 8555 8.1), at least 22 characters (128 bits) and at most
// 256: it names a file served on the http port, so anything else is refused.
bool valid_token(std::string_view token);

// Retry-After (RFC 9110 10.2.3): delta-seconds or an IMF-fixdate, relative to `now`; nullopt
// when absent or malformed. Negative (a date in the past) becomes 0.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now);

// The PEM blocks ("-----BEGIN CERTIFICATE-----" ...) of a certificate chain, in order; an error
// when there is none or a block is not closed.
Result<std::vector<std::string>> split_pem_chain(std::string_view pem);

}  // namespace porthole::acme
