#include "acme/status_json.hpp"

namespace porthole::acme {

namespace {

nlohmann::json when(std::time_t t) {
  if (t == 0) return nullptr;
  return format_time(t);
}

}  // namespace

nlohmann::json to_json(const CertificateStatus& s) {
  nlohmann::json j{{"host", s.host},
                   {"state", s.state},
                   {"step", s.step.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.step)},
                   {"not_before", when(s.not_before)},
                   {"not_after", when(s.not_after)},
                   {"renew_at", when(s.renew_at)},
                   {"next_attempt", when(s.next_attempt)},
                   {"failures", s.failures},
                   {"error", s.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.error)},
                   {"problem", nullptr}};
  if (s.problem) {
    auto subs = nlohmann::json::array();
    for (const auto& sp : s.problem->subproblems) {
      subs.push_back({{"type", sp.type}, {"detail", sp.detail}, {"identifier", sp.identifier}});
    }
    j["problem"] = {{"type", s.problem->type}, {"detail", s.problem->detail}, {"status", s.problem->status},
                    {"subproblems", subs}};
  }
  return j;
}

}  // namespace porthole::acme
