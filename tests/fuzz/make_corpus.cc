// Writes idx_fuzz's seed corpus: the small valid and broken IDX files of tests/idx_samples.h,
// one file per sample, into the directory given. The build runs it, so the repository holds
// no binary files.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>

#include "tests/idx_samples.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " CORPUS_DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    std::cerr << dir.string() << ": cannot create: " << error.message() << "\n";
    return 1;
  }
  for (const trainbench::idx_samples::Sample& sample : trainbench::idx_samples::CorpusSamples()) {
    const std::filesystem::path path = dir / sample.name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(sample.bytes.data()), static_cast<std::streamsize>(sample.bytes.size()));
    out.close();
    if (!out) {
      std::cerr << path.string() << ": write failed\n";
      return 1;
    }
  }
  return 0;
}
