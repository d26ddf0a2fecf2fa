// Services that should never be on a public port (databases, remote desktops, file shares,
// container and cluster control planes): by well-known port and by process name, so a Postgres
// on port 6000 is still a Postgres. Pure; the app layer looks the process up (diag/ports).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace porthole::policy {

// The service usually on `port` when it is a sensitive one ("PostgreSQL"), else nullopt.
std::optional<std::string_view> sensitive_port(std::uint16_t port);
// The service a process name (/proc/PID/comm) belongs to when it is a sensitive one.
std::optional<std::string_view> sensitive_process(std::string_view comm);

// Why a public tcp endpoint for it is refused, and what to do instead.
std::string sensitive_refusal(std::string_view tunnel, std::uint16_t port, std::string_view service,
                              std::string_view process);

}  // namespace porthole::policy
