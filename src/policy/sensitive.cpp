#include "policy/sensitive.hpp"

#include <fmt/format.h>

namespace porthole::policy {

namespace {

struct PortService {
  std::uint16_t lo, hi;
  std::string_view service;
};
constexpr PortService kPorts[] = {
    {23, 23, "Telnet"},          {445, 445, "SMB"},         {1433, 1433, "Microsoft SQL Server"},
    {2375, 2376, "the Docker API"}, {2379, 2379, "etcd"},  {3306, 3306, "MySQL"},
    {3389, 3389, "RDP"},         {5432, 5432, "PostgreSQL"}, {5900, 5903, "VNC"},
    {5984, 5984, "CouchDB"},     {6379, 6379, "Redis"},     {6443, 6443, "the Kubernetes API"},
    {9200, 9200, "Elasticsearch"}, {11211, 11211, "memcached"}, {27017, 27017, "MongoDB"},
};

struct ProcService {
  std::string_view comm, service;
};
constexpr ProcService kProcs[] = {
    {"postgres", "PostgreSQL"}, {"postmaster", "PostgreSQL"}, {"mysqld", "MySQL"}, {"mariadbd", "MariaDB"},
    {"redis-server", "Redis"},  {"valkey-server", "Valkey"},   {"mongod", "MongoDB"}, {"memcached", "memcached"},
    {"sqlservr", "Microsoft SQL Server"}, {"couchdb", "CouchDB"}, {"xrdp", "RDP"}, {"Xvnc", "VNC"},
    {"x11vnc", "VNC"},          {"vino-server", "VNC"},       {"smbd", "SMB"},     {"in.telnetd", "Telnet"},
    {"telnetd", "Telnet"},      {"dockerd", "the Docker API"}, {"kube-apiserver", "the Kubernetes API"},
    {"etcd", "etcd"},
};

}  // namespace

std::optional<std::string_view> sensitive_port(std::uint16_t port) {
  for (const auto& p : kPorts) {
    if (port >= p.lo && port <= p.hi) return p.service;
  }
  return std::nullopt;
}

std::optional<std::string_view> sensitive_process(std::string_view comm) {
  for (const auto& p : kProcs) {
    if (p.comm == comm) return p.service;
  }
  return std::nullopt;
}

std::string sensitive_refusal(std::string_view tunnel, std::uint16_t port, std::string_view service,
                              std::string_view process) {
  return fmt::format(
      "tunnel {}: refusing a public tcp endpoint for {} (local port {}{}): anyone on the internet could try to "
      "log in to it.\n"
      "  Keep it private: `porthole tcp {} --private NAME` here, and `porthole connect NAME` where you use it;\n"
      "  or allow only some addresses: --allow-cidr CIDR (or an on_tcp_connect rule with not_ip / restrict-ips);\n"
      "  or, if it really must be public, --allow-public (allow_public = true in porthole.toml).",
      tunnel, service, port, process.empty() ? "" : fmt::format(", process {}", process), port);
}

}  // namespace porthole::policy
