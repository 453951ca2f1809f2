// The first line of an error message: LibTorch's carry a C++ backtrace after it, and every
// skip reason and one-line error trainbench prints is that first line alone.
#pragma once

#include <string>

namespace trainbench {

[[nodiscard]] inline std::string FirstLine(const std::string& message) { return message.substr(0, message.find('\n')); }

}  // namespace trainbench
