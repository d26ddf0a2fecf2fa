#include "net/known_relays.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/address.hpp"
#include "core/encoding.hpp"
#include "core/metrics.hpp"

namespace porthole::net {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Result<std::string> read_file(const std::string& path, bool& exists) {
  std::error_code ec;
  exists = std::filesystem::exists(path, ec);
  if (!exists) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read known relays file {}: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<void> append_line(const std::string& path, const std::string& line) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return make_error("cannot create directory {}: {}", p.parent_path().string(), ec.message());
    ::chmod(p.parent_path().c_str(), 0700);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot write known relays file {}: {}", path, std::strerror(errno));
  auto n = ::write(fd, line.data(), line.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) {
    return make_error("cannot write known relays file {}: {}", path, std::strerror(err));
  }
  return {};
}

std::string mismatch_message(const std::string& file, const std::string& key, const KnownRelay& first,
                             std::string_view presented) {
  return fmt::format(
      "\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
      "@       WARNING: RELAY IDENTITY HAS CHANGED!              @\n"
      "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n"
      "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n"
      "Someone could be intercepting your connection to relay {} (man-in-the-middle),\n"
      "or the relay's certificate has been replaced.\n"
      "Expected fingerprint:  {}\n"
      "Presented fingerprint: {}\n"
      "The expected fingerprint is recorded in {}:{}.\n"
      "If the change is legitimate, delete line {} of {} (it is recorded again on the next\n"
      "connection), or pass --relay-fingerprint {}.\n"
      "The connection was refused; the token was not used.",
      key, encoding::display_fingerprint(first.fingerprint), encoding::display_fingerprint(presented), file,
      first.line, first.line, file, encoding::display_fingerprint(presented));
}

}  // namespace

std::vector<KnownRelay> parse_known_relays(std::string_view text, std::vector<int>* bad_lines) {
  std::vector<KnownRelay> out;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    auto nl = text.find('\n', pos);
    auto end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    auto sp = line.find_first_of(" \t");
    if (sp != std::string_view::npos) {
      auto key = known_relay_key(line.substr(0, sp));
      auto fp = encoding::normalize_sha256_fingerprint(trim(line.substr(sp)));
      if (key && fp) {
        out.push_back(KnownRelay{*key, *fp, line_no});
        continue;
      }
    }
    if (bad_lines != nullptr) bad_lines->push_back(line_no);
  }
  return out;
}

std::string default_known_relays_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/porthole/known_relays";
  const char* home = std::getenv("HOME");
  std::string base = home != nullptr && home[0] != '\0' ? home : ".";
  return base + "/.config/porthole/known_relays";
}

Result<std::string> known_relay_key(std::string_view relay_address) {
  auto hp = parse_host_port(relay_address, "");
  if (!hp) return hp.error();
  std::string host = hp->host;
  for (auto& c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return format_host_port(host, hp->port);
}

Result<TofuOutcome> check_known_relay(const std::string& file_arg, std::string_view relay_address,
                                      std::string_view fingerprint) {
  const std::string file = file_arg.empty() ? default_known_relays_path() : file_arg;
  auto key = known_relay_key(relay_address);
  if (!key) return make_error("relay address: {}", key.error().message);
  auto fp = encoding::normalize_sha256_fingerprint(fingerprint);
  if (!fp) return fp.error();
  bool exists = false;
  auto text = read_file(file, exists);
  if (!text) return text.error();
  std::vector<int> bad;
  auto entries = parse_known_relays(*text, &bad);
  for (int line : bad)
    spdlog::warn("{}:{}: ignoring malformed line (expected HOST:PORT SHA256-HEX)", file, line);
  const KnownRelay* first = nullptr;
  for (const auto& e : entries) {
    if (e.relay != *key) continue;
    if (e.fingerprint == *fp) return TofuOutcome::matched;
    if (first == nullptr) first = &e;
  }
  if (first != nullptr) {
    static auto& mismatches =
        metrics::counter("porthole_relay_identity_errors_total{reason=\"tofu_mismatch\"}",
                         "Relay certificates rejected by the agent");
    mismatches.inc();
    return Error{mismatch_message(file, *key, *first, *fp)};
  }
  std::string prefix = (!exists || text->empty() || text->back() == '\n') ? "" : "\n";
  if (auto r = append_line(file, prefix + *key + " " + *fp + "\n"); !r) return r.error();
  spdlog::info("relay {} is new: pinned its certificate {} in {} (trust on first use)", *key,
               encoding::display_fingerprint(*fp), file);
  return TofuOutcome::recorded;
}

}  // namespace porthole::net
