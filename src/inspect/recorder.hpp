// The hand-off from the data path to the Store: the tunnel offers a finished exchange and goes
// on at once. Offers go into a bounded queue (entries and bytes); when it is full the exchange
// is dropped and counted — capture never makes a tunnel wait. The queue is drained on the
// recorder's executor (posted), where the Store and its listeners (the live list) run.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "inspect/persister.hpp"
#include "inspect/store.hpp"
#include "net/asio.hpp"

namespace porthole::inspect {

struct CaptureLimits {
  std::size_t body = 1024 * 1024;            // bytes kept of each body (--inspect-body-limit)
  std::size_t memory = 64 * 1024 * 1024;     // the Store's cap (--inspect-memory)
  std::size_t queue_entries = 1024;          // pending hand-offs
  std::size_t queue_bytes = 32 * 1024 * 1024;
  WsLimits ws;                               // per WebSocket connection
  std::size_t ws_total = 8 * 1024 * 1024;    // bytes of WebSocket messages kept, all connections
};

class Recorder : public std::enable_shared_from_this<Recorder> {
 public:
  Recorder(net::Executor ex, CaptureLimits limits);

  // From the data path: never waits. False when the queue was full (the exchange is dropped).
  bool offer(Exchange e);
  bool offer(ExchangePtr e);  // one the caller keeps a hold of (an upgraded, live capture)
  // A new id for an exchange (the prefix is random per process, like ngrok's).
  std::string next_id();

  // --inspect-db: loads what the file holds into the ring (up to the memory cap) and from now
  // on writes every capture, eviction and clear to it (on the Persister's thread). Call once,
  // before the first offer. The number of captures loaded, or why the file cannot be used (the
  // caller goes on without persistence).
  Result<std::size_t> attach_db(const std::string& path);
  Persister* persister() { return persister_.get(); }
  const Persister* persister() const { return persister_.get(); }

  // WebSocket messages: room in the total budget for `bytes` more (false: drop the message),
  // and giving it back when a log is released.
  bool ws_reserve(std::size_t bytes);
  void ws_release(std::size_t bytes);
  std::function<void(std::size_t)> ws_releaser();  // for WsLog::release
  std::size_t ws_bytes() const;
  // An upgraded connection ended: its log is final (saved to the db).
  void ws_closed(const ExchangePtr& e);

  Store& store() { return store_; }
  const Store& store() const { return store_; }
  const CaptureLimits& limits() const { return limits_; }
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t captured() const { return captured_; }

 private:
  void drain();

  net::Executor ex_;
  CaptureLimits limits_;
  Store store_;
  mutable std::mutex mu_;  // the queue (and the WebSocket budget): offer() may come from another thread one day
  std::deque<ExchangePtr> queue_;
  std::size_t queue_bytes_ = 0;
  bool drain_posted_ = false;
  std::uint64_t dropped_ = 0;
  std::uint64_t captured_ = 0;
  std::uint64_t seq_ = 0;
  std::uint32_t prefix_;
  std::size_t ws_bytes_ = 0;  // under mu_
  std::unique_ptr<Persister> persister_;  // last: it is stopped (and flushed) first
};

}  // namespace porthole::inspect
