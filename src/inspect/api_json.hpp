// JSON of the agent API's resources in ngrok's shapes (plus porthole's own fields, which ngrok
// documents as a compatible addition).
#pragma once

#include <nlohmann/json.hpp>

#include "inspect/api.hpp"

namespace porthole::inspect {

nlohmann::ordered_json tunnel_json(const TunnelInfo& t);
nlohmann::ordered_json metrics_json(const StatsSnapshot& s, bool with_gauge);
// `raw` false leaves out the base64 bytes (the live list's summaries).
nlohmann::ordered_json exchange_json(const Exchange& e, bool raw);
nlohmann::ordered_json status_json(const StatusInfo& s, const Recorder* rec);
std::string rfc3339(std::chrono::system_clock::time_point t);
std::string base64(std::string_view bytes);
Result<std::string> base64_decode(std::string_view text);

}  // namespace porthole::inspect
