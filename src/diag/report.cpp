#include "diag/report.hpp"

#include <fmt/format.h>

namespace porthole::diag {

std::string render_report_text(const Report& r, const Facts& f) {
  std::string out = f.port ? fmt::format("porthole doctor: port {}\n\n", *f.port) : "porthole doctor\n\n";
  for (const auto& c : r.checks) {
    out += fmt::format("  {} {}", status_symbol(c.status), c.title);
    if (!c.detail.empty()) out += fmt::format(": {}", c.detail);
    out += "\n";
    if (!c.fix.empty() && (c.status == Status::fail || c.status == Status::warn)) {
      out += fmt::format("      fix: {}\n", c.fix);
    }
  }
  out += fmt::format("\n=> {}\n", r.recommendation);
  return out;
}

nlohmann::json report_to_json(const Report& r, const Facts& f) {
  auto checks = nlohmann::json::array();
  for (const auto& c : r.checks) {
    checks.push_back({{"id", c.id},
                      {"title", c.title},
                      {"status", status_name(c.status)},
                      {"detail", c.detail},
                      {"fix", c.fix}});
  }
  nlohmann::json j = {{"port", f.port ? nlohmann::json(*f.port) : nlohmann::json(nullptr)},
                      {"checks", checks},
                      {"nat", nat_name(r.nat)},
                      {"verdict", r.verdict},
                      {"recommendation", r.recommendation}};
  if (f.network.value) {
    j["lan_address"] = f.network.value->lan_address;
    j["gateway"] = f.network.value->gateway;
  }
  if (f.router.value && !f.router.value->external_ip.empty()) j["external_ip"] = f.router.value->external_ip;
  if (f.relay.value) j["observed_ip"] = f.relay.value->observed_ip;
  if (f.hops.value) j["hops"] = *f.hops.value;
  return j;
}

}  // namespace porthole::diag
