// trainbench: the GPU-training lab as Google Benchmark families (bench/harness/trainbench_main.h).
#include "bench/harness/trainbench_main.h"

int main(int argc, char** argv) { return trainbench::TrainbenchMain(argc, argv, trainbench::SystemCudaDevices()); }
