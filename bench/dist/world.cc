#include "bench/dist/world.h"

#include <set>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trainbench {
namespace {

const char* const kWorldVariables[] = {"RANK",
                                       "WORLD_SIZE",
                                       "LOCAL_RANK",
                                       "MASTER_ADDR",
                                       "MASTER_PORT",
                                       "SLURM_PROCID",
                                       "SLURM_STEP_NUM_TASKS",
                                       "SLURM_LOCALID",
                                       "TORCHELASTIC_USE_AGENT_STORE"};

const std::string* Find(const LauncherVariables& env, const std::string& name) {
  const auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

// Digits only: absl::SimpleAtoi would also take " 1" and "+1", which no launcher writes and
// which more likely mean a hand-edited script went wrong.
absl::StatusOr<int64_t> NonNegativeInteger(const std::string& name, const std::string& value) {
  int64_t n = 0;
  const bool digits =
      !value.empty() && value.size() <= 18 && std::all_of(value.begin(), value.end(), absl::ascii_isdigit);
  if (!digits || !absl::SimpleAtoi(value, &n)) {
    if (!value.empty() && value[0] == '-' && absl::SimpleAtoi(value, &n)) {
      return absl::InvalidArgumentError(absl::StrCat(name, "=", value, ": must be >= 0"));
    }
    return absl::InvalidArgumentError(absl::StrCat(name, "=", value, ": not an integer"));
  }
  return n;
}

absl::StatusOr<int64_t> Required(const LauncherVariables& env, const std::string& name, const std::string& because) {
  const std::string* value = Find(env, name);
  if (value == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not set (", because, ")"));
  }
  return NonNegativeInteger(name, *value);
}

}  // namespace

absl::StatusOr<World> ParseWorld(const LauncherVariables& env) {
  World w;
  const bool torchrun = Find(env, "RANK") != nullptr || Find(env, "WORLD_SIZE") != nullptr;
  // A task of an srun step: srun sets SLURM_STEP_NUM_TASKS for its tasks. SLURM_NTASKS alone
  // is also set in an salloc shell or an sbatch script, where a plain single-process run must
  // stay a world of one rather than wait for ranks that never come.
  const bool slurm = !torchrun && Find(env, "SLURM_STEP_NUM_TASKS") != nullptr;
  if (!torchrun && !slurm) return w;  // no launcher: a world of one, as before
  w.launcher = torchrun ? Launcher::kTorchrun : Launcher::kSlurm;
  const std::string rank_var = torchrun ? "RANK" : "SLURM_PROCID";
  const std::string size_var = torchrun ? "WORLD_SIZE" : "SLURM_STEP_NUM_TASKS";
  const std::string local_var = torchrun ? "LOCAL_RANK" : "SLURM_LOCALID";

  absl::StatusOr<int64_t> size = Required(env, size_var, absl::StrCat(rank_var, " is set"));
  if (!size.ok()) return size.status();
  if (*size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(size_var, "=", *size, ": must be >= 1"));
  }
  if (*size > std::numeric_limits<int>::max()) {
    return absl::InvalidArgumentError(absl::StrCat(size_var, "=", *size, ": too large"));
  }
  absl::StatusOr<int64_t> rank = Required(env, rank_var, absl::StrCat(size_var, " is set"));
  if (!rank.ok()) return rank.status();
  if (*rank >= *size) {
    return absl::InvalidArgumentError(absl::StrCat(rank_var, "=", *rank, ": not below ", size_var, "=", *size));
  }
  w.size = static_cast<int>(*size);
  w.rank = static_cast<int>(*rank);
  const std::string needed = absl::StrCat("needed with ", size_var, "=", w.size);

  if (const std::string* local = Find(env, local_var); local != nullptr) {
    absl::StatusOr<int64_t> l = NonNegativeInteger(local_var, *local);
    if (!l.ok()) return l.status();
    if (*l >= *size) {
      return absl::InvalidArgumentError(absl::StrCat(local_var, "=", *l, ": not below ", size_var, "=", *size));
    }
    w.local_rank = static_cast<int>(*l);
  } else if (w.distributed()) {
    // Which GPU a rank uses: guessing it from RANK would be wrong on every node but the first.
    return absl::InvalidArgumentError(absl::StrCat(local_var, ": not set (", needed, ")"));
  }
  if (!w.distributed()) return w;  // a world of one needs no rendezvous

  const std::string* addr = Find(env, "MASTER_ADDR");
  if (addr == nullptr || addr->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("MASTER_ADDR: not set (", needed, ")"));
  }
  w.master_addr = *addr;
  absl::StatusOr<int64_t> port = Required(env, "MASTER_PORT", needed);
  if (!port.ok()) return port.status();
  if (*port < 1 || *port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("MASTER_PORT=", *port, ": not a TCP port (1 to 65535)"));
  }
  w.master_port = static_cast<uint16_t>(*port);

  // Exactly "True", as Python reads it (rendezvous.py, _torchelastic_use_agent_store).
  const std::string* agent = Find(env, "TORCHELASTIC_USE_AGENT_STORE");
  w.agent_store = torchrun && agent != nullptr && *agent == "True";
  return w;
}

LauncherVariables LauncherEnvironment() {
  LauncherVariables env;
  for (const char* name : kWorldVariables) {
    if (const char* value = std::getenv(name); value != nullptr) env.emplace(name, value);
  }
  return env;
}

std::optional<std::string> RunDifference(const std::vector<std::string>& rank0, const std::vector<std::string>& other) {
  const auto split = [](const std::vector<std::string>& lines) {
    std::pair<std::vector<std::string>, std::multiset<std::string>> out;  // (benchmarks, the rest)
    for (const std::string& l : lines) {
      if (absl::StartsWith(l, "benchmark ")) {
        out.first.push_back(l);
      } else {
        out.second.insert(l);
      }
    }
    return out;
  };
  const auto [ours_run, ours_set] = split(rank0);
  const auto [theirs_run, theirs_set] = split(other);
  for (const std::string& l : theirs_set) {
    if (ours_set.count(l) < theirs_set.count(l)) return absl::StrCat("it has '", l, "', which rank 0 has not");
  }
  for (const std::string& l : ours_set) {
    if (theirs_set.count(l) < ours_set.count(l)) return absl::StrCat("it lacks '", l, "', which rank 0 has");
  }
  if (ours_run == theirs_run) return std::nullopt;
  size_t i = 0;
  while (i < ours_run.size() && i < theirs_run.size() && ours_run[i] == theirs_run[i]) ++i;
  const std::string theirs = i < theirs_run.size() ? absl::StrCat("'", theirs_run[i], "'") : "nothing";
  const std::string ours = i < ours_run.size() ? absl::StrCat("'", ours_run[i], "'") : "nothing";
  return absl::StrCat("it has ", theirs, " where rank 0 has ", ours);
}

const char* LauncherName(Launcher l) {
  switch (l) {
    case Launcher::kTorchrun: return "torchrun";
    case Launcher::kSlurm: return "slurm";
    case Launcher::kNone: break;
  }
  return "none";
}

}  // namespace trainbench
