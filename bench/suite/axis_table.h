// The sweep axes, declared once: each axis's flag, help line, value check and its error text,
// its value when the flag is not given, the combinations it cannot run in, and what a
// benchmark name without it means (for the tools reading older files). The flags, --help, the
// cartesian product, the names and the JSON context ("axes") all read this table; each family
// binds the axes it takes to its configuration's fields in bench/suite/configs.h.
//
// Adding an axis: a row in kAxes (bench/suite/axis_table.cc), a field and its binding in the
// families that take it (bench/suite/configs.h), and the family body that uses it.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace trainbench {

// A point of a sweep: (axis, value) pairs, values spelt as in benchmark names.
using AxisValues = std::vector<std::pair<std::string, std::string>>;

// The axis flags as given: axis -> its values, one per entry ({"16", "64"}). An axis not in
// the map was not given.
using AxisFlags = std::map<std::string, std::vector<std::string>>;

struct AxisSpec {
  absl::string_view name;  // the flag (--batch) and the key in names (batch:256)
  absl::string_view help;  // one line for --help, with the value when not given
  // The value's spelling in names ("small" -> "Small"), or "--batch=abc: not an integer".
  absl::StatusOr<std::string> (*spell)(absl::string_view value, bool cuda_available);
  // The value when the flag is not given, at a point whose earlier axes (in kAxes' order) are
  // set. Runs before the later axes are known.
  std::string (*unset)(const AxisValues& point, bool cuda_available);
  // Why a point cannot run with this axis's value ("pinned memory exists only with
  // --device=cuda"), or an empty view. Such points are left out.
  absl::string_view (*excluded)(absl::string_view value, const AxisValues& point);
  // Whether a value given whose points are all left out is an error (--graph=1 --device=cpu),
  // or only a product left empty is (--pin=0,1 --device=cpu runs pin:0).
  bool unrunnable_value_is_error;
  // What a name without this axis means (graph: "0"), or empty: always in names.
  absl::string_view absent;
};

// The flag axes, in product order (outer to inner).
[[nodiscard]] absl::Span<const AxisSpec> Axes();
[[nodiscard]] const AxisSpec* FindAxis(absl::string_view name);

// The value of axis in point, or "" when the point lacks it.
[[nodiscard]] absl::string_view ValueOf(const AxisValues& point, absl::string_view axis);

// Every point of the axes `axes` (a family's, in its name order) for the flags given: the
// cartesian product of the given values, each other axis at its unset value, points an axis
// excludes left out, duplicates dropped (an empty product is an error naming why); in kAxes' order outer to inner.
// Errors name the flag and the value.
absl::StatusOr<std::vector<AxisValues>> Points(absl::Span<const absl::string_view> axes, const AxisFlags& flags,
                                               bool cuda_available);

// The "axes" context value: every axis of a benchmark name, flag axes and the others (bytes,
// pinned, ranks), with the families whose names carry it and what its absence means:
// {"axes": [{"name": "batch", "help": ..., "families": [...], "absent": null}, ...]}
[[nodiscard]] std::string AxesJson(const std::map<std::string, std::vector<std::string>>& families_by_axis);

// Splits each "a,b" of raw into values,
// trimming spaces and dropping empty pieces.
std::vector<std::string> SplitAxisValues(const std::vector<std::string>& raw);

// Checks one axis flag's value as given on the command line (before it is split): an empty
// value ("--batch=") or an empty piece ("--batch=16,,64", "--batch=16,") is an error naming the
// flag, not "not given": leaving the flag out is how the lab sweep is asked for.
absl::Status CheckAxisValue(absl::string_view flag, absl::string_view value);

}  // namespace trainbench
