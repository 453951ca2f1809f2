// fixtures/gpu_peak.h: the per-architecture table against NVIDIA's published peaks.
#include "fixtures/gpu_peak.h"

#include <gtest/gtest.h>

namespace trainbench {
namespace {

constexpr double kTera = 1e12;

double PeakTflops(int major, int minor, int sms, double ghz, Precision p) {
  const std::optional<double> peak = DensePeakFlops(major, minor, sms, ghz * 1e9, p);
  return peak ? *peak / kTera : -1;
}

// H100 SXM5, 132 SMs. Its datasheet: 67 TFLOPS fp32 (at the 1.98 GHz maximum clock), 494.7
// tf32 and 989.4 fp16/bf16 dense (989.4/1979 "with sparsity", at 1.83 GHz: NVIDIA states the
// tensor peaks at the clock it sustains under tensor load).
struct Published {
  const char* gpu;
  int major, minor, sms;
  double ghz;
  Precision precision;
  double tflops;     // NVIDIA's stated dense peak
  double tolerance;  // TFLOPS: datasheets round to 3 significant digits
};

// H100 SXM5, 132 SMs: 67 TFLOPS fp32 (at the 1.98 GHz maximum clock), 494.7 tf32 and 989.4
// fp16/bf16 dense (989.4 and 1979 "with sparsity") at 1.83 GHz: NVIDIA states the tensor
// peaks at the clock it sustains under tensor load. A100 and V100 at their boost clocks.
constexpr Published kPublished[] = {
    {"H100 SXM", 9, 0, 132, 1.98, Precision::kFp32, 66.9, 0.1},
    {"H100 SXM", 9, 0, 132, 1.83, Precision::kTf32, 494.7, 0.1},
    {"H100 SXM", 9, 0, 132, 1.83, Precision::kFp16, 989.4, 0.1},
    {"H100 SXM", 9, 0, 132, 1.83, Precision::kBf16, 989.4, 0.1},
    {"A100", 8, 0, 108, 1.41, Precision::kFp32, 19.5, 0.05},
    {"A100", 8, 0, 108, 1.41, Precision::kTf32, 156, 0.5},
    {"A100", 8, 0, 108, 1.41, Precision::kBf16, 312, 0.5},
    {"V100 SXM2", 7, 0, 80, 1.53, Precision::kFp32, 15.7, 0.05},
    {"V100 SXM2", 7, 0, 80, 1.53, Precision::kFp16, 125, 0.5},
};

TEST(GpuPeakTest, TableGivesNvidiasStatedDensePeaks) {
  for (const Published& p : kPublished) {
    EXPECT_NEAR(PeakTflops(p.major, p.minor, p.sms, p.ghz, p.precision), p.tflops, p.tolerance)
        << p.gpu << " " << PrecisionName(p.precision);
  }
}

// What trainbench divides by on an H100 SXM: the 1.98 GHz maximum clock that
// cudaDevAttrClockRate reports, for every precision.
TEST(GpuPeakTest, H100SxmPeakAtTheMaximumClock) {
  EXPECT_NEAR(PeakTflops(9, 0, 132, 1.98, Precision::kBf16), 1070.6, 0.1);
  EXPECT_NEAR(PeakTflops(9, 0, 132, 1.98, Precision::kTf32), 535.3, 0.1);
}

TEST(GpuPeakTest, NoPeakWhereItWouldBeAGuess) {
  EXPECT_FALSE(DensePeakFlops(7, 0, 80, 1.53e9, Precision::kBf16));  // no bf16 on Volta
  EXPECT_FALSE(DensePeakFlops(8, 7, 16, 1.3e9, Precision::kFp32));   // Orin: not in the table
  EXPECT_FALSE(DensePeakFlops(6, 0, 56, 1.48e9, Precision::kFp32));  // Pascal: before Volta
  EXPECT_FALSE(DensePeakFlops(9, 0, 0, 1.98e9, Precision::kFp32));
  EXPECT_FALSE(DensePeakFlops(9, 0, 132, 0, Precision::kFp32));
  ASSERT_TRUE(SmFlopsPerClockFor(12, 0));
  EXPECT_TRUE(SmFlopsPerClockFor(10, 0));
  EXPECT_FALSE(SmFlopsPerClockFor(11, 0));
}

// Volta has no TF32: a tf32 run there is an fp32 run, at the fp32 rate.
TEST(GpuPeakTest, Tf32WithoutTensorTf32IsTheFp32Rate) {
  EXPECT_EQ(DensePeakFlops(7, 0, 80, 1.53e9, Precision::kTf32), DensePeakFlops(7, 0, 80, 1.53e9, Precision::kFp32));
}

}  // namespace
}  // namespace trainbench
