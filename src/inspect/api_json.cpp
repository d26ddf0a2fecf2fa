#include "inspect/api_json.hpp"

#include <ctime>
#include <optional>

#include <fmt/format.h>
#include <openssl/evp.h>

namespace porthole::inspect {

using json = nlohmann::ordered_json;

namespace {

// Header fields as ngrok shows them: name -> list of values, in order; names that differ only
// in case are one entry (the first spelling).
json headers_json(const std::vector<proto::http1::Field>& fields) {
  json h = json::object();
  std::map<std::string, std::string> canon;  // lower-case -> first spelling
  for (const auto& f : fields) {
    std::string lower = f.name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto [it, fresh] = canon.emplace(lower, f.name);
    h[it->second].push_back(f.value);
  }
  return h;
}

json capture_json(const Message& m) {
  return {{"body_size", m.body_size}, {"body_kept", m.body.size()}, {"truncated", m.truncated()},
          {"chunked", m.chunked}};
}

// The longest prefix of `s` that is valid UTF-8, or nullopt when an invalid sequence comes
// before the end (a preview cut inside a character is trimmed, not refused).
std::optional<std::string_view> utf8_prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4)) return std::nullopt;
    if (i + n > s.size()) return s.substr(0, i);  // cut inside the last character
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return std::nullopt;
    }
    const auto c1 = static_cast<unsigned char>(s[i + 1 < s.size() ? i + 1 : i]);
    if ((n == 3 && c == 0xe0 && c1 < 0xa0) || (n == 3 && c == 0xed && c1 >= 0xa0) || (n == 4 && c == 0xf0 && c1 < 0x90) ||
        (n == 4 && c == 0xf4 && c1 >= 0x90)) {
      return std::nullopt;  // overlong, surrogate, past U+10FFFF
    }
    i += n;
  }
  return s;
}

const char* opcode_name(int op) {
  switch (op) {
    case 1: return "text";
    case 2: return "binary";
    case 8: return "close";
    case 9: return "ping";
    case 10: return "pong";
    default: return "unknown";
  }
}

json websocket_json(const WsLog& log) {
  std::lock_guard lock(log.mu);
  json list = json::array();
  for (const auto& m : log.messages) {
    json j = {{"from", m.from_client ? "visitor" : "service"},
              {"time", rfc3339(m.time)},
              {"opcode", m.opcode},
              {"type", opcode_name(m.opcode)},
              {"size", m.size},
              {"kept", m.payload.size()},
              {"truncated", m.size > m.payload.size()},
              {"compressed", m.compressed},
              {"payload_base64", base64(m.payload)}};
    if (m.opcode == 1 && !m.compressed) {
      if (auto t = utf8_prefix(m.payload)) j["text"] = *t;
    }
    if (m.opcode == 8) {
      j["close_code"] = m.close_code;
      if (m.payload.size() > 2) {
        if (auto t = utf8_prefix(std::string_view(m.payload).substr(2))) j["close_reason"] = *t;
      }
    }
    list.push_back(std::move(j));
  }
  return {{"messages", std::move(list)},
          {"dropped", log.dropped},
          {"closed", log.closed},
          {"error", log.error},
          {"bad_frames", {{"visitor", log.bad_client}, {"service", log.bad_server}}}};
}

std::string proto_of(int minor) { return minor == 0 ? "HTTP/1.0" : "HTTP/1.1"; }

}  // namespace

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return make_error("not base64: the length is not a multiple of 4");
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return make_error("not base64");
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock keeps the bytes the padding stands for: drop them.
  if (!text.empty() && text.back() == '=') out.pop_back();
  if (text.size() >= 2 && text[text.size() - 2] == '=') out.pop_back();
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

json metrics_json(const StatsSnapshot& s, bool with_gauge) {
  json j = {{"count", s.count}};
  if (with_gauge) j["gauge"] = s.gauge;
  j["rate1"] = s.rate1;
  j["rate5"] = s.rate5;
  j["rate15"] = s.rate15;
  j["p50"] = s.p50;
  j["p90"] = s.p90;
  j["p95"] = s.p95;
  j["p99"] = s.p99;
  return j;
}

json tunnel_json(const TunnelInfo& t) {
  json j = {{"name", t.name},
            {"uri", "/api/tunnels/" + t.name},
            {"public_url", t.public_url},
            {"proto", t.proto},
            {"config", {{"addr", t.addr}, {"inspect", t.inspect}}},
            {"metrics", {{"conns", metrics_json(t.conns, true)}, {"http", metrics_json(t.http, false)}}}};
  if (!t.error.empty()) j["error"] = t.error;
  return j;
}

json exchange_json(const Exchange& e, bool raw) {
  json req = {{"method", e.method}, {"proto", proto_of(e.minor)}, {"headers", headers_json(e.request.headers)},
              {"uri", e.uri}};
  if (raw) req["raw"] = base64(e.request.head + e.request.body);
  json j = {{"uri", "/api/requests/http/" + e.id},
            {"id", e.id},
            {"tunnel_name", e.tunnel},
            {"remote_addr", e.remote_addr},
            {"start", rfc3339(e.start)},
            {"duration", e.duration.count()},
            {"request", std::move(req)},
            {"response", nullptr}};
  if (e.has_response) {
    json resp = {{"status", fmt::format("{} {}", e.status, e.reason)},
                 {"status_code", e.status},
                 {"proto", "HTTP/1.1"},
                 {"headers", headers_json(e.response.headers)}};
    if (raw) resp["raw"] = base64(e.response.head + e.response.body);
    j["response"] = std::move(resp);
  }
  // porthole's additions.
  j["capture"] = {{"request", capture_json(e.request)},
                  {"response", capture_json(e.response)},
                  {"error", e.error},
                  {"replay_of", e.replay_of},
                  {"upgraded", e.upgraded},
                  {"websocket", nullptr}};
  if (e.ws) j["capture"]["websocket"] = websocket_json(*e.ws);
  return j;
}

json status_json(const StatusInfo& s, const Recorder* rec) {
  json j = {{"session", {{"status", s.session},
                         {"reason", s.reason},
                         {"relay", s.relay},
                         {"latency_us", s.latency_us},
                         {"reconnects", s.reconnects}}},
            {"agent", {{"name", s.agent_name}, {"token_name", s.token_name}, {"version", s.version},
                       {"uptime_s", s.uptime_s}}},
            {"inspect", nullptr}};
  if (rec != nullptr) {
    j["inspect"] = {{"captured", rec->captured()},
                    {"dropped", rec->dropped()},
                    {"held", rec->store().size()},
                    {"bytes", rec->store().bytes()},
                    {"max_bytes", rec->store().max_bytes()},
                    {"evicted", rec->store().evicted()},
                    {"body_limit", rec->limits().body},
                    {"ws_bytes", rec->ws_bytes()},
                    {"ws_max_bytes", rec->limits().ws_total},
                    {"db", rec->persister() ? json(rec->persister()->path()) : json(nullptr)}};
  }
  return j;
}

}  // namespace porthole::inspect
