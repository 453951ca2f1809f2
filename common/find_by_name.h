// Lookup in the declaration tables (counters, axes): each row has a `name`. Header-only.
#pragma once

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace trainbench {

// The row named name, or nullptr.
template <typename Row>
const Row* FindByName(absl::Span<const Row> rows, absl::string_view name) {
  for (const Row& row : rows) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

}  // namespace trainbench
