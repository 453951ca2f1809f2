// trainbench over the tests' test device (tests/test_device.h) instead of a GPU: the real main,
// flags and families, with every CUDA row on the stream context over the test device. For
// tests/test_device_run.py.
//   TRAINBENCH_TEST_DEVICE_FAULT=SITE:N:FAULT arms one fault: SITE is copy, step, pinned or
//   capture; N the call at that site (1 = the first); FAULT one of the names below.
// At exit it prints the test device's violations of the CUDA contract on stderr, one per line
// after "test device violation: ", and exits 3 if there were any.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "bench/harness/trainbench_main.h"
#include "tests/test_device.h"

namespace trainbench {
namespace {

std::shared_ptr<TestDevice> g_device;  // kept for the violations at exit

void ArmFromEnvironment(TestDevice& d) {
  const char* spec = std::getenv("TRAINBENCH_TEST_DEVICE_FAULT");
  if (spec == nullptr || *spec == '\0') return;
  static const std::map<std::string, FaultSite> sites = {{"copy", FaultSite::kCopy},
                                                         {"step", FaultSite::kStep},
                                                         {"pinned", FaultSite::kPinned},
                                                         {"capture", FaultSite::kCapture}};
  static const std::map<std::string, Fault> faults = {
      {"cuda-oom", Fault::kCudaOutOfMemory},        {"cuda-error-oom", Fault::kCudaErrorMemory},
      {"cublas-alloc", Fault::kCublasAlloc},        {"cudnn-alloc", Fault::kCudnnAlloc},
      {"cudnn-host-alloc", Fault::kCudnnHostAlloc}, {"cudnn-device-alloc", Fault::kCudnnDeviceAlloc},
      {"illegal-address", Fault::kIllegalAddress},  {"capture-invalidated", Fault::kCaptureInvalidated}};
  const std::vector<std::string> parts = absl::StrSplit(spec, ':');
  int n = 0;
  if (parts.size() != 3 || !sites.count(parts[0]) || !absl::SimpleAtoi(parts[1], &n) || n < 1 ||
      !faults.count(parts[2])) {
    std::fprintf(stderr, "TRAINBENCH_TEST_DEVICE_FAULT=%s: expected SITE:N:FAULT\n", spec);
    std::exit(2);
  }
  d.FailAt(sites.at(parts[0]), n, faults.at(parts[2]));
}

void ReportViolations() {
  if (!g_device) return;
  const std::vector<std::string> v = g_device->violations();
  for (const std::string& line : v) std::fprintf(stderr, "test device violation: %s\n", line.c_str());
  if (!v.empty()) std::_Exit(3);
}

}  // namespace
}  // namespace trainbench

int main(int argc, char** argv) {
  using namespace trainbench;
  CudaDevices gpus;
  gpus.available = [] { return true; };
  gpus.count = [] { return 1; };
  gpus.open = [](int gpu) -> absl::StatusOr<std::unique_ptr<DeviceContext>> {
    TestDeviceOptions o;
    o.gpu = gpu;
    g_device = std::make_shared<TestDevice>(o);
    ArmFromEnvironment(*g_device);
    return MakeTestDeviceContext(g_device);
  };
  gpus.nccl = false;  // no NCCL on a test device: the ranks:1 rows are not registered
  const int status = TrainbenchMain(argc, argv, gpus);
  ReportViolations();
  return status;
}
