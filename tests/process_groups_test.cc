// bench/dist/rendezvous.cc, a world's groups: main shuts the backends down before it returns, the
// CUDA one first, so that no NCCL watchdog thread is alive at exit (issue 20, finding 9), and a
// rank whose CUDA context was lost makes every rank skip with its reason (two ranks as threads
// of this process, over loopback, as c10d's own C++ tests run theirs).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

#include "bench/dist/distributed.h"
#include "bench/harness/harness.h"
#include "bench/dist/process_groups.h"
#include "tests/test_device.h"

namespace trainbench {
namespace {

// Stands in for ProcessGroupNCCL and ProcessGroupGloo: records the order of shutdowns.
class RecordingBackend final : public c10d::Backend {
 public:
  RecordingBackend(std::string name, std::vector<std::string>& log, bool fails)
      : Backend(/*rank=*/0, /*size=*/1), name_(std::move(name)), log_(log), fails_(fails) {}
  const std::string getBackendName() const override { return name_; }
  void shutdown() override {
    log_.push_back(name_);
    if (fails_) throw std::runtime_error("communicator already aborted");
  }

 private:
  std::string name_;
  std::vector<std::string>& log_;
  bool fails_;
};

TEST(ShutdownWorldTest, ShutsTheCudaBackendDownFirstAndSurvivesAFailure) {
  std::vector<std::string> log;
  WorldComm dist;
  ShutdownWorld(dist);  // before any rendezvous: nothing to do
  dist.groups = std::make_shared<ProcessGroups>();
  dist.groups->cpu = c10::make_intrusive<RecordingBackend>("gloo", log, /*fails=*/false);
  dist.groups->cuda = c10::make_intrusive<RecordingBackend>("nccl", log, /*fails=*/true);
  testing::internal::CaptureStderr();
  EXPECT_NO_THROW(ShutdownWorld(dist));
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(log, (std::vector<std::string>{"nccl", "gloo"}));
  EXPECT_EQ(err, "[trainbench] nccl process group shutdown: communicator already aborted\n");
}

// A loopback TCP port nothing listens on now.
uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(WorldAgreementTest, ARankWhoseCudaContextIsLostMakesEveryRankSkipWithItsReason) {
  const uint16_t port = FreePort();
  std::vector<std::optional<std::string>> agreed(2);
  std::vector<std::string> errors(2);
  const auto rank = [&](int r) {
    WorldComm dist;
    dist.world.rank = r;
    dist.world.size = 2;
    dist.world.local_rank = r;
    dist.world.master_addr = "127.0.0.1";
    dist.world.master_port = port;
    dist.timeout = std::chrono::seconds(30);
    if (const absl::Status s = Rendezvous(dist); !s.ok()) {
      errors[r] = std::string(s.message());
      return;
    }
    auto device = std::make_shared<TestDevice>(TestDeviceOptions{/*gpu=*/0});
    Harness env;
    env.cpu = MakeCpuContext();
    env.cuda = MakeTestDeviceContext(device);
    if (r == 1) {  // an earlier benchmark hit a sticky error on this rank alone
      device->FailAt(FaultSite::kStep, 1, Fault::kIllegalAddress);
      (void)RunGuarded(*env.cuda, "x", [&] { env.cuda->NewTimer()->Start(); });
    }
    // What a data-parallel epoch asks each rank first (bench/families/data_parallel.cc).
    agreed[r] =
        FirstRankThatCannot(dist, "BM_TrainEpoch/.../ranks:2", WhyNoContext(env, DeviceKind::kCuda, Precision::kFp32));
    ShutdownWorld(dist);
  };
  std::thread rank1(rank, 1);
  rank(0);
  rank1.join();
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  const std::string why = "rank 1: CUDA context lost: " + FaultMessage(Fault::kIllegalAddress);
  EXPECT_EQ(agreed[0], why);
  EXPECT_EQ(agreed[1], why);
}

}  // namespace
}  // namespace trainbench
