// The state file under concurrent writers: update_records holds flock(2) on PATH.lock, so
// processes that add records at the same time never lose one another's.
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "../temp_dir.hpp"
#include "router/backends.hpp"

using namespace porthole::router;
using porthole::router::detail::Record;

namespace {

Record record(std::uint16_t port) {
  Record r;
  r.method = Method::pcp;
  r.external_port = port;
  r.internal_port = port;
  r.internal_address = "10.77.0.2";
  r.gateway = "10.77.0.1";
  r.nonce_hex = "000102030405060708090a0b";
  return r;
}

TEST(StateFile, RoundTrip) {
  porthole::test_util::TempDir dir;
  auto path = (dir.path / "sub" / "mappings.json").string();
  ASSERT_TRUE(detail::update_records(path, [](std::vector<Record>& rs) { rs.push_back(record(1234)); }));
  auto rs = detail::load_records(path);
  ASSERT_EQ(rs.size(), 1U);
  EXPECT_EQ(rs[0].external_port, 1234);
  EXPECT_EQ(rs[0].nonce_hex, "000102030405060708090a0b");
}

// Without the lock, two processes that load, add and save at once keep only one of their
// records (and shared temp files could interleave). 6 processes x 25 records each, all kept.
TEST(StateFile, ConcurrentProcessesLoseNoRecords) {
  porthole::test_util::TempDir dir;
  auto path = (dir.path / "mappings.json").string();
  constexpr int kProcs = 6, kEach = 25;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int bad = 0;
      for (int i = 0; i < kEach; ++i) {
        auto port = static_cast<std::uint16_t>(10000 + p * 100 + i);
        if (!detail::update_records(path, [&](std::vector<Record>& rs) { rs.push_back(record(port)); }))
          ++bad;
      }
      ::_exit(bad);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::set<std::uint16_t> ports;
  for (const auto& r : detail::load_records(path)) ports.insert(r.external_port);
  EXPECT_EQ(ports.size(), static_cast<std::size_t>(kProcs * kEach));
}

}  // namespace
