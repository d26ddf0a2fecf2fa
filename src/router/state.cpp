// The state file: the mappings porthole made (JSON array), so `map list` can tell ours from the
// router's other mappings and `map remove` / renewals reuse the PCP nonce and method.
//
// Readers need no lock: a writer replaces the file with rename(2), so a reader sees the old or
// the new file whole. Writers take flock(2) on PATH.lock around load-modify-save, so two
// `porthole map` processes never lose each other's records.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "router/backends.hpp"

namespace porthole::router::detail {

void count_ignored(std::string_view method, std::string_view reason, std::string_view detail) {
  metrics::counter(
      fmt::format("porthole_router_ignored_total{{method=\"{}\",reason=\"{}\"}}", method, reason),
      "router replies ignored (wrong source, malformed, wrong nonce, off-subnet)")
      .inc();
  spdlog::warn("{}: ignored reply ({}): {}", method, reason, detail);
}

void count_error(std::string_view method, std::string_view reason) {
  metrics::counter(fmt::format("porthole_router_errors_total{{method=\"{}\",reason=\"{}\"}}", method, reason),
                   "router requests that failed (timeout, refused, io)")
      .inc();
}

std::string default_state_path() {
  namespace fs = std::filesystem;
  if (const char* s = std::getenv("XDG_STATE_HOME"); s && *s) {
    return (fs::path(s) / "porthole" / "mappings.json").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".local/state/porthole/mappings.json").string();
}

std::string nonce_to_hex(const pcp::Nonce& n) {
  std::string s;
  for (auto b : n) s += fmt::format("{:02x}", b);
  return s;
}

std::optional<pcp::Nonce> nonce_from_hex(std::string_view hex) {
  if (hex.size() != 24) return std::nullopt;
  pcp::Nonce n{};
  for (std::size_t i = 0; i < 12; ++i) {
    unsigned v = 0;
    for (char ch : hex.substr(2 * i, 2)) {
      int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<unsigned>(d);
    }
    n[i] = static_cast<std::uint8_t>(v);
  }
  return n;
}

std::vector<Record> load_records(const std::string& path) {
  std::vector<Record> out;
  std::ifstream in(path);
  if (!in) return out;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    spdlog::warn("router: state file {} is not a JSON array; ignoring it", path);
    return out;
  }
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    Record r;
    auto m = parse_method(e.value("method", std::string()));
    if (!m) continue;
    r.method = *m;
    r.protocol = e.value("protocol", std::string()) == "udp" ? Protocol::udp : Protocol::tcp;
    auto port = [&](const char* k) -> std::uint16_t {
      auto v = e.value(k, 0);
      return v > 0 && v <= 65535 ? static_cast<std::uint16_t>(v) : 0;
    };
    r.external_port = port("external_port");
    r.internal_port = port("internal_port");
    r.internal_address = e.value("internal_address", std::string());
    r.gateway = e.value("gateway", std::string());
    r.nonce_hex = e.value("nonce", std::string());
    r.description = e.value("description", std::string());
    r.lease_seconds = e.value("lease_seconds", 0u);
    if (r.external_port) out.push_back(std::move(r));
  }
  return out;
}

Result<void> save_records(const std::string& path, const std::vector<Record>& records) {
  namespace fs = std::filesystem;
  auto j = nlohmann::json::array();
  for (const auto& r : records) {
    j.push_back({{"method", to_string(r.method)},
                 {"protocol", to_string(r.protocol)},
                 {"external_port", r.external_port},
                 {"internal_port", r.internal_port},
                 {"internal_address", r.internal_address},
                 {"gateway", r.gateway},
                 {"nonce", r.nonce_hex},
                 {"description", r.description},
                 {"lease_seconds", r.lease_seconds}});
  }
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  auto tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return make_error("cannot write state file {}", tmp);
    out << j.dump(2) << "\n";
    if (!out) return make_error("cannot write state file {}", tmp);
  }
  fs::rename(tmp, path, ec);
  if (ec) return make_error("cannot replace state file {}: {}", path, ec.message());
  return {};
}

namespace {

// An exclusive flock(2) on PATH.lock, released when destroyed.
class StateLock {
 public:
  explicit StateLock(const std::string& path)
      : fd_(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {}
  ~StateLock() {
    if (fd_ >= 0) ::close(fd_);  // closing drops the lock
  }
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;
  // Waits for the lock up to `limit` (holders keep it for one load + save, a few ms).
  Result<void> acquire(std::chrono::milliseconds limit) {
    if (fd_ < 0) return make_error("cannot open lock file: {}", std::strerror(errno));
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) return make_error("flock: {}", std::strerror(errno));
      if (std::chrono::steady_clock::now() >= deadline) {
        return make_error("another porthole process holds the lock for over {} ms", limit.count());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // flock has no timed wait
    }
    return {};
  }

 private:
  int fd_;
};

}  // namespace

Result<void> update_records(const std::string& path,
                            const std::function<void(std::vector<Record>&)>& change) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  StateLock lock(path);
  if (auto l = lock.acquire(std::chrono::seconds(5)); !l) {
    return make_error("state file {}: {}", path, l.error().message);
  }
  auto records = load_records(path);
  change(records);
  return save_records(path, records);
}

}  // namespace porthole::router::detail
