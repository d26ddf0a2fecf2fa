// A ByteStream over two file descriptors (stdin and stdout of `porthole connect --stdio`, the
// ssh ProxyCommand). Pipes, sockets and terminals are waited on by the reactor; a descriptor
// epoll cannot wait on (a regular file, /dev/null) is read and written directly, which never
// blocks for long. shutdown_write() closes the output descriptor: the reader (ssh) sees EOF.
#pragma once

#include <boost/asio/posix/stream_descriptor.hpp>

#include "net/byte_stream.hpp"

namespace porthole::net {

class StdioStream final : public ByteStream {
 public:
  StdioStream(const Executor& ex, int in_fd, int out_fd);
  ~StdioStream() override;

  Task<Result<Chunk>> read() override;
  Task<Result<void>> write(std::span<const std::uint8_t> bytes) override;
  void shutdown_write() override;
  void abort(std::string_view reason) override;

 private:
  asio::posix::stream_descriptor in_, out_;
  int in_plain_ = -1, out_plain_ = -1;  // descriptors the reactor refused: plain read/write
  bool in_done_ = false, out_done_ = false;
};

}  // namespace porthole::net
