// tcp_probe: the small TCP load tool behind bench/run.sh (plain POSIX sockets, no Asio).
//
//   tcp_probe echo-server PORT [--bind ADDR]     epoll echo server; prints "listening PORT"
//   tcp_probe pingpong HOST PORT [--seconds N]   1-byte ping-pong on one connection -> JSON
//   tcp_probe connrate HOST PORT [--seconds N]   connect + 1-byte echo + close, repeated -> JSON
//   tcp_probe hold HOST PORT --count N           N connections, one echo each, held until stdin
//                                                closes or SIGINT/SIGTERM; prints "holding N"
//   tcp_probe sink-server PORT [--bind ADDR]     reads and discards 'x' bytes; at an 'E' (or EOF)
//                                                sends the byte count (8 bytes, big-endian), closes
//   tcp_probe throughput HOST PORT [--seconds N] one stream of 256 KiB writes of 'x' to a
//                                                sink-server for N s, then 'E' (no half-close: some
//                                                proxies cannot); Gbit/s by the sink's count -> JSON
// pingpong, connrate and throughput take --socks5 PROXY_HOST:PORT: each connection is then a
// SOCKS5 CONNECT (no authentication) through that proxy to HOST:PORT (HOST an IPv4 address).
// Every socket has TCP_NODELAY; RLIMIT_NOFILE is raised to the hard limit. Exit status: 0 ok,
// 1 runtime failure, 2 usage error.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kIoTimeoutSec = 10;

struct Args {
  std::string mode, host = "127.0.0.1", port, bind = "127.0.0.1";
  std::string socks5;  // PROXY_HOST:PORT, "" for none
  double seconds = 10;
  long count = 0;
  long batch = 200;
};

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr,
               "tcp_probe: %s\nusage: tcp_probe echo-server PORT [--bind ADDR]\n"
               "       tcp_probe pingpong|connrate HOST PORT [--seconds N]\n"
               "       tcp_probe hold HOST PORT --count N [--batch B]\n"
               "       tcp_probe sink-server PORT [--bind ADDR]\n"
               "       tcp_probe throughput HOST PORT [--seconds N]\n"
               "       (pingpong, connrate, throughput: [--socks5 PROXY_HOST:PORT])\n",
               msg);
  std::exit(2);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "tcp_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

double to_number(const char* s, const char* flag) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || v < 0) usage(flag);
  return v;
}

Args parse_args(int argc, char** argv) {
  if (argc < 2) usage("missing mode");
  Args a;
  a.mode = argv[1];
  std::vector<std::string> pos;
  for (int i = 2; i < argc; ++i) {
    std::string_view s = argv[i];
    bool has_value = i + 1 < argc;
    if (s == "--seconds" && has_value) {
      a.seconds = to_number(argv[++i], "bad --seconds");
    } else if (s == "--count" && has_value) {
      a.count = static_cast<long>(to_number(argv[++i], "bad --count"));
    } else if (s == "--batch" && has_value) {
      a.batch = std::max(1L, static_cast<long>(to_number(argv[++i], "bad --batch")));
    } else if (s == "--bind" && has_value) {
      a.bind = argv[++i];
    } else if (s == "--socks5" && has_value) {
      a.socks5 = argv[++i];
    } else if (s.starts_with("--")) {
      usage("unknown flag or missing value");
    } else {
      pos.emplace_back(s);
    }
  }
  if (a.mode == "echo-server" || a.mode == "sink-server") {
    if (pos.size() != 1) usage("echo-server / sink-server take PORT");
    a.port = pos[0];
  } else if (a.mode == "pingpong" || a.mode == "connrate" || a.mode == "hold" || a.mode == "throughput") {
    if (pos.size() != 2) usage("HOST PORT expected");
    a.host = pos[0];
    a.port = pos[1];
    if (a.mode == "hold" && a.count <= 0) usage("hold needs --count N > 0");
  } else {
    usage("unknown mode");
  }
  return a;
}

void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) std::perror("tcp_probe: setrlimit");
  }
}

addrinfo* resolve(const std::string& host, const std::string& port, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    std::fprintf(stderr, "tcp_probe: resolve %s:%s: %s\n", host.c_str(), port.c_str(), gai_strerror(rc));
    std::exit(1);
  }
  return res;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Blocking connect with TCP_NODELAY and send/receive timeouts; -1 with errno set on failure.
