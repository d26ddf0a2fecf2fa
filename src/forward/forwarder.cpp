#include "forward/forwarder.hpp"

#include <functional>
#include <future>

namespace porthole::forward {

Forwarder::Forwarder(ForwarderOptions opts) : opts_(opts) {
  raise_fd_limit();
  unsigned n = opts_.threads != 0 ? opts_.threads : std::thread::hardware_concurrency();
  if (n == 0) n = 1;
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    auto* raw = w.get();
    w->thread = std::thread([raw] { raw->io.run(); });
    workers_.push_back(std::move(w));
  }
}

Forwarder::~Forwarder() {
  for (auto& w : workers_) {
    // Close listeners and flows on their own thread, then let the thread end.
    net::asio::post(w->io, [raw = w.get()] {
      for (auto& [k, a] : raw->tcp) a->close();
      for (auto& [k, u] : raw->udp) u->close();
      raw->tcp.clear();
      raw->udp.clear();
      raw->io.stop();
    });
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

std::size_t Forwarder::udp_worker(const std::string& key) const { return std::hash<std::string>{}(key) % workers_.size(); }

Result<Diff> Forwarder::apply(const std::vector<Listener>& next) {
  Diff d = diff(current_, next);
  // Bind everything first: one TCP socket per thread, one UDP socket.
  struct NewSockets {
    Listener rule;
    std::vector<Fd> fds;
  };
  std::vector<NewSockets> fresh;
  for (const auto* set : {&d.added, &d.changed}) {
    for (const auto& l : *set) {
      NewSockets ns{l, {}};
      const std::size_t count = l.proto == Proto::tcp ? workers_.size() : 1;
      for (std::size_t i = 0; i < count; ++i) {
        auto fd = bind_listener(l);
        if (!fd) return fd.error();  // the Fds bound so far close here
        ns.fds.push_back(std::move(*fd));
      }
      fresh.push_back(std::move(ns));
    }
  }
  // Hand them over: each thread closes what went away and starts what came.
  std::vector<std::string> gone;
  for (const auto* set : {&d.removed, &d.changed}) {
    for (const auto& l : *set) gone.push_back(l.key());
  }
  std::vector<std::future<void>> done;
  for (std::size_t wi = 0; wi < workers_.size(); ++wi) {
    auto* w = workers_[wi].get();
    std::vector<std::pair<Listener, Fd>> mine;
    for (auto& ns : fresh) {
      if (ns.rule.proto == Proto::tcp) {
        mine.emplace_back(ns.rule, std::move(ns.fds[wi]));
      } else if (udp_worker(ns.rule.key()) == wi) {
        mine.emplace_back(ns.rule, std::move(ns.fds[0]));
      }
    }
    auto task = std::make_shared<std::packaged_task<void()>>(
        [w, gone, mine = std::make_shared<decltype(mine)>(std::move(mine)), opts = opts_]() mutable {
          for (const auto& key : gone) {
            if (auto it = w->tcp.find(key); it != w->tcp.end()) {
              it->second->close();
              w->tcp.erase(it);
            }
            if (auto it = w->udp.find(key); it != w->udp.end()) {
              it->second->close();
              w->udp.erase(it);
            }
          }
          for (auto& [rule, fd] : *mine) {
            if (rule.proto == Proto::tcp) {
              auto a = std::make_shared<TcpAcceptor>(w->io.get_executor(), std::move(fd), rule, opts.tcp);
              a->start();
              w->tcp[rule.key()] = a;
            } else {
              auto u = std::make_shared<UdpListener>(w->io.get_executor(), std::move(fd), rule, opts.udp);
              u->start();
              w->udp[rule.key()] = u;
            }
          }
        });
    done.push_back(task->get_future());
    net::asio::post(w->io, [task] { (*task)(); });
  }
  for (auto& f : done) f.wait();
  current_ = next;
  return d;
}

}  // namespace porthole::forward
