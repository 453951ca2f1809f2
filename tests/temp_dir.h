// A temporary directory for the tests that write files, removed with everything in it.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace trainbench {

class TempDir {
 public:
  TempDir() {
    std::string t = ::testing::TempDir() + "trainbench_faults_XXXXXX";
    path_ = ::mkdtemp(t.data());
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    std::string listing = Run("ls -A '" + path_ + "'");
    std::istringstream in(listing);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  static std::string Run(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[256];
    while (p && std::fgets(buf, sizeof(buf), p)) out += buf;
    if (p) ::pclose(p);
    return out;
  }
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace trainbench
