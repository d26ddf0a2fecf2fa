#include "relay/port_choice.hpp"

namespace porthole::relay {

Result<std::uint16_t> choose_port(const PortRequest& req, const std::function<bool(std::uint16_t)>& usable) {
  if (req.asked) {
    const auto p = *req.asked;
    if (!req.allowed.contains(p)) {
      return make_error("port {} is not allowed (allowed: {}-{})", p, req.allowed.lo, req.allowed.hi);
    }
    if (!usable(p)) return make_error("port {} is in use", p);
    return p;
  }
  if (req.reserved && req.allowed.contains(*req.reserved) && usable(*req.reserved)) return *req.reserved;
  for (std::uint32_t p = req.allowed.lo; p <= req.allowed.hi; ++p) {
    if (usable(static_cast<std::uint16_t>(p))) return static_cast<std::uint16_t>(p);
  }
  return make_error("no free port left in {}-{}", req.allowed.lo, req.allowed.hi);
}

}  // namespace porthole::relay
