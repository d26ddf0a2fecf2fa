// Which process owns a socket: scans /proc/<pid>/fd for "socket:[INODE]" links.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace porthole::diag {

struct Owner {
  int pid = 0;
  std::string name;  // /proc/<pid>/comm
  friend bool operator==(const Owner&, const Owner&) = default;
};

using OwnerMap = std::unordered_map<std::uint32_t, std::vector<Owner>>;

// Socket inode -> processes holding it (sorted by pid). Processes we may not inspect (other
// users' when not root) are left out silently: their sockets show no owner.
OwnerMap socket_owners(const std::string& proc_root = "/proc");

// "socket:[12345]" -> 12345; 0 when the link text is not a socket.
std::uint32_t parse_socket_link(const std::string& link);

}  // namespace porthole::diag
