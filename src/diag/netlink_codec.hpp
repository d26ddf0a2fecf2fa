// Bounds-checked walking of netlink messages and their attributes (sans-I/O, core only).
// Netlink replies come from the kernel, but we treat them as untrusted bytes all the same:
// every length is checked before it is used and nothing is read through a misaligned pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::diag::netlink {

using Bytes = std::span<const std::uint8_t>;

struct Message {
  std::uint16_t type = 0;
  std::uint16_t flags = 0;
  std::uint32_t seq = 0;
  Bytes payload;  // the bytes after the 16-byte header, within nlmsg_len
};

struct Attr {
  std::uint16_t type = 0;  // without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits
  Bytes value;
};

// Calls `fn` for each well-formed message in `buf`. A malformed header (length below the
// header size or past the end of the buffer) stops the walk with an error; messages already
// delivered stay delivered.
Result<void> for_each_message(Bytes buf, const std::function<void(const Message&)>& fn);

// Calls `fn` for each attribute in `buf` (rtattr/nlattr layout: u16 len, u16 type, value,
// padded to 4). A malformed attribute stops the walk with an error.
Result<void> for_each_attr(Bytes buf, const std::function<void(const Attr&)>& fn);

// One chunk of a dump reply (the answer to dump_request()): NLMSG_DONE ends the dump (true is
// returned), NLMSG_ERROR with a non-zero code fails it ("WHAT: kernel error 13 (Permission
// denied)"), NLMSG_NOOP and error acks are skipped, every other message goes to `fn`. Nothing
// after DONE or an error is looked at. False: the dump continues in the next chunk.
Result<bool> for_each_dump_message(Bytes buf, std::string_view what,
                                   const std::function<void(const Message&)>& fn);

// A dump request (NLM_F_REQUEST | NLM_F_DUMP): the 16-byte header, then `body`.
std::vector<std::uint8_t> dump_request(std::uint16_t type, std::uint32_t seq, const void* body,
                                       std::size_t len);

// Reads an unaligned host-order integer at `off`; false when it does not fit.
bool read_u8(Bytes b, std::size_t off, std::uint8_t& out);
bool read_u16(Bytes b, std::size_t off, std::uint16_t& out);
bool read_u32(Bytes b, std::size_t off, std::uint32_t& out);

// The error code carried by an NLMSG_ERROR payload (negative errno, 0 = ack), or an error
// when the payload is too short.
Result<int> error_code(const Message& m);

}  // namespace porthole::diag::netlink
