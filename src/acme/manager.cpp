#include "acme/manager.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace porthole::acme {

namespace asio = net::asio;
namespace fs = std::filesystem;

namespace {

metrics::Counter& issued() {
  static auto& c = metrics::counter("porthole_acme_certificates_issued_total", "Certificates obtained from the ACME CA");
  return c;
}
metrics::Counter& bad_nonces() {
  static auto& c = metrics::counter("porthole_acme_bad_nonce_retries_total", "ACME requests re-sent after badNonce");
  return c;
}
metrics::Counter& failed() {
  static auto& c = metrics::counter("porthole_acme_order_failures_total", "ACME orders that failed (retried with backoff)");
  return c;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `data` to `path` with mode 0600 through a temporary file and rename (never a torn file).
Result<void> write_private(const fs::path& path, const std::string& data) {
  const auto tmp = path.string() + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot write {}: {}", tmp, std::strerror(errno));
  std::size_t off = 0;
  while (off < data.size()) {
    const auto n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      return make_error("cannot write {}: {}", tmp, std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return make_error("cannot rename {}: {}", tmp, std::strerror(errno));
  return {};
}

std::time_t now() { return std::time(nullptr); }

}  // namespace

struct AcmeManager::Host {
  std::string name;
  std::string state = "ordering", step;
  std::optional<CertificateInfo> cert;
  std::time_t renew_at = 0, next_attempt = 0;
  int failures = 0;
  std::string error;
  std::optional<Problem> problem;
  std::optional<std::chrono::seconds> retry_after;  // from the CA's last failure
  std::unique_ptr<asio::steady_timer> timer;
  asio::cancellation_signal cancel;
  bool running = false;
};

bool eligible_name(std::string_view host) {
  if (host.empty() || host.find('.') == std::string_view::npos || host.starts_with("*.")) return false;
  if (host == "localhost" || host.ends_with(".localhost")) return false;
  net::error_code ec;
  asio::ip::make_address(std::string(host), ec);
  return static_cast<bool>(ec);
}

std::string effective_directory(std::string_view configured, std::string_view domain) {
  if (configured == "off") return {};
  if (!configured.empty()) return std::string(configured);
  return eligible_name(domain) ? std::string(kLetsEncrypt) : std::string();
}

std::string format_time(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::time_t renewal_time(std::time_t not_before, std::time_t not_after) {
  return not_before + (not_after - not_before) * 2 / 3;
}

std::chrono::seconds retry_delay(int failures, std::chrono::seconds min, std::chrono::seconds max,
                                 std::optional<std::chrono::seconds> retry_after) {
  auto d = min;
  for (int i = 1; i < failures && d < max; ++i) d *= 2;
  d = std::min(d, max);
  if (retry_after && *retry_after > d) d = std::min(*retry_after, std::chrono::seconds(7 * 86400));
  return d;
}

Result<std::shared_ptr<AcmeManager>> AcmeManager::create(asio::io_context& io, AcmeOptions options,
                                                         CertificateSink& sink) {
  const fs::path dir = fs::path(options.data_dir) / "acme";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error("cannot create {}: {}", dir.string(), ec.message());
  ::chmod(dir.c_str(), 0700);
  const auto key_path = dir / "account.key";
  std::optional<Key> account;
  if (fs::exists(key_path, ec)) {
    auto k = Key::from_pem(read_file(key_path));
    if (!k) return make_error("{}: {}", key_path.string(), k.error().message);
    account = std::move(*k);
  } else {
    auto k = Key::generate();
    if (!k) return k.error();
    if (auto w = write_private(key_path, k->private_pem()); !w) return w.error();
    spdlog::info("acme: created an account key in {}", key_path.string());
    account = std::move(*k);
  }
  auto client = HttpsClient::create(io.get_executor(), options.ca_file);
  if (!client) return client.error();
  if (options.challenge == "tls-alpn-01" && !sink.serves_tls_alpn()) {
    return make_error("acme_challenge tls-alpn-01 needs the https listener");
  }
  options.flow.directory_url = options.directory;
  options.flow.email = options.email;
  options.flow.challenge = options.challenge;
  std::shared_ptr<AcmeManager> m(new AcmeManager(io, std::move(options), sink, std::move(*account), std::move(*client)));
  // The account URL of this key at this CA, when a previous run learned it.
  auto j = nlohmann::json::parse(read_file(dir / "account.json"), nullptr, false);
  if (j.is_object() && j.value("directory", "") == m->opts_.directory) m->account_url_ = j.value("account", "");
  m->load_certificates();
  return m;
}

AcmeManager::AcmeManager(asio::io_context& io, AcmeOptions options, CertificateSink& sink, Key account,
                         HttpsClient client)
    : io_(io), opts_(std::move(options)), sink_(sink), account_(std::move(account)), client_(std::move(client)) {}

AcmeManager::~AcmeManager() = default;

void AcmeManager::load_certificates() {
  const fs::path dir = fs::path(opts_.data_dir) / "acme";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto& p = entry.path();
    if (p.extension() != ".crt") continue;
    const auto host = p.stem().string();
    const auto chain = read_file(p);
    auto info = inspect_certificate(chain);
    auto key = Key::from_pem(read_file(fs::path(p).replace_extension(".key")));
    if (!info || !key || !certificate_matches_key(chain, *key) ||
        std::find(info->names.begin(), info->names.end(), host) == info->names.end()) {
      spdlog::warn("acme: ignoring {} (unreadable, or its key or names do not match)", p.string());
      continue;
    }
    auto h = std::make_shared<Host>();
    h->name = host;
    h->cert = *info;
    h->renew_at = renewal_time(info->not_before, info->not_after);
    h->state = info->not_after > now() ? "valid" : "ordering";
    if (info->not_after > now()) sink_.install(host, chain, key->private_pem());
    hosts_[host] = h;
    spdlog::info("acme: certificate for {} valid until {} (renewal due at {})", host, format_time(info->not_after),
                 format_time(h->renew_at));
  }
}

void AcmeManager::start() {
  started_ = true;
  for (auto& [name, h] : hosts_) launch(h);
}

void AcmeManager::launch(const std::shared_ptr<Host>& h) {
  if (h->running || stopping_ || !started_) return;
  h->running = true;
  h->timer = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(io_, run(h), asio::bind_cancellation_slot(h->cancel.slot(), asio::detached));
}

void AcmeManager::want(const std::string& host) {
  if (!eligible_name(host) || stopping_) return;
  auto& h = hosts_[host];
  if (!h) {
    h = std::make_shared<Host>();
    h->name = host;
    spdlog::info("acme: ordering a certificate for {} from {}", host, opts_.directory);
  }
  launch(h);
}

bool AcmeManager::renew_now(const std::string& host) {
  auto it = hosts_.find(host);
  if (it == hosts_.end() || stopping_) return false;
  auto& h = *it->second;
  h.renew_at = h.next_attempt = now();
  if (h.timer) h.timer->cancel();
  launch(it->second);
  return true;
}

void AcmeManager::stop() {
  if (stopping_) return;
  stopping_ = true;
  board_.clear();
  for (auto& [name, h] : hosts_) {
    h->cancel.emit(asio::cancellation_type::terminal);
    if (h->timer) h->timer->cancel();
  }
}

std::vector<CertificateStatus> AcmeManager::status() const {
  std::vector<CertificateStatus> out;
  for (const auto& [name, h] : hosts_) {
    CertificateStatus s;
    s.host = name;
    s.state = h->state;
    s.step = h->step;
    if (h->cert) {
      s.not_before = h->cert->not_before;
      s.not_after = h->cert->not_after;
    }
    s.renew_at = h->cert ? h->renew_at : 0;
    s.next_attempt = h->failures > 0 ? h->next_attempt : 0;
    s.failures = h->failures;
    s.error = h->error;
    s.problem = h->problem;
    out.push_back(std::move(s));
  }
  return out;
}

void AcmeManager::apply(const std::vector<Effect>& effects) {
  for (const auto& e : effects) {
    switch (e.kind) {
      case Effect::Kind::serve_http01:
        board_.provide(e.key, e.key_authorization);
        break;
      case Effect::Kind::withdraw_http01:
        board_.withdraw(e.key);
        break;
      case Effect::Kind::serve_tls_alpn01: {
        auto c = tls_alpn_certificate(e.key, e.key_authorization);
        if (c) sink_.set_alpn_challenge(e.key, c->cert_pem, c->key_pem);
        break;
      }
      case Effect::Kind::withdraw_tls_alpn01:
        sink_.clear_alpn_challenge(e.key);
        break;
    }
  }
}

net::Task<void> AcmeManager::run(std::shared_ptr<Host> h) {
  auto self = shared_from_this();
  while (!stopping_) {
    const auto due = h->failures > 0 ? h->next_attempt : h->cert ? h->renew_at : 0;
    if (due > now()) {
      h->timer->expires_after(std::chrono::seconds(due - now()));
      auto [ec] = co_await h->timer->async_wait(net::use_nothrow);
      (void)ec;  // expired, or cancelled by renew_now/stop: look at the state again
      if (stopping_) break;
      continue;  // woken early by renew_now, or due: look again
    }
    h->state = h->cert && h->cert->not_after > now() ? "renewing" : "ordering";
    auto key = Key::generate();
    if (!key) break;
    auto chain = co_await issue(*h, *key);
    if (stopping_) break;
    h->step.clear();
    if (chain) {
      auto info = inspect_certificate(*chain);
      auto saved = info ? save_certificate(h->name, *chain, key->private_pem()) : Result<void>(info.error());
      if (saved) {
        issued().inc();
        sink_.install(h->name, *chain, key->private_pem());
        h->cert = *info;
        h->renew_at = renewal_time(info->not_before, info->not_after);
        h->failures = 0;
        h->error.clear();
        h->problem.reset();
        h->state = "valid";
        spdlog::info("acme: certificate for {} issued, valid until {} (serial {}), renewal at {}", h->name,
                     format_time(info->not_after), info->serial, format_time(h->renew_at));
        continue;
      }
      chain = saved.error();
    }
    failed().inc();
    ++h->failures;
    h->error = chain.error().message;
    const auto delay = retry_delay(h->failures, opts_.retry_min, opts_.retry_max, h->retry_after);
    h->next_attempt = now() + delay.count();
    h->state = h->cert && h->cert->not_after > now() ? "valid" : "failed";
    spdlog::warn("acme: {} for {} failed (attempt {}), retrying in {}s: {}", h->cert ? "renewal" : "order", h->name,
                 h->failures, delay.count(), h->error);
  }
  h->running = false;
}

net::Task<Result<std::string>> AcmeManager::issue(Host& h, const Key& cert_key) {
  Flow flow(opts_.flow, account_, account_url_, {h.name}, cert_key);
  auto a = flow.start();
  for (;;) {
    apply(a.effects);
    h.step = std::string(flow.step());
    if (a.kind == Action::Kind::send) {
      auto r = co_await client_.fetch(a.request);
      if (stopping_) co_return make_error(Errc::shutdown, "stopping");  // the sink may be gone
      if (r) {
        a = flow.on_response(*r, now());
      } else {
        a = flow.on_transport_error(r.error().message);
      }
    } else if (a.kind == Action::Kind::wait) {
      h.timer->expires_after(a.delay);
      auto [ec] = co_await h.timer->async_wait(net::use_nothrow);
      (void)ec;
      if (stopping_) co_return make_error(Errc::shutdown, "stopping");
      a = flow.on_timer();
    } else {
      break;
    }
  }
  bad_nonces().inc(static_cast<std::uint64_t>(flow.bad_nonce_retries()));
  if (!flow.account_url().empty() && flow.account_url() != account_url_) {
    account_url_ = flow.account_url();
    save_account();
  }
  if (a.kind == Action::Kind::done) co_return a.chain_pem;
  h.problem = a.failure.problem;
  h.retry_after = a.failure.retry_after;  // (rate limits) lengthens this host's backoff
  co_return make_error("{}", a.failure.message);
}

void AcmeManager::save_account() const {
  nlohmann::json j{{"directory", opts_.directory}, {"account", account_url_}};
  if (auto r = write_private(fs::path(opts_.data_dir) / "acme" / "account.json", j.dump() + "\n"); !r) {
    spdlog::warn("acme: {}", r.error().message);
  }
}

Result<void> AcmeManager::save_certificate(const std::string& host, const std::string& chain,
                                           const std::string& key) const {
  const fs::path dir = fs::path(opts_.data_dir) / "acme";
  if (auto r = write_private(dir / (host + ".key"), key); !r) return r;
  return write_private(dir / (host + ".crt"), chain);
}

}  // namespace porthole::acme
