// The forwarder: one thread per core, each with its own io_context; every TCP rule has one
// listening socket per thread (SO_REUSEPORT: the kernel spreads connections, and a connection
// stays on its thread for life, no locks on the data path); every UDP rule lives on one thread
// (so its flow table needs no lock and a visitor's flow never moves).
// apply() makes a rule set current: it binds every socket that added or changed rules need
// *before* changing anything, so a set that cannot be bound is refused whole and the running
// rules stay; unchanged rules keep their sockets, and established connections are never closed
// by apply().
#pragma once

#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "forward/rules.hpp"
#include "forward/tcp_forward.hpp"
#include "forward/udp_forward.hpp"
#include "net/asio.hpp"

namespace porthole::forward {

struct ForwarderOptions {
  unsigned threads = 0;  // 0 = one per core
  TcpOptions tcp;
  UdpOptions udp;
};

class Forwarder {
 public:
  explicit Forwarder(ForwarderOptions opts);
  ~Forwarder();  // stops every thread; open connections end with the process
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Makes `next` the running set; returns what changed, or an error (nothing changed).
  Result<Diff> apply(const std::vector<Listener>& next);
  unsigned threads() const { return static_cast<unsigned>(workers_.size()); }

 private:
  struct Worker {
    net::asio::io_context io{1};
    net::asio::executor_work_guard<net::asio::io_context::executor_type> guard{io.get_executor()};
    std::thread thread;
    std::map<std::string, std::shared_ptr<TcpAcceptor>> tcp;  // by Listener::key(), on this thread only
    std::map<std::string, std::shared_ptr<UdpListener>> udp;
  };
  std::size_t udp_worker(const std::string& key) const;

  ForwarderOptions opts_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Listener> current_;
};

}  // namespace porthole::forward
