// bench/distributed.cc ShutdownWorld: main shuts the world's backends down before it returns,
// the CUDA one first, so that no NCCL watchdog thread is alive at exit (issue 20, finding 9);
// a backend whose shutdown fails is a line on stderr, not an exception out of main.
#include <gtest/gtest.h>

#include <stdexcept>

#include "bench/distributed.h"
#include "bench/process_groups.h"

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
  DistEnv dist;
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

}  // namespace
}  // namespace trainbench
