#include "relay/cert_store.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace porthole::relay {

namespace {

constexpr auto kCheckEvery = std::chrono::seconds(1);
constexpr std::size_t kMaxMinted = 10000;  // local-CA leaves kept in memory

metrics::Counter& reloads(std::string_view result) {
  return metrics::counter(fmt::format("porthole_relay_certificate_reloads_total{{result=\"{}\"}}", result),
                          "Certificate files reloaded after a change (ok) or kept old (failed)");
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::filesystem::file_time_type mtime(const std::string& path) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(path, ec);
  return ec ? std::filesystem::file_time_type{} : t;
}

// `*.suffix` covers exactly one more label (as certificate wildcards do).
template <class Map>
auto find_best(const Map& m, const std::string& host) -> const typename Map::mapped_type* {
  if (auto it = m.find(host); it != m.end()) return &it->second;
  const auto dot = host.find('.');
  if (dot == std::string::npos) return nullptr;
  if (auto it = m.find("*" + host.substr(dot)); it != m.end()) return &it->second;
  return nullptr;
}

bool under_domain(const std::string& host, const std::string& domain) {
  if (domain.empty()) return false;
  if (host == domain) return true;
  return host.size() > domain.size() + 1 && host.compare(host.size() - domain.size(), domain.size(), domain) == 0 &&
         host[host.size() - domain.size() - 1] == '.';
}

}  // namespace

Result<std::shared_ptr<CertStore>> CertStore::create(const Options& o) {
  std::shared_ptr<CertStore> s(new CertStore());
  auto ca = net::LocalCa::ensure(o.data_dir);
  if (!ca) return ca.error();
  s->ca_ = *ca;
  s->domain_ = lower(o.domain);
  for (const auto& f : o.files) {
    FileEntry e;
    e.cert_file = f.cert_file;
    e.key_file = f.key_file;
    if (!f.host.empty()) e.patterns.push_back(lower(f.host));
    if (auto r = s->load_file(e); !r) return r.error();
    if (e.patterns.empty()) return make_error("{}: the certificate names no host (give host = ...)", f.cert_file);
    s->files_.push_back(std::move(e));
  }
  s->index_files();
  s->last_check_ = std::chrono::steady_clock::now();
  return s;
}

Result<void> CertStore::load_file(FileEntry& e) {
  const auto cm = mtime(e.cert_file);
  const auto km = mtime(e.key_file);
  auto chain = net::read_text_file(e.cert_file);
  if (!chain) return chain.error();
  auto key = net::read_text_file(e.key_file);
  if (!key) return key.error();
  auto ctx = net::make_https_context(*chain, *key, net::AlpnMode::http11);
  if (!ctx) return make_error("{} / {}: {}", e.cert_file, e.key_file, ctx.error().message);
  if (e.patterns.empty()) e.patterns = net::certificate_dns_names(*chain);
  e.ctx = *ctx;  // atomically replaces what handshakes use: a handshake holds its own reference
  e.cert_mtime = cm;
  e.key_mtime = km;
  return {};
}

void CertStore::index_files() {
  file_patterns_.clear();
  for (std::size_t i = 0; i < files_.size(); ++i) {
    for (const auto& p : files_[i].patterns) file_patterns_.emplace(p, i);
  }
}

std::size_t CertStore::reload_changed() {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (auto& e : files_) {
    if (mtime(e.cert_file) == e.cert_mtime && mtime(e.key_file) == e.key_mtime) continue;
    auto old = e;
    if (auto r = load_file(e); !r) {
      // Half-written files (the cert renamed before the key) fail the key check: keep the old
      // context and try again at the next check.
      e = std::move(old);
      reloads("failed").inc();
      spdlog::warn("certificate {} changed but cannot be used (keeping the old one): {}", e.cert_file,
                   r.error().message);
      continue;
    }
    reloads("ok").inc();
    spdlog::info("reloaded certificate {}", e.cert_file);
    ++n;
  }
  return n;
}

void CertStore::maybe_reload() {
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < kCheckEvery) return;
    last_check_ = now;
  }
  reload_changed();
}

net::SslCtxPtr CertStore::lookup(const std::string& host, std::string* source) {
  if (const auto* c = find_best(installed_, host)) {
    // An exact installed name beats a wildcard file; a wildcard installed one beats only
    // wildcards (an exact file certificate is more specific).
    const bool exact = installed_.count(host) != 0;
    if (exact || file_patterns_.count(host) == 0) {
      if (source) *source = "installed";
      return *c;
    }
  }
  if (const auto* i = find_best(file_patterns_, host)) {
    if (source) *source = "file:" + files_[*i].cert_file;
    return files_[*i].ctx;
  }
  if (!under_domain(host, domain_)) return nullptr;
  if (source) *source = "local-ca";
  if (auto it = minted_.find(host); it != minted_.end()) return it->second;
  auto leaf = ca_->issue(host);
  if (!leaf) {
    spdlog::warn("cannot issue a local certificate for {}: {}", host, leaf.error().message);
    return nullptr;
  }
  auto ctx = net::make_https_context(leaf->chain_pem, leaf->key_pem, net::AlpnMode::http11);
  if (!ctx) return nullptr;
  if (minted_.size() >= kMaxMinted) minted_.clear();
  minted_.emplace(host, *ctx);
  return *ctx;
}

net::SslCtxPtr CertStore::context_for(const std::string& host) {
  maybe_reload();
  std::lock_guard lock(mu_);
  return lookup(lower(host), nullptr);
}

std::string CertStore::source_of(const std::string& host) {
  std::lock_guard lock(mu_);
  std::string s;
  lookup(lower(host), &s);
  return s;
}

net::SslCtxPtr CertStore::challenge_for(const std::string& host) {
  std::lock_guard lock(mu_);
  auto it = challenges_.find(lower(host));
  return it == challenges_.end() ? nullptr : it->second;
}

Result<void> CertStore::install(const std::string& host, const std::string& chain_pem, const std::string& key_pem) {
  auto ctx = net::make_https_context(chain_pem, key_pem, net::AlpnMode::http11);
  if (!ctx) return make_error("certificate for {}: {}", host, ctx.error().message);
  std::lock_guard lock(mu_);
  installed_[lower(host)] = *ctx;
  return {};
}

Result<void> CertStore::set_alpn_challenge(const std::string& host, const std::string& cert_pem,
                                           const std::string& key_pem) {
  auto ctx = net::make_https_context(cert_pem, key_pem, net::AlpnMode::acme);
  if (!ctx) return make_error("challenge certificate for {}: {}", host, ctx.error().message);
  std::lock_guard lock(mu_);
  challenges_[lower(host)] = *ctx;
  return {};
}

void CertStore::clear_alpn_challenge(const std::string& host) {
  std::lock_guard lock(mu_);
  challenges_.erase(lower(host));
}

}  // namespace porthole::relay
