#include "core/result.hpp"

namespace porthole {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::generic: return "error";
    case Errc::refused: return "refused";
    case Errc::timed_out: return "timed_out";
    case Errc::no_such_tunnel: return "no_such_tunnel";
    case Errc::shutdown: return "shutdown";
    case Errc::cancelled: return "cancelled";
    case Errc::closed: return "closed";
    case Errc::protocol: return "protocol";
    case Errc::conflict: return "conflict";
    case Errc::forbidden: return "forbidden";
  }
  return "error";
}

}  // namespace porthole
