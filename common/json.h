// JSON text for the context values trainbench declares (lab parts, axes, counters): Google
// Benchmark's context holds strings, so a table goes in as one JSON document. Header-only.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace trainbench {

// A JSON string literal: quotes, backslashes and control characters escaped.
inline std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      absl::StrAppend(&out, "\\", std::string(1, ch));
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", ch));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// ["a", "b"]
template <typename Strings>
std::string JsonStrings(const Strings& values) {
  std::vector<std::string> quoted;
  for (const auto& v : values) quoted.push_back(JsonString(v));
  return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
}

}  // namespace trainbench
