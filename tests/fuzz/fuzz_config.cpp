// Fuzzes config parsing: TOML syntax (toml++) + strict validation of both file kinds, and the
// value spellings (durations, fingerprints). Config files are local input, but a bad one must
// still get a clear error, never a crash.
#include <cstdint>
#include <string_view>

#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)porthole::config::parse_config(text, "fuzz.toml");
  (void)porthole::config::parse_relay_config(text, "fuzz.toml");
  (void)porthole::config::parse_agent_config(text, "fuzz.toml");
  if (size <= 256) {
    (void)porthole::config::parse_duration(text);
    (void)porthole::config::normalize_fingerprint(text);
  }
  return 0;
}
