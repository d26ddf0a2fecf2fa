#include "policy/decision.hpp"

#include <algorithm>

namespace porthole::policy {

Decision decide(const Policy* relay, const Policy* endpoint, Phase phase, const Input& in, bool explain) {
  Decision d;
  if (relay != nullptr) {
    d = evaluate(*relay, phase, in, explain);
    if (!d.rule.empty()) d.rule = "relay:" + d.rule;
    for (auto& t : d.trace) t = "relay " + t;
    if (!d.allow || d.needs_body || d.needs_keys || endpoint == nullptr) return d;
  }
  if (endpoint == nullptr) return d;
  Input next = in;
  next.rate_hits_done = std::max(0, in.rate_hits_done - d.rate_hits);
  if (!d.identity.empty()) next.identity = d.identity;
  std::string rewritten;
  if (d.new_target) {
    rewritten = *d.new_target;
    next.target = rewritten;
  }
  auto e = evaluate(*endpoint, phase, next, explain);
  // The operator's edits come first; the endpoint's follow.
  d.trace.insert(d.trace.end(), e.trace.begin(), e.trace.end());
  e.trace = std::move(d.trace);
  e.add_headers.insert(e.add_headers.begin(), d.add_headers.begin(), d.add_headers.end());
  e.remove_headers.insert(e.remove_headers.begin(), d.remove_headers.begin(), d.remove_headers.end());
  if (!e.new_target && d.new_target) e.new_target = d.new_target;
  if (e.identity.empty()) e.identity = d.identity;
  if (e.rule.empty()) e.rule = d.rule;
  e.rate_hits += d.rate_hits;
  return e;
}

}  // namespace porthole::policy
