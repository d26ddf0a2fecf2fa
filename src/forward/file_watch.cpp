#include "forward/file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <filesystem>

namespace porthole::forward {

std::shared_ptr<FileWatch> FileWatch::start(const net::Executor& ex, const std::string& path, std::function<void()> on_change) {
  const std::filesystem::path p(path);
  auto dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    spdlog::warn("cannot watch {} for changes (inotify: {}); SIGHUP reloads it", path, std::strerror(errno));
    return nullptr;
  }
  if (::inotify_add_watch(fd, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
    spdlog::warn("cannot watch {} for changes ({}); SIGHUP reloads it", dir.string(), std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  std::shared_ptr<FileWatch> w(new FileWatch(ex, fd, p.filename().string(), std::move(on_change)));
  net::asio::co_spawn(ex, [w] { return w->loop(); }, net::asio::detached);
  return w;
}

FileWatch::FileWatch(const net::Executor& ex, int fd, std::string name, std::function<void()> on_change)
    : fd_(ex, fd), name_(std::move(name)), on_change_(std::move(on_change)), debounce_(ex) {}

void FileWatch::stop() {
  stopped_ = true;
  net::error_code ec;
  fd_.close(ec);
  debounce_.cancel();
}

net::Task<void> FileWatch::loop() {
  auto self = shared_from_this();
  alignas(inotify_event) char buf[4096];
  while (!stopped_) {
    auto [ec] = co_await fd_.async_wait(net::asio::posix::stream_descriptor::wait_read, net::use_nothrow);
    if (ec || stopped_) co_return;
    bool ours = false;
    for (;;) {
      const ssize_t n = ::read(fd_.native_handle(), buf, sizeof buf);
      if (n <= 0) break;
      for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        if (ev->len > 0 && name_ == ev->name) ours = true;
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
    }
    if (!ours) continue;
    debounce_.expires_after(std::chrono::milliseconds(100));
    debounce_.async_wait([weak = std::weak_ptr<FileWatch>(self)](const net::error_code& e) {
      auto s = weak.lock();
      if (e || !s || s->stopped_) return;
      s->on_change_();
    });
  }
}

}  // namespace porthole::forward
