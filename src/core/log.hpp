// Logging set-up: one stderr logger, text or JSON lines. Use spdlog's free functions after init.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/result.hpp"

namespace porthole::log {

enum class Format { text, json };

// Installs the process-wide stderr logger. `level` is a spdlog level name (trace..off).
Result<void> init(std::string_view level, Format format);

// Masks a secret for logs: keeps at most the first 4 characters ("abcd…").
std::string mask(std::string_view secret);

// Escapes a string for inclusion in a JSON log line.
std::string json_escape(std::string_view s);

}  // namespace porthole::log
