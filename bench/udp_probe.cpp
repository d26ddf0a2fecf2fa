// udp_probe: the UDP load tool behind bench/forward.sh (plain POSIX sockets).
//
//   udp_probe echo-server PORT                     recvmmsg/sendmmsg echo on 127.0.0.1; prints "listening PORT"
//   udp_probe load HOST PORT [--size N] [--seconds S] [--window W]
//        keeps W datagrams of N bytes in flight on one socket (closed loop), -> JSON
//        {"size","sent","received","lost","per_s","loss_pct"}; a window not answered within
//        100 ms counts as lost and is sent afresh.
// Exit status: 0 ok, 1 runtime failure, 2 usage error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kBatch = 64;

int usage() {
  std::fprintf(stderr, "usage: udp_probe echo-server PORT | load HOST PORT [--size N] [--seconds S] [--window W]\n");
  return 2;
}

sockaddr_in addr_of(const char* host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "udp_probe: %s is not an IPv4 address\n", host);
    std::exit(2);
  }
  return a;
}

int echo_server(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  auto a = addr_of("127.0.0.1", port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("udp_probe: bind");
    return 1;
  }
  std::printf("listening %d\n", port);
  std::fflush(stdout);
  std::vector<std::vector<char>> bufs(kBatch, std::vector<char>(65536));
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_in names[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[static_cast<size_t>(i)].data(), 65536};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &names[i];
      msgs[i].msg_hdr.msg_namelen = sizeof names[i];
    }
    const int n = recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
    int sent = 0;
    while (sent < n) {
      const int r = sendmmsg(fd, msgs + sent, static_cast<unsigned>(n - sent), 0);
      if (r <= 0) break;
      sent += r;
    }
  }
}

int load(const char* host, int port, size_t size, double seconds, int window) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  auto a = addr_of(host, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("udp_probe: connect");
    return 1;
  }
  std::vector<char> payload(size, 'u');
  std::vector<std::vector<char>> bufs(kBatch, std::vector<char>(65536));
  mmsghdr out[kBatch], in[kBatch];
  iovec oiov[kBatch], iiov[kBatch];
  unsigned long long sent = 0, received = 0, lost = 0;
  long outstanding = 0;
  auto send_n = [&](int n) {
    while (n > 0) {
      const int k = n < kBatch ? n : kBatch;
      for (int i = 0; i < k; ++i) {
        oiov[i] = {payload.data(), size};
        std::memset(&out[i], 0, sizeof out[i]);
        out[i].msg_hdr.msg_iov = &oiov[i];
        out[i].msg_hdr.msg_iovlen = 1;
      }
      const int r = sendmmsg(fd, out, static_cast<unsigned>(k), 0);
      if (r <= 0) return;
      sent += static_cast<unsigned long long>(r);
      outstanding += r;
      n -= r;
    }
  };
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  send_n(window);
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) {  // the window went missing
      lost += static_cast<unsigned long long>(outstanding);
      outstanding = 0;
      send_n(window);
      continue;
    }
    for (int i = 0; i < kBatch; ++i) {
      iiov[i] = {bufs[static_cast<size_t>(i)].data(), 65536};
      std::memset(&in[i], 0, sizeof in[i]);
      in[i].msg_hdr.msg_iov = &iiov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd, in, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    received += static_cast<unsigned long long>(n);
    outstanding -= n;
    if (outstanding < 0) outstanding = 0;
    send_n(n);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double loss = sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(sent) : 0;
  std::printf("{\"size\": %zu, \"sent\": %llu, \"received\": %llu, \"lost\": %llu, \"per_s\": %.0f, \"loss_pct\": %.3f}\n",
              size, sent, received, lost, static_cast<double>(received) / secs, loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  if (mode == "echo-server") return echo_server(std::atoi(argv[2]));
  if (mode != "load" || argc < 4) return usage();
  size_t size = 64;
  double seconds = 5;
  int window = 256;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--size") {
      size = static_cast<size_t>(std::atol(argv[i + 1]));
    } else if (k == "--seconds") {
      seconds = std::atof(argv[i + 1]);
    } else if (k == "--window") {
      window = std::atoi(argv[i + 1]);
    } else {
      return usage();
    }
  }
  if (size == 0 || size > 65507 || window < 1) return usage();
  return load(argv[2], std::atoi(argv[3]), size, seconds, window);
}
