// Reading config files from disk (the parsing itself is in *_codec.cpp, free of I/O).
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "config/codec.hpp"
#include "config/config.hpp"
#include "config/policy_file.hpp"

namespace porthole::config {

namespace {

namespace fs = std::filesystem;

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return make_error("{}: cannot read: is a directory", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("{}: cannot read: {}", path, std::strerror(errno));
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileSize) {
      return make_error("{}: larger than {} bytes, not a porthole config", path, kMaxFileSize);
    }
  }
  if (in.bad()) return make_error("{}: cannot read: {}", path, std::strerror(errno));
  return text;
}

std::string dir_of(const std::string& path) {
  fs::path dir = fs::path(path).parent_path();
  return dir.empty() ? std::string(".") : dir.string();
}

}  // namespace

Result<RelayConfig> load_relay_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return detail::parse_relay_at(*text, path, dir_of(path));
}

// Tunnels' `policy_file`s, read and compiled into their canonical text (every problem at once).
Result<void> load_tunnel_policies(AgentConfig& c) {
  std::string errors;
  for (auto& t : c.tunnels) {
    if (t.policy_file.empty()) continue;
    auto p = load_policy(t.policy_file);
    if (!p) {
      errors += fmt::format("{}{}", errors.empty() ? "" : "\n", p.error().message);
    } else {
      t.policy = (*p)->canonical;
    }
  }
  if (!errors.empty()) return make_error("{}", errors);
  return {};
}

Result<AgentConfig> load_agent_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  auto c = detail::parse_agent_at(*text, path, dir_of(path));
  if (c) {
    if (auto r = load_tunnel_policies(*c); !r) return r.error();
  }
  return c;
}

Result<AnyConfig> load_config(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  auto any = detail::parse_any_at(*text, path, dir_of(path));
  if (any && any->kind == FileKind::agent) {
    if (auto r = load_tunnel_policies(any->agent); !r) return r.error();
  }
  return any;
}

Result<std::shared_ptr<policy::Policy>> load_policy(const std::string& path, const policy::Sugar* sugar) {
  auto text = read_file(path);
  if (!text) return text.error();
  const auto dir = std::filesystem::path(path).parent_path();
  const FileReader files = [&dir](const std::string& name) -> Result<std::string> {
    auto p = std::filesystem::path(name);
    if (p.is_relative()) p = dir / p;
    std::error_code ec;
    const auto size = std::filesystem::file_size(p, ec);
    if (ec) return make_error("{}: {}", p.string(), ec.message());
    if (size > 256 * 1024) return make_error("{}: larger than 256 KiB", p.string());
    return read_file(p.string());
  };
  return parse_policy(*text, path, sugar, &files);
}

std::string default_agent_config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/porthole/porthole.toml";
  std::string home;
  if (const char* h = std::getenv("HOME"); h != nullptr && h[0] != '\0') {
    home = h;
  } else if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) {
    home = pw->pw_dir;
  }
  if (home.empty()) return ".config/porthole/porthole.toml";
  return home + "/.config/porthole/porthole.toml";
}

}  // namespace porthole::config
