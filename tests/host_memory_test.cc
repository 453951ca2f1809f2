// fixtures/host_memory.h: /proc/meminfo and cgroup parsers.
#include <string>

#include <gtest/gtest.h>

#include "fixtures/host_memory.h"

namespace trainbench {
namespace {

TEST(HostMemoryTest, MemAvailable) {
  const char* meminfo = "MemTotal:       24683652 kB\nMemFree:        21911012 kB\nMemAvailable:   23963748 kB\n";
  EXPECT_EQ(ParseMemAvailableBytes(meminfo), int64_t{23963748} * 1024);
  EXPECT_EQ(ParseMemAvailableBytes("MemTotal: 1 kB\n"), std::nullopt);  // kernels before 3.14
  EXPECT_EQ(ParseMemAvailableBytes("MemAvailable: lots\n"), std::nullopt);
  EXPECT_EQ(ParseMemAvailableBytes("MemAvailable: 12\n"), std::nullopt);  // no unit
}

TEST(HostMemoryTest, CgroupLimits) {
  EXPECT_EQ(ParseCgroupLimitBytes("max\n"), std::nullopt);                  // v2, no limit
  EXPECT_EQ(ParseCgroupLimitBytes("9223372036854771712\n"), std::nullopt);  // v1, no limit
  EXPECT_EQ(ParseCgroupLimitBytes("4294967296\n"), int64_t{4} << 30);
  EXPECT_EQ(ParseCgroupLimitBytes(""), std::nullopt);
  const char* stat = "anon 100\nfile 5000\ninactive_file 3000\nactive_file 2000\n";
  EXPECT_EQ(ParseMemoryStatBytes(stat, "inactive_file"), 3000);
  EXPECT_EQ(ParseMemoryStatBytes(stat, "file"), 5000);  // whole keys, not prefixes
  EXPECT_EQ(ParseMemoryStatBytes(stat, "shmem"), std::nullopt);
}

TEST(HostMemoryTest, CgroupPath) {
  const char* hybrid = "9:name=systemd:/\n4:memory:/process_api/42e5\n1:cpu,cpuacct:/\n0::/\n";
  EXPECT_EQ(ParseCgroupPath(hybrid, /*v2=*/false), "/process_api/42e5");
  EXPECT_EQ(ParseCgroupPath(hybrid, /*v2=*/true), "/");
  EXPECT_EQ(ParseCgroupPath("0::/user.slice/a:b.scope\n", true), "/user.slice/a:b.scope");
  EXPECT_EQ(ParseCgroupPath("5:cpu,memory:/x\n", false), "/x");
  EXPECT_EQ(ParseCgroupPath("5:memoryless:/x\n", false), std::nullopt);
  EXPECT_EQ(ParseCgroupPath("0::/\n", false), std::nullopt);
}

TEST(HostMemoryTest, CgroupAvailableCountsInactivePageCacheAsFree) {
  CgroupMemory m;
  EXPECT_EQ(CgroupAvailableBytes(m), std::nullopt);  // no limit
  m.limit_bytes = 8000;
  m.usage_bytes = 6000;
  m.inactive_file_bytes = 1000;
  EXPECT_EQ(CgroupAvailableBytes(m), 3000);
  m.usage_bytes = 9500;  // over the limit (kernel memory): nothing left, not negative
  EXPECT_EQ(CgroupAvailableBytes(m), 0);
}

TEST(HostMemoryTest, ThisMachineHasSomeMemoryAvailable) {
  const std::optional<int64_t> a = HostAvailableMemoryBytes();
  ASSERT_TRUE(a.has_value());
  EXPECT_GT(*a, int64_t{64} << 20);
}

}  // namespace
}  // namespace trainbench