int dial(const addrinfo* ai) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  set_nodelay(fd);
  timeval tv{kIoTimeoutSec, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

bool recv_all(int fd, void* p, size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = recv(fd, c, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = ECONNRESET;
      return false;
    }
    c += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Where connections go: HOST:PORT itself, or the SOCKS5 proxy (--socks5) that is asked for it.
struct Route {
  addrinfo* ai = nullptr;  // what to dial
  bool socks = false;
  unsigned char request[10] = {5, 1, 0, 1};  // CONNECT to an IPv4 address
};

Route route_for(const Args& a) {
  Route r;
  if (a.socks5.empty()) {
    r.ai = resolve(a.host, a.port, false);
    return r;
  }
  const auto colon = a.socks5.rfind(':');
  if (colon == std::string::npos) usage("--socks5 takes PROXY_HOST:PORT");
  in_addr v4{};
  if (inet_pton(AF_INET, a.host.c_str(), &v4) != 1) usage("through --socks5, HOST must be an IPv4 address");
  long port = std::strtol(a.port.c_str(), nullptr, 10);
  if (port <= 0 || port > 65535) usage("bad PORT");
  r.socks = true;
  std::memcpy(r.request + 4, &v4, 4);
  r.request[8] = static_cast<unsigned char>(port >> 8);
  r.request[9] = static_cast<unsigned char>(port & 0xff);
  r.ai = resolve(a.socks5.substr(0, colon), a.socks5.substr(colon + 1), false);
  return r;
}

// dial(), then the SOCKS5 greeting and CONNECT when the route has a proxy.
int dial_route(const Route& r) {
  int fd = dial(r.ai);
  if (fd < 0 || !r.socks) return fd;
  const unsigned char hello[3] = {5, 1, 0};
  unsigned char m[2], rep[4];
  bool ok = send(fd, hello, 3, MSG_NOSIGNAL) == 3 && recv_all(fd, m, 2) && m[0] == 5 && m[1] == 0 &&
            send(fd, r.request, sizeof r.request, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof r.request) &&
            recv_all(fd, rep, 4) && rep[1] == 0;
  if (ok) {  // BND.ADDR and BND.PORT: their size by ATYP
    unsigned char rest[258];
    size_t n = rep[3] == 1 ? 6 : rep[3] == 4 ? 18 : 0;
    if (rep[3] == 3) {
      ok = recv_all(fd, rest, 1);
      n = static_cast<size_t>(rest[0]) + 2;
    }
    ok = ok && n > 0 && recv_all(fd, rest, n);
  }
  if (!ok) {
    close(fd);
    errno = ECONNREFUSED;
    return -1;
  }
  return fd;
}

// Sends one byte and waits for it to come back. False (errno set, or 0 on EOF) on failure.
bool echo_byte(int fd, char c = 'x') {
  ssize_t n;
  do n = send(fd, &c, 1, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != 1) return false;
  char back = 0;
  do n = recv(fd, &back, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n == 0) errno = ECONNRESET;
  return n == 1 && back == c;
}

double elapsed_us(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

void print_stats(const char* mode, std::vector<double>& us, double wall_s, long errors) {
  if (us.empty()) {
    std::fprintf(stderr, "tcp_probe: %s: no successful samples (%ld errors)\n", mode, errors);
    std::exit(1);
  }
  std::sort(us.begin(), us.end());
  auto pct = [&](double p) {
    auto idx = static_cast<size_t>(p * static_cast<double>(us.size() - 1) + 0.5);
    return us[std::min(idx, us.size() - 1)];
  };
  double sum = 0;
  for (double v : us) sum += v;
  std::printf(
      "{\"mode\":\"%s\",\"samples\":%zu,\"errors\":%ld,\"seconds\":%.3f,\"p50_us\":%.2f,"
      "\"p99_us\":%.2f,\"mean_us\":%.2f,\"min_us\":%.2f,\"max_us\":%.2f,\"per_s\":%.1f}\n",
      mode, us.size(), errors, wall_s, pct(0.50), pct(0.99), sum / static_cast<double>(us.size()), us.front(),
      us.back(), static_cast<double>(us.size()) / wall_s);
}

int run_pingpong(const Args& a) {
  Route route = route_for(a);
  int fd = dial_route(route);
  freeaddrinfo(route.ai);
  if (fd < 0) die("connect");
  for (int i = 0; i < 200; ++i)  // warm-up: session set-up, caches, first-use allocations
    if (!echo_byte(fd)) die("warm-up echo");
  std::vector<double> us;
  us.reserve(1 << 20);
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(a.seconds);
  for (auto now = start; now < end;) {
    if (!echo_byte(fd)) die("echo");
    auto t = Clock::now();
    us.push_back(elapsed_us(now, t));
    now = t;
  }
  close(fd);
  print_stats("pingpong", us, std::chrono::duration<double>(Clock::now() - start).count(), 0);
  return 0;
}

int run_connrate(const Args& a) {
  Route route = route_for(a);
  std::vector<double> us;
  us.reserve(1 << 18);
  long errors = 0, consecutive = 0;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(a.seconds);
  while (Clock::now() < end) {
    auto t0 = Clock::now();
    int fd = dial_route(route);
    bool ok = fd >= 0 && echo_byte(fd);
    auto t1 = Clock::now();
    if (fd >= 0) close(fd);
    if (ok) {
      us.push_back(elapsed_us(t0, t1));
      consecutive = 0;
      continue;
    }
    ++errors;
    if (++consecutive == 1 || errors % 1000 == 0) std::perror("tcp_probe: connrate");
    if (consecutive >= 100) {
      std::fprintf(stderr, "tcp_probe: connrate: 100 failures in a row, giving up\n");
      break;
    }
  }
  freeaddrinfo(route.ai);
  print_stats("connrate", us, std::chrono::duration<double>(Clock::now() - start).count(), errors);
  return 0;
}

// Opens connections in batches: connect B, send one byte on each, then read each echo back.
bool open_batch(const addrinfo* ai, long n, std::vector<int>& fds) {
  size_t first = fds.size();
  for (long i = 0; i < n; ++i) {
    int fd = dial(ai);
    if (fd < 0) return false;
    fds.push_back(fd);
  }
  char c = 'h';
  for (size_t i = first; i < fds.size(); ++i)
    if (send(fds[i], &c, 1, MSG_NOSIGNAL) != 1) return false;
  for (size_t i = first; i < fds.size(); ++i) {
    char back = 0;
    ssize_t r = recv(fds[i], &back, 1, 0);
    if (r != 1 || back != c) {
      if (r == 0) errno = ECONNRESET;
      return false;
    }
  }
  return true;
}

int run_hold(const Args& a) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");
  addrinfo* ai = resolve(a.host, a.port, false);
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(a.count));
  auto start = Clock::now();
  while (static_cast<long>(fds.size()) < a.count) {
    long n = std::min(a.batch, a.count - static_cast<long>(fds.size()));
    if (!open_batch(ai, n, fds)) {
      std::fprintf(stderr, "tcp_probe: hold: after %zu connections: %s\n", fds.size(), std::strerror(errno));
      return 1;
    }
  }
  freeaddrinfo(ai);
  std::printf("holding %zu (%.0f ms)\n", fds.size(), elapsed_us(start, Clock::now()) / 1000);
  std::fflush(stdout);
  pollfd pf[2] = {{0, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(pf, 2, -1) < 0 && errno != EINTR) die("poll");
    if (pf[1].revents != 0) break;
    if (pf[0].revents != 0) {
      char buf[256];
      ssize_t r = read(0, buf, sizeof buf);
      if (r <= 0) break;  // stdin closed (or unreadable): release
    }
  }
  for (int fd : fds) close(fd);
  std::printf("released %zu\n", fds.size());
  return 0;
}

// --- throughput: one stream to a sink-server, counted by the sink.
int run_throughput(const Args& a) {
  Route route = route_for(a);
  int fd = dial_route(route);
  freeaddrinfo(route.ai);
  if (fd < 0) die("connect");
  timeval tv{60, 0};  // the sink's count comes after everything queued has drained
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<char> buf(256 * 1024, 'x');
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(a.seconds);
  while (Clock::now() < end) {
    ssize_t w = send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) die("send");
  }
  const char last = 'E';  // the end: the sink answers its count
  if (send(fd, &last, 1, MSG_NOSIGNAL) != 1) die("send");
  unsigned char c[8];
  if (!recv_all(fd, c, 8)) die("the sink's count");
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  std::uint64_t bytes = 0;
  for (unsigned char b : c) bytes = (bytes << 8) | b;
  std::printf("{\"mode\":\"throughput\",\"bytes\":%llu,\"seconds\":%.3f,\"gbit_s\":%.3f}\n",
              static_cast<unsigned long long>(bytes), secs, static_cast<double>(bytes) * 8 / secs / 1e9);
  return 0;
}

