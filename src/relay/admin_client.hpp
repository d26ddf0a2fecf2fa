// A small HTTP/1.1 client for the relay admin API (`porthole token ... --admin URL`).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/address.hpp"
#include "core/result.hpp"

namespace porthole::relay {

// Parses "http://HOST:PORT[/]", "HOST:PORT" or "PORT" (host 127.0.0.1). https is refused (the
// admin API speaks plain HTTP: put it on loopback or behind a TLS proxy).
Result<HostPort> parse_admin_url(std::string_view url);

struct AdminReply {
  int status = 0;
  std::string body;
};

struct AdminCall {
  std::string method;  // GET, POST, DELETE
  std::string target;  // "/api/tokens"
  std::string body;    // JSON, or empty
  std::string token;   // sent as "Authorization: Bearer <token>" when not empty
  std::chrono::milliseconds timeout{10'000};
};

// Connects, sends one request and reads the reply (at most 16 MiB), all within call.timeout.
Result<AdminReply> admin_request(const HostPort& to, const AdminCall& call);

// The "error" text of a JSON error reply, or the status and raw body.
std::string admin_error_text(const AdminReply& reply);

}  // namespace porthole::relay
