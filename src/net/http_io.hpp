// HTTP/1 messages over a ByteStream, with the sans-I/O codec (proto/http1.hpp): a reader that
// keeps what it read past a head (the body, the next request) and forwards bodies with their
// framing checked. The relay and the agent use the same reader.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "net/byte_stream.hpp"
#include "proto/http1.hpp"

namespace porthole::net {

enum class HeadStatus {
  ok,      // `head` holds the parsed head
  eof,     // the stream ended before any byte of a head (a keep-alive connection closed)
  bad,     // the bytes are not a valid head: `bad` says why (status 400/431/...)
  failed,  // the stream failed, or ended inside a head: `failed` says why
};

template <class Head>
struct HeadRead {
  HeadStatus status = HeadStatus::failed;
  Head head;
  proto::http1::ParseError bad;
  Error failed;
};

class MessageReader {
 public:
  explicit MessageReader(ByteStream& stream) : s_(stream) {}

  Task<HeadRead<proto::http1::RequestHead>> read_request(const proto::http1::Limits& limits);
  Task<HeadRead<proto::http1::ResponseHead>> read_response(std::string_view request_method,
                                                          const proto::http1::Limits& limits);
  // Forwards the body that `framer` delimits to `to` (buffered bytes first, then reads) and
  // returns its size; bytes after it stay buffered. Errors: bad framing (Errc::protocol), the
  // source ended early or failed (its error), or writing failed.
  // `on_progress` (optional) runs after each write: a stall deadline re-arms there. `prefix`
  // (the message's head) goes out with the first body bytes; with `last` the final write ends
  // `to` (write_last), so a small message is one write.
  Task<Result<std::uint64_t>> copy_body(proto::http1::BodyFramer& framer, ByteStream& to,
                                        const std::function<void()>& on_progress = {},
                                        std::span<const std::uint8_t> prefix = {}, bool last = false);

  std::span<const std::uint8_t> buffered() const { return {buf_.data() + pos_, buf_.size() - pos_}; }
  ByteStream& stream() { return s_; }

 private:
  // Reads more into the buffer; false at end of stream.
  Task<Result<bool>> fill();
  void consume(std::size_t n);

  ByteStream& s_;
  std::vector<std::uint8_t> buf_;
  std::size_t pos_ = 0;
};

}  // namespace porthole::net