// --- sink server: a thread per connection, reads and discards, answers the count at EOF.
[[noreturn]] void run_sink(int lfd) {
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
        pollfd pf{lfd, POLLIN, 0};
        poll(&pf, 1, -1);
        continue;
      }
      die("accept");
    }
    std::thread([fd] {
      std::vector<char> buf(256 * 1024);
      std::uint64_t total = 0;
      for (;;) {
        ssize_t r = recv(fd, buf.data(), buf.size(), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        total += static_cast<std::uint64_t>(r);
        if (buf[static_cast<size_t>(r) - 1] == 'E') break;  // every byte before it is 'x'
      }
      unsigned char c[8];
      for (int i = 7; i >= 0; --i, total >>= 8) c[i] = static_cast<unsigned char>(total & 0xff);
      (void)send(fd, c, 8, MSG_NOSIGNAL);
      close(fd);
    }).detach();
  }
}

// --- echo server: one epoll thread, level-triggered, 64 KiB reads, pending bytes kept per fd.
int listen_on(const Args& a) {
  addrinfo* ai = resolve(a.bind, a.port, true);
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) die("bind");
  freeaddrinfo(ai);
  if (listen(fd, 4096) != 0) die("listen");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  auto port = ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  std::printf("listening %u\n", ntohs(port));
  std::fflush(stdout);
  return fd;
}

