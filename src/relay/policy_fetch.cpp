#include "relay/policy_fetch.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/metrics.hpp"
#include "net/tls_context.hpp"
#include "policy/jwt.hpp"
#include "policy/jwt_action.hpp"
#include "policy/oidc.hpp"
#include "policy/oidc_session.hpp"

namespace porthole::relay {

namespace {

void count_refused(const std::string& code) {
  static std::mutex mu;
  static std::map<std::string, metrics::Counter*> counters;
  std::lock_guard lock(mu);
  auto& c = counters[code];
  if (c == nullptr) {
    c = &metrics::counter(fmt::format("porthole_policy_fetches_refused_total{{reason=\"{}\"}}", code),
                          "Policy fetches (JWKS, OIDC) the relay refused to make, by why (SSRF guard)");
  }
  c->inc();
}

Result<std::array<std::uint8_t, 32>> cookie_key(const std::string& data_dir) {
  if (auto r = net::ensure_data_dir(data_dir); !r) return r.error();
  const auto path = (std::filesystem::path(data_dir) / "oidc-cookie.key").string();
  std::array<std::uint8_t, 32> key{};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    struct stat st {};
    const bool ok = ::fstat(fd, &st) == 0 && st.st_size == 32 && ::read(fd, key.data(), 32) == 32;
    ::close(fd);
    if (!ok) return make_error("{}: expected 32 bytes (delete it to make a new key: every oidc session ends)", path);
    return key;
  }
  if (RAND_bytes(key.data(), 32) != 1) return make_error("no randomness for the oidc cookie key");
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return make_error("{}: {}", path, std::strerror(errno));
  const bool ok = ::write(fd, key.data(), 32) == 32 && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error("{}: could not write the key", path);
  return key;
}

}  // namespace

Result<std::shared_ptr<const PolicyContext>> make_policy_context(const config::RelayConfig& cfg) {
  auto ctx = std::make_shared<PolicyContext>();
  ctx->ca_file = cfg.jwks_ca;
  auto allow = policy::FetchAllow::parse(cfg.policy_fetch_allow);
  if (!allow) return allow.error();
  ctx->allow = std::make_shared<const policy::FetchAllow>(std::move(*allow));
  auto key = cookie_key(cfg.data_dir);
  if (!key) return key.error();
  ctx->sealer = std::make_shared<const policy::CookieSealer>(*key);
  return std::shared_ptr<const PolicyContext>(std::move(ctx));
}

void prepare_policy(policy::Policy& p, const PolicyContext& ctx) {
  for (auto& rules : p.phases) {
    for (auto& r : rules) {
      for (auto& a : r.actions) {
        if (a.jwt && a.jwt->keys && a.jwt->keys->fetched()) {
          a.jwt->keys->ca_file = ctx.ca_file;
          a.jwt->keys->fetch_allow = ctx.allow;
        }
        if (a.oidc && a.oidc->provider) {
          a.oidc->provider->ca_file = ctx.ca_file;
          a.oidc->provider->fetch_allow = ctx.allow;
          a.oidc->provider->sealer = ctx.sealer;
        }
      }
    }
  }
}

Result<acme::HttpsClient> policy_fetch_client(net::Executor ex, const std::string& ca_file,
                                              std::shared_ptr<const policy::FetchAllow> allow, std::string what) {
  auto client = acme::HttpsClient::create(std::move(ex), ca_file, std::chrono::seconds(10));
  if (!client) return client.error();
  if (!allow) allow = std::make_shared<const policy::FetchAllow>();  // strict: public addresses only
  client->set_address_check([allow, what](const std::string& host,
                                          std::vector<net::asio::ip::tcp::endpoint>& eps) -> Result<void> {
    std::vector<policy::DestAddr> addrs;
    std::uint16_t port = 0;
    for (const auto& e : eps) {
      auto a = policy::parse_dest_ip(e.address().to_string());
      if (!a) {
        count_refused("bad_address");
        return make_error(Errc::refused, "{}: {} resolved to an address it cannot check", what, host);
      }
      addrs.push_back(std::move(*a));
      port = e.port();
    }
    const bool literal = policy::parse_dest_ip(host).has_value();
    auto v = allow->check(literal ? std::string_view{} : std::string_view(host), addrs, port);
    if (!v.allowed) {
      count_refused(v.code);
      spdlog::warn("policy fetch ({}) refused: {}", what, v.reason);
      return make_error(Errc::refused, "{}: {}", what, v.reason);
    }
    return {};
  });
  return client;
}

}  // namespace porthole::relay
