#include "relay/endpoint.hpp"

#include <algorithm>

namespace porthole::relay {

Endpoint::Endpoint(std::string kind, std::string name, std::string token, std::string public_url)
    : kind_(std::move(kind)), name_(std::move(name)), token_(std::move(token)), public_url_(std::move(public_url)) {}

std::vector<Member> Endpoint::attach(Member m, bool pool, Balance balance) {
  const auto* s = m.session.lock().get();
  std::vector<Member> displaced;
  // The same session binding the same tunnel again replaces its own entry.
  std::erase_if(members_, [&](const Member& x) { return x.session.lock().get() == s && x.tunnel == m.tunnel; });
  if (!(pool && (pool_ || members_.empty()))) {
    for (auto& x : members_) {
      if (auto xs = x.session.lock(); xs && !xs->closed() && xs.get() != s) displaced.push_back(x);
    }
    members_.clear();
  }
  pool_ = pool;
  balance_ = balance;
  members_.push_back(std::move(m));
  return displaced;
}

bool Endpoint::detach(const session::Session* s, std::string_view tunnel) {
  std::erase_if(members_, [&](const Member& x) {
    auto xs = x.session.lock();
    return !xs || (xs.get() == s && (tunnel.empty() || x.tunnel == tunnel));
  });
  return members_.empty();
}

bool Endpoint::served_by(const session::Session* s) const {
  return std::any_of(members_.begin(), members_.end(), [&](const Member& x) { return x.session.lock().get() == s; });
}

bool Endpoint::set_healthy(const session::Session* s, std::string_view tunnel, bool healthy) {
  bool changed = false;
  for (auto& m : members_) {
    if (m.session.lock().get() == s && m.tunnel == tunnel && m.healthy != healthy) {
      m.healthy = healthy;
      changed = true;
    }
  }
  return changed;
}

std::optional<Pick> Endpoint::pick() {
  const auto n = members_.size();
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < n; ++i) {
    const auto at = (next_ + i) % n;
    auto s = members_[at].session.lock();
    if (!s || s->closed() || !members_[at].healthy) continue;
    if (balance_ == Balance::round_robin) {
      best = at;
      break;
    }
    if (!best || *members_[at].open < *members_[*best].open) best = at;
  }
  if (!best) return std::nullopt;
  next_ = *best + 1;
  auto& m = members_[*best];
  return Pick(m.session.lock(), m.tunnel, m.local, m.open);
}

EndpointInfo Endpoint::info() const {
  EndpointInfo e;
  e.key = key();
  e.kind = kind_;
  e.name = name_;
  e.token_name = token_;
  e.public_url = public_url_;
  e.port = port();
  e.agents = members_.size();
  e.pool = pool_;
  e.visitors_total = visitors_total_;
  for (const auto& m : members_) {
    e.visitors_open += *m.open;
    if (e.tunnel.empty()) e.tunnel = m.tunnel;
    if (auto s = m.session.lock(); s && e.agent_id.empty()) e.agent_id = s->id();
  }
  return e;
}

}  // namespace porthole::relay
