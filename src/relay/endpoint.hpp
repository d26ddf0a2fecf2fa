// An endpoint: what the relay exposes for a token (a public TCP port, an HTTP host name, ...)
// and the agents that serve it. Every kind derives from Endpoint and is created by its entry in
// the kind table (endpoint_kinds.cpp). Several agents of one token may serve one endpoint as a
// pool (round robin or least connections); without a pool a new agent takes the endpoint over
// and the agent it displaced is told.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "policy/policy.hpp"
#include "session/session.hpp"

namespace porthole::relay {

enum class Balance { round_robin, least_conn };

// One agent serving an endpoint: its session and the tunnel name it bound.
struct Member {
  std::weak_ptr<session::Session> session;
  std::string tunnel;
  std::string agent_name, agent_addr;
  std::string local;  // the agent's local service (informational, for error pages)
  bool healthy = true;  // the agent's health check of its local service passes
  std::shared_ptr<std::size_t> open = std::make_shared<std::size_t>(0);  // visitors on it now
};

// A member chosen for one visitor (or request); counts it as open while alive.
class Pick {
 public:
  Pick(std::shared_ptr<session::Session> s, std::string tunnel, std::string local, std::shared_ptr<std::size_t> open)
      : session_(std::move(s)), tunnel_(std::move(tunnel)), local_(std::move(local)), open_(std::move(open)) {
    ++*open_;
  }
  ~Pick() {
    if (open_) --*open_;
  }
  Pick(Pick&& o) noexcept = default;
  Pick(const Pick&) = delete;
  Pick& operator=(const Pick&) = delete;
  Pick& operator=(Pick&&) = delete;
  session::Session& session() { return *session_; }
  const std::shared_ptr<session::Session>& session_ptr() const { return session_; }
  const std::string& tunnel() const { return tunnel_; }
  const std::string& local() const { return local_; }

 private:
  std::shared_ptr<session::Session> session_;
  std::string tunnel_, local_;
  std::shared_ptr<std::size_t> open_;
};

struct EndpointInfo {
  std::string key, kind, name, tunnel, token_name, public_url, agent_id;
  std::uint16_t port = 0;
  std::size_t agents = 0;
  bool pool = false;
  std::uint64_t visitors_total = 0;
  std::size_t visitors_open = 0;
};

// What the --https listener does for a host-routed endpoint (docs/tls.md); set by its bind.
struct EdgeSettings {
  bool passthrough = false;     // the relay never decrypts: kind tls, or http --terminate-at agent
  bool redirect_https = false;  // the http port answers 308 to https
  std::string hsts;             // Strict-Transport-Security value on https responses ("" none)
  std::string mtls_ca_pem;      // visitors must present a certificate from these CAs ("" none)
};

class Endpoint : public std::enable_shared_from_this<Endpoint> {
 public:
  // `kind` is the table's name ("tcp", "http"); `name` is unique within the kind (the port,
  // the host name); `token` owns it.
  Endpoint(std::string kind, std::string name, std::string token, std::string public_url);
  virtual ~Endpoint() = default;
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Stops listening (kinds with a listener of their own); visitors already connected go on.
  virtual void stop() {}
  virtual std::uint16_t port() const { return 0; }

  const std::string& kind() const { return kind_; }
  const std::string& name() const { return name_; }
  std::string key() const { return kind_ + ":" + name_; }
  const std::string& token() const { return token_; }
  const std::string& public_url() const { return public_url_; }

  // Adds an agent. With `pool` (and the endpoint a pool, or empty) it joins the others;
  // otherwise it replaces them all, and the members it displaced are returned (to be told).
  std::vector<Member> attach(Member m, bool pool, Balance balance);
  // Removes the members on `s` (its tunnel `tunnel`, or all when empty); true when none is left.
  bool detach(const session::Session* s, std::string_view tunnel = {});
  bool served_by(const session::Session* s) const;
  // The agent on `s` reports its tunnel's health check; true when a member changed.
  bool set_healthy(const session::Session* s, std::string_view tunnel, bool healthy);
  std::size_t agent_count() const { return members_.size(); }
  bool is_pool() const { return pool_; }
  // A live member for the next visitor, skipping dead sessions; nullopt when none is live.
  std::optional<Pick> pick();

  void count_visitor() { ++visitors_total_; }
  const EdgeSettings& edge() const { return edge_; }
  void set_edge(EdgeSettings e) { edge_ = std::move(e); }
  EndpointInfo info() const;

  // The traffic policy: the agent's (compiled once per bind; the last bind's wins in a pool) and
  // the operator's relay-wide rules. Either may be null.
  void set_policy(std::shared_ptr<policy::Policy> own, std::shared_ptr<policy::Policy> relay) {
    policy_ = std::move(own);
    relay_policy_ = std::move(relay);
  }
  const policy::Policy* policy() const { return policy_.get(); }
  const policy::Policy* relay_policy() const { return relay_policy_.get(); }
  bool has_policy() const { return policy_ || relay_policy_; }

 private:
  std::string kind_, name_, token_, public_url_;
  std::vector<Member> members_;
  bool pool_ = false;
  Balance balance_ = Balance::round_robin;
  std::size_t next_ = 0;  // round robin cursor
  std::uint64_t visitors_total_ = 0;
  std::shared_ptr<policy::Policy> policy_, relay_policy_;
  EdgeSettings edge_;
};

}  // namespace porthole::relay
