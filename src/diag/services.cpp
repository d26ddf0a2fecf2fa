#include "diag/services.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace porthole::diag {

namespace {

enum class P : std::uint8_t { tcp, udp, both };

struct Builtin {
  std::uint16_t port;
  P proto;
  const char* name;
};

// The ports people forward at home, named the way they know them.
constexpr Builtin kBuiltin[] = {
    {22, P::tcp, "SSH"},
    {25, P::tcp, "SMTP"},
    {53, P::both, "DNS"},
    {80, P::tcp, "HTTP"},
    {443, P::tcp, "HTTPS"},
    {443, P::udp, "HTTP/3 (QUIC)"},
    {445, P::tcp, "SMB"},
    {1194, P::udp, "OpenVPN"},
    {1883, P::tcp, "MQTT"},
    {3000, P::tcp, "dev server (Node/Grafana)"},
    {3306, P::tcp, "MySQL"},
    {3389, P::both, "RDP"},
    {3478, P::udp, "STUN/TURN"},
    {4040, P::tcp, "porthole inspector"},
    {5000, P::tcp, "dev server (Flask)"},
    {5173, P::tcp, "dev server (Vite)"},
    {5432, P::tcp, "PostgreSQL"},
    {5900, P::tcp, "VNC"},
    {6379, P::tcp, "Redis"},
    {7000, P::tcp, "porthole relay"},
    {7777, P::both, "Terraria"},
    {7860, P::tcp, "Gradio"},
    {8000, P::tcp, "dev server (Django/python -m http.server)"},
    {8080, P::tcp, "dev server (http-alt)"},
    {8096, P::tcp, "Jellyfin"},
    {8123, P::tcp, "Home Assistant"},
    {8443, P::tcp, "HTTPS (alt)"},
    {8888, P::tcp, "Jupyter"},
    {9987, P::udp, "TeamSpeak"},
    {11434, P::tcp, "Ollama"},
    {19132, P::udp, "Minecraft Bedrock"},
    {25565, P::both, "Minecraft"},
    {27015, P::both, "Steam / Source game server"},
    {27017, P::tcp, "MongoDB"},
    {32400, P::tcp, "Plex"},
    {51820, P::udp, "WireGuard"},
};

bool matches(P p, Proto proto) {
  return p == P::both || (p == P::tcp && proto == Proto::tcp) || (p == P::udp && proto == Proto::udp);
}

}  // namespace

std::string builtin_service(std::uint16_t port, Proto proto) {
  for (const auto& b : kBuiltin) {
    if (b.port == port && matches(b.proto, proto)) return b.name;
  }
  return "";
}

std::size_t ServiceNames::add_etc_services(std::string_view text) {
  std::size_t added = 0;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string name;
    std::string port_proto;
    if (!(fields >> name >> port_proto)) continue;
    auto slash = port_proto.find('/');
    if (slash == std::string::npos) continue;
    unsigned port = 0;
    auto [ptr, ec] = std::from_chars(port_proto.data(), port_proto.data() + slash, port);
    if (ec != std::errc() || ptr != port_proto.data() + slash || port == 0 || port > 65535) continue;
    std::string_view proto = std::string_view(port_proto).substr(slash + 1);
    Proto p;
    if (proto == "tcp") {
      p = Proto::tcp;
    } else if (proto == "udp") {
      p = Proto::udp;
    } else {
      continue;
    }
    if (etc_.emplace(std::make_pair(static_cast<std::uint16_t>(port), p), name).second) ++added;
  }
  return added;
}

std::string ServiceNames::lookup(std::uint16_t port, Proto proto) const {
  if (auto b = builtin_service(port, proto); !b.empty()) return b;
  auto it = etc_.find({port, proto});
  return it == etc_.end() ? "" : it->second;
}

const ServiceNames& ServiceNames::system() {
  static const ServiceNames names = [] {
    ServiceNames n;
    std::ifstream f("/etc/services");
    std::stringstream ss;
    ss << f.rdbuf();
    n.add_etc_services(ss.str());
    return n;
  }();
  return names;
}

}  // namespace porthole::diag
