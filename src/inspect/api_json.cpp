#include "inspect/api_json.hpp"

#include <ctime>

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
                  {"upgraded", e.upgraded}};
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
                    {"body_limit", rec->limits().body}};
  }
  return j;
}

}  // namespace porthole::inspect