class EchoServer {
 public:
  explicit EchoServer(int lfd) : lfd_(lfd), ep_(epoll_create1(EPOLL_CLOEXEC)), buf_(64 * 1024) {
    if (ep_ < 0) die("epoll_create1");
    watch(lfd_, EPOLLIN, EPOLL_CTL_ADD);
  }
  [[noreturn]] void run() {
    std::vector<epoll_event> evs(256);
    for (;;) {
      int n = epoll_wait(ep_, evs.data(), static_cast<int>(evs.size()), -1);
      if (n < 0 && errno != EINTR) die("epoll_wait");
      for (int i = 0; i < n; ++i) {
        int fd = evs[static_cast<size_t>(i)].data.fd;
        if (fd == lfd_) {
          accept_all();
        } else {
          handle(fd, evs[static_cast<size_t>(i)].events);
        }
      }
    }
  }

 private:
  void watch(int fd, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(ep_, op, fd, &ev) != 0 && op != EPOLL_CTL_DEL) std::perror("tcp_probe: epoll_ctl");
  }
  void accept_all() {
    for (;;) {
      int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE) std::perror("tcp_probe: accept");
        return;  // EAGAIN, or a transient error: try again on the next readiness event
      }
      set_nodelay(fd);
      watch(fd, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
    }
  }
  void drop(int fd) {
    watch(fd, 0, EPOLL_CTL_DEL);
    pending_.erase(fd);
    close(fd);
  }
  // Writes what it can; keeps the rest and waits for EPOLLOUT (reads paused meanwhile).
  bool send_some(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pending_[fd].assign(p, p + n);
        watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
        return true;
      }
      if (w < 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }
  void handle(int fd, uint32_t events) {
    if (events & EPOLLOUT) {
      std::string rest = std::move(pending_[fd]);
      pending_.erase(fd);
      watch(fd, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_MOD);
      if (!send_some(fd, rest.data(), rest.size())) drop(fd);
      return;
    }
    ssize_t r = recv(fd, buf_.data(), buf_.size(), 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (r <= 0 || !send_some(fd, buf_.data(), static_cast<size_t>(r))) drop(fd);
  }

  int lfd_, ep_;
  std::vector<char> buf_;
  std::unordered_map<int, std::string> pending_;
};

}  // namespace

int main(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  if (a.mode == "echo-server") EchoServer(listen_on(a)).run();
  if (a.mode == "pingpong") return run_pingpong(a);
  if (a.mode == "connrate") return run_connrate(a);
  if (a.mode == "throughput") return run_throughput(a);
  if (a.mode == "sink-server") run_sink(listen_on(a));
  return run_hold(a);
}
