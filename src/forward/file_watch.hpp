// Calls back when a file changes: inotify on its directory (editors and `mv` replace the file,
// so watching the file itself would lose it), filtered by name, debounced by 100 ms so a save
// that writes in several steps is one change.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "net/asio.hpp"

namespace porthole::forward {

class FileWatch : public std::enable_shared_from_this<FileWatch> {
 public:
  // Returns nullptr (and logs why) when the directory cannot be watched; SIGHUP still works.
  static std::shared_ptr<FileWatch> start(const net::Executor& ex, const std::string& path, std::function<void()> on_change);
  void stop();

 private:
  FileWatch(const net::Executor& ex, int fd, std::string name, std::function<void()> on_change);
  net::Task<void> loop();

  net::asio::posix::stream_descriptor fd_;
  std::string name_;
  std::function<void()> on_change_;
  net::asio::steady_timer debounce_;
  bool stopped_ = false;
};

}  // namespace porthole::forward
