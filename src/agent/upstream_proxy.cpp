#include "agent/upstream_proxy.hpp"

#include <spdlog/spdlog.h>

namespace porthole::agent {

namespace pp = proto::pp;

namespace {
std::string as_string(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }
}  // namespace

std::string local_proxy_header(int version) {
  if (version == 0) return {};
  pp::Header h;
  h.version = version;
  h.command = pp::Command::local;
  return as_string(pp::encode(h));
}

std::string upstream_proxy_header(int version, const proto::OpenMeta& meta, pp::Transport transport) {
  if (version == 0) return {};
  auto src = pp::parse_endpoint(meta.visitor);
  if (!src) {
    spdlog::warn("tunnel {}: visitor address '{}' unusable for a PROXY header ({}); sending LOCAL/UNKNOWN", meta.tunnel,
                 meta.visitor, src.error().message);
    return local_proxy_header(version);
  }
  auto dst = pp::parse_endpoint(meta.dest);
  if (!dst) {
    dst = pp::Address{src->family, {}, 0, {}};  // an older relay: destination unknown
  }
  return as_string(pp::encode(pp::proxied(version, transport, *src, *dst)));
}

}  // namespace porthole::agent
