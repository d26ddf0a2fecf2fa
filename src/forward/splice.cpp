#include "forward/splice.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "core/metrics.hpp"

namespace porthole::forward {

namespace {

using net::asio::ip::tcp;

constexpr std::size_t kSpliceMax = 256 * 1024;  // a pipe's capacity once grown (F_SETPIPE_SZ)
constexpr std::size_t kKeepFreePipes = 32;       // per thread
constexpr std::size_t kCopyBuffer = 64 * 1024;

metrics::Counter& fallback_counter() {
  static auto& c = metrics::counter("porthole_forward_splice_fallback_total",
                                    "TCP directions that used a buffered copy because splice(2) could not be used");
  return c;
}

// The shared state of one relayed connection: both directions hold it.
struct Relay {
  std::shared_ptr<tcp::socket> a, b;
  RelayDone done;
  RelayTotals totals;
  int running = 2;
  bool failed = false;

  void fail() {
    if (failed) return;
    failed = true;
    totals.reset = true;
    reset_socket(*a);
    reset_socket(*b);
  }
  void finish() {
    if (--running == 0 && done) {
      auto d = std::move(done);
      d(totals);
    }
  }
};

enum class Step { ok, again, eof, error, unsupported };

Step classify(ssize_t n) {
  if (n > 0) return Step::ok;
  if (n == 0) return Step::eof;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Step::again;
  if (errno == EINTR) return Step::again;
  if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) return Step::unsupported;
  return Step::error;
}

// A buffered copy (the fallback): read into one buffer, write it all, repeat.
net::Task<bool> copy_buffered(Relay& st, tcp::socket& from, tcp::socket& to, std::uint64_t& count) {
  std::unique_ptr<std::uint8_t[]> buf;
  for (;;) {
    if (st.failed) co_return false;
    if (!buf) buf = std::make_unique<std::uint8_t[]>(kCopyBuffer);
    const ssize_t n = ::recv(from.native_handle(), buf.get(), kCopyBuffer, 0);
    const auto s = classify(n);
    if (s == Step::eof) co_return true;
    if (s == Step::again) {
      buf.reset();  // idle: hold no buffer while waiting
      auto [ec] = co_await from.async_wait(tcp::socket::wait_read, net::use_nothrow);
      if (ec || st.failed) co_return false;
      continue;
    }
    if (s != Step::ok) co_return false;
    std::size_t off = 0;
    while (off < static_cast<std::size_t>(n)) {
      const ssize_t w = ::send(to.native_handle(), buf.get() + off, static_cast<std::size_t>(n) - off, MSG_NOSIGNAL);
      const auto ws = classify(w);
      if (ws == Step::ok) {
        off += static_cast<std::size_t>(w);
        count += static_cast<std::uint64_t>(w);
      } else if (ws == Step::again) {
        auto [ec] = co_await to.async_wait(tcp::socket::wait_write, net::use_nothrow);
        if (ec || st.failed) co_return false;
      } else {
        co_return false;
      }
    }
  }
}

// One direction through a pipe. Returns true at a clean end of stream.
net::Task<bool> splice_one_way(Relay& st, tcp::socket& from, tcp::socket& to, std::uint64_t& count) {
  auto& pool = PipePool::this_thread();
  PipePool::Pipe pipe;
  std::size_t in_pipe = 0;
  // (The pool is looked up again at the end: a frame destroyed at shutdown may be destroyed on
  // another thread than the one it ran on, after that thread's pool is gone.)
  struct Giveback {
    PipePool::Pipe& pipe;
    std::size_t& in_pipe;
    ~Giveback() {
      if (pipe.r < 0) return;
      if (in_pipe == 0) {
        PipePool::this_thread().give(pipe);
      } else {  // bytes left in it: it cannot be reused
        ::close(pipe.r);
        ::close(pipe.w);
      }
    }
  } giveback{pipe, in_pipe};
  for (;;) {
    if (st.failed) co_return false;
    if (pipe.r < 0 && !pool.take(pipe)) {
      fallback_counter().inc();
      co_return co_await copy_buffered(st, from, to, count);
    }
    const ssize_t n = ::splice(from.native_handle(), nullptr, pipe.w, nullptr, kSpliceMax, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    const auto s = classify(n);
    if (s == Step::eof) co_return true;
    if (s == Step::unsupported) {
      fallback_counter().inc();
      pool.give(pipe);  // empty; the copy holds none
      co_return co_await copy_buffered(st, from, to, count);
    }
    if (s == Step::error) co_return false;
    if (s == Step::again) {
      pool.give(pipe);  // empty: an idle direction holds no pipe
      auto [ec] = co_await from.async_wait(tcp::socket::wait_read, net::use_nothrow);
      if (ec) co_return false;
      continue;
    }
    in_pipe = static_cast<std::size_t>(n);
    while (in_pipe > 0) {
      const ssize_t w = ::splice(pipe.r, nullptr, to.native_handle(), nullptr, in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      const auto ws = classify(w);
      if (ws == Step::ok) {
        in_pipe -= static_cast<std::size_t>(w);
        count += static_cast<std::uint64_t>(w);
      } else if (ws == Step::again) {
        auto [ec] = co_await to.async_wait(tcp::socket::wait_write, net::use_nothrow);
        if (ec || st.failed) co_return false;
      } else {
        co_return false;
      }
    }
  }
}

net::Task<void> run_direction(std::shared_ptr<Relay> st, bool a_to_b) {
  auto& from = a_to_b ? *st->a : *st->b;
  auto& to = a_to_b ? *st->b : *st->a;
  auto& count = a_to_b ? st->totals.a_to_b : st->totals.b_to_a;
  const bool clean = co_await splice_one_way(*st, from, to, count);
  if (clean && !st->failed) {
    net::error_code ec;
    to.shutdown(tcp::socket::shutdown_send, ec);  // half-close: the other direction goes on
  } else {
    st->fail();
  }
  st->finish();
}

}  // namespace

PipePool::~PipePool() {
  for (auto& p : free_) {
    ::close(p.r);
    ::close(p.w);
  }
}

bool PipePool::take(Pipe& p) {
  if (!free_.empty()) {
    p = free_.back();
    free_.pop_back();
    return true;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kSpliceMax));  // fewer splices per MiB; may be refused
  p = {fds[0], fds[1]};
  return true;
}

void PipePool::give(Pipe& p) {
  if (p.r < 0) return;
  if (free_.size() < kKeepFreePipes) {
    free_.push_back(p);
  } else {
    ::close(p.r);
    ::close(p.w);
  }
  p = {};
}

PipePool& PipePool::this_thread() {
  thread_local PipePool pool;
  return pool;
}

void reset_socket(tcp::socket& s) {
  if (!s.is_open()) return;
  net::error_code ec;
  s.set_option(net::asio::socket_base::linger(true, 0), ec);
  s.close(ec);
}

void start_relay(std::shared_ptr<tcp::socket> a, std::shared_ptr<tcp::socket> b, RelayDone done) {
  auto st = std::make_shared<Relay>();
  st->a = std::move(a);
  st->b = std::move(b);
  st->done = std::move(done);
  auto ex = st->a->get_executor();
  net::asio::co_spawn(ex, run_direction(st, true), net::asio::detached);
  net::asio::co_spawn(ex, run_direction(st, false), net::asio::detached);
}

}  // namespace porthole::forward
