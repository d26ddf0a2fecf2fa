#include "inspect/screen.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace porthole::inspect {

namespace {

constexpr int kLabel = 30;  // ngrok's label column

std::string safe(std::string_view s) {
  std::string out;
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

std::string fit(std::string s, int cols) {
  if (cols <= 0) return {};
  if (static_cast<int>(s.size()) > cols) s.resize(static_cast<std::size_t>(cols));
  return s;
}

std::string field(std::string_view label, std::string_view value) {
  return fmt::format("{:<{}}{}", label, kLabel, value);
}

std::string clock_of(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string duration(std::chrono::nanoseconds d) {
  const double ms = static_cast<double>(d.count()) / 1e6;
  if (ms < 1000) return fmt::format("{:.1f}ms", ms);
  return fmt::format("{:.2f}s", ms / 1000);
}

}  // namespace

std::vector<std::string> render_screen(const ScreenModel& m, int cols, int rows) {
  std::vector<std::string> l;
  const auto& s = m.status;
  const std::string quit = "(Ctrl+C or q to quit)";
  l.push_back(cols > 40 ? fmt::format("{:<{}}{}", "porthole", std::max(0, cols - static_cast<int>(quit.size())), quit)
                        : "porthole");
  l.emplace_back();
  std::string session = s.session;
  if (!s.reason.empty()) session += " (" + s.reason + ")";
  l.push_back(field("Session Status", session));
  std::string account = s.token_name.empty() ? "-" : "token " + s.token_name;
  if (!s.agent_name.empty()) account += " (agent " + s.agent_name + ")";
  l.push_back(field("Account", account));
  l.push_back(field("Version", s.version));
  l.push_back(field("Relay", s.relay));
  l.push_back(field("Latency", s.latency_us > 0 ? fmt::format("{:.1f}ms", static_cast<double>(s.latency_us) / 1000)
                                                 : std::string("-")));
  if (!m.web_interface.empty()) l.push_back(field("Web Interface", m.web_interface));
  for (const auto& t : m.tunnels) {
    std::string where = t.public_url.empty() ? (t.error.empty() ? "(waiting for the relay)" : "(refused: " + t.error + ")")
                                             : t.public_url;
    l.push_back(field("Forwarding", where + " -> " + t.addr));
  }
  l.emplace_back();
  // Summed over the tunnels; percentiles are the largest tunnel's (seconds, like ngrok).
  std::uint64_t ttl = 0;
  std::int64_t opn = 0;
  double rt1 = 0, rt5 = 0, p50 = 0, p90 = 0;
  for (const auto& t : m.tunnels) {
    ttl += t.conns.count;
    opn += t.conns.gauge;
    rt1 += t.conns.rate1;
    rt5 += t.conns.rate5;
    p50 = std::max(p50, t.conns.p50 / 1e9);
    p90 = std::max(p90, t.conns.p90 / 1e9);
  }
  l.push_back(fmt::format("{:<{}}{:<8}{:<8}{:<8}{:<8}{:<8}{:<8}", "Connections", kLabel, "ttl", "opn", "rt1", "rt5", "p50",
                          "p90"));
  l.push_back(fmt::format("{:<{}}{:<8}{:<8}{:<8.2f}{:<8.2f}{:<8.2f}{:<8.2f}", "", kLabel, ttl, opn, rt1, rt5, p50, p90));
  for (const auto& n : m.notes) l.push_back(fit("! " + safe(n), cols));
  if (!m.latest.empty()) {
    l.emplace_back();
    l.push_back("HTTP Requests");
    l.push_back("-------------");
    l.emplace_back();
    for (const auto& e : m.latest) {
      if (static_cast<int>(l.size()) >= rows) break;
      const auto status = e->has_response ? fmt::format("{} {}", e->status, e->reason)
                                          : std::string("(") + (e->error.empty() ? "no response" : e->error) + ")";
      // ngrok's layout: time, method, path, status; the path takes what the width leaves.
      const int path_w = std::max(8, std::min(60, cols - 14 - 8 - 24 - 10));
      l.push_back(fmt::format("{:<14}{:<8}{:<{}} {:<24}{}", clock_of(e->start), safe(e->method), fit(safe(e->uri), path_w),
                              path_w, fit(safe(status), 23), duration(e->duration)));
    }
  }
  if (static_cast<int>(l.size()) > rows) l.resize(static_cast<std::size_t>(std::max(0, rows)));
  for (auto& line : l) line = fit(std::move(line), cols);
  return l;
}

}  // namespace porthole::inspect
