#include "diag/netlink_codec.hpp"

#include <linux/netlink.h>

#include <cstring>
#include <optional>

namespace porthole::diag::netlink {

namespace {
constexpr std::size_t kHeader = 16;  // sizeof(struct nlmsghdr)
constexpr std::size_t align4(std::size_t n) {
  return (n + 3U) & ~std::size_t{3};
}
}  // namespace

std::vector<std::uint8_t> dump_request(std::uint16_t type, std::uint32_t seq, const void* body,
                                       std::size_t len) {
  std::vector<std::uint8_t> out(kHeader + len);
  const auto total = static_cast<std::uint32_t>(out.size());
  const std::uint16_t flags = NLM_F_REQUEST | NLM_F_DUMP;
  const std::uint32_t pid = 0;
  std::memcpy(out.data(), &total, 4);
  std::memcpy(out.data() + 4, &type, 2);
  std::memcpy(out.data() + 6, &flags, 2);
  std::memcpy(out.data() + 8, &seq, 4);
  std::memcpy(out.data() + 12, &pid, 4);
  if (len > 0) std::memcpy(out.data() + kHeader, body, len);
  return out;
}

bool read_u8(Bytes b, std::size_t off, std::uint8_t& out) {
  if (off >= b.size()) return false;
  out = b[off];
  return true;
}

bool read_u16(Bytes b, std::size_t off, std::uint16_t& out) {
  if (off > b.size() || b.size() - off < sizeof out) return false;
  std::memcpy(&out, b.data() + off, sizeof out);
  return true;
}

bool read_u32(Bytes b, std::size_t off, std::uint32_t& out) {
  if (off > b.size() || b.size() - off < sizeof out) return false;
  std::memcpy(&out, b.data() + off, sizeof out);
  return true;
}

Result<void> for_each_message(Bytes buf, const std::function<void(const Message&)>& fn) {
  std::size_t off = 0;
  while (off < buf.size()) {
    Bytes rest = buf.subspan(off);
    std::uint32_t len = 0;
    Message m;
    if (!read_u32(rest, 0, len) || !read_u16(rest, 4, m.type) || !read_u16(rest, 6, m.flags) ||
        !read_u32(rest, 8, m.seq)) {
      return make_error("netlink: truncated message header at offset {}", off);
    }
    if (len < kHeader || len > rest.size()) {
      return make_error("netlink: bad message length {} at offset {} ({} bytes left)", len, off, rest.size());
    }
    m.payload = rest.subspan(kHeader, len - kHeader);
    fn(m);
    off += align4(len);
  }
  return {};
}

Result<void> for_each_attr(Bytes buf, const std::function<void(const Attr&)>& fn) {
  std::size_t off = 0;
  while (off + 4 <= buf.size()) {
    Bytes rest = buf.subspan(off);
    std::uint16_t len = 0;
    std::uint16_t type = 0;
    (void)read_u16(rest, 0, len);
    (void)read_u16(rest, 2, type);
    if (len < 4 || len > rest.size()) {
      return make_error("netlink: bad attribute length {} at offset {}", len, off);
    }
    fn(Attr{static_cast<std::uint16_t>(type & 0x3fffU), rest.subspan(4, len - 4U)});
    off += align4(len);
  }
  return {};
}

Result<bool> for_each_dump_message(Bytes buf, std::string_view what,
                                   const std::function<void(const Message&)>& fn) {
  bool done = false;
  std::optional<Error> failure;
  auto walked = for_each_message(buf, [&](const Message& m) {
    if (done || failure) return;
    if (m.type == NLMSG_DONE) {
      done = true;
    } else if (m.type == NLMSG_ERROR) {
      auto code = error_code(m);
      if (!code) {
        failure = make_error("{}: {}", what, code.error().message);
      } else if (*code != 0) {
        long long err = -static_cast<long long>(*code);
        failure = make_error("{}: kernel error {} ({})", what, err,
                             err > 0 && err < 4096 ? std::strerror(static_cast<int>(err)) : "?");
      }
    } else if (m.type != NLMSG_NOOP) {
      fn(m);
    }
  });
  if (!walked) return walked.error();
  if (failure) return *failure;
  return done;
}

Result<int> error_code(const Message& m) {
  std::uint32_t raw = 0;
  if (!read_u32(m.payload, 0, raw)) return make_error("netlink: truncated NLMSG_ERROR");
  int code = 0;
  std::memcpy(&code, &raw, sizeof code);
  return code;
}

}  // namespace porthole::diag::netlink
