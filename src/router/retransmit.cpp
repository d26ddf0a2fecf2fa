#include "router/retransmit.hpp"

#include <algorithm>

namespace porthole::router {

Retransmit::Retransmit(Clock::time_point start, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds first_rto, std::chrono::milliseconds max_rto)
    : deadline_(start + std::max(timeout, std::chrono::milliseconds(0))),
      next_send_(start),
      rto_(std::max(first_rto, std::chrono::milliseconds(1))),
      max_rto_(std::max(max_rto, rto_)) {}

bool Retransmit::send_due(Clock::time_point now) {
  if (expired(now) || now < next_send_) return false;
  ++sends_;
  next_send_ = now + rto_;  // rto_ is capped, so this never overflows
  rto_ = std::min(rto_ * 2, max_rto_);
  return true;
}

int Retransmit::wait_ms(Clock::time_point now) const {
  if (expired(now)) return 0;
  auto until = std::min(deadline_, std::max(next_send_, now));
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
  // next_send_ <= now only before the first send_due(): wait nothing, send first.
  return static_cast<int>(std::clamp<long long>(ms, 0, 24LL * 3600 * 1000));
}

}  // namespace porthole::router
