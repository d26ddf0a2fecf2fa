#include "diag/procfs.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace porthole::diag {

namespace fs = std::filesystem;

std::uint32_t parse_socket_link(const std::string& link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (link.size() <= kPrefix.size() + 1 || link.compare(0, kPrefix.size(), kPrefix) != 0 ||
      link.back() != ']') {
    return 0;
  }
  std::uint32_t inode = 0;
  const char* first = link.data() + kPrefix.size();
  const char* last = link.data() + link.size() - 1;
  auto [p, ec] = std::from_chars(first, last, inode);
  return ec == std::errc() && p == last ? inode : 0;
}

namespace {

int parse_pid(const std::string& name) {
  int pid = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  return ec == std::errc() && p == name.data() + name.size() && pid > 0 ? pid : 0;
}

std::string read_comm(const fs::path& dir) {
  std::ifstream f(dir / "comm");
  std::string name;
  std::getline(f, name);
  return name;
}

void scan_process(const fs::path& dir, int pid, OwnerMap& out) {
  std::error_code ec;
  fs::directory_iterator fds(dir / "fd", ec);
  if (ec) return;
  std::string comm;
  for (; fds != fs::directory_iterator(); fds.increment(ec)) {
    if (ec) break;
    std::error_code link_ec;
    auto target = fs::read_symlink(fds->path(), link_ec);
    if (link_ec) continue;
    auto inode = parse_socket_link(target.string());
    if (inode == 0) continue;
    if (comm.empty()) comm = read_comm(dir);
    auto& owners = out[inode];
    Owner o{pid, comm};
    if (std::find(owners.begin(), owners.end(), o) == owners.end()) owners.push_back(std::move(o));
  }
}

}  // namespace

OwnerMap socket_owners(const std::string& proc_root) {
  OwnerMap out;
  std::error_code ec;
  fs::directory_iterator procs(proc_root, ec);
  if (ec) return out;
  for (; procs != fs::directory_iterator(); procs.increment(ec)) {
    if (ec) break;  // the listing changed under us: keep what we have
    int pid = parse_pid(procs->path().filename().string());
    if (pid > 0) scan_process(procs->path(), pid, out);
  }
  for (auto& [inode, owners] : out) {
    std::sort(owners.begin(), owners.end(), [](const Owner& a, const Owner& b) { return a.pid < b.pid; });
  }
  return out;
}

}  // namespace porthole::diag
