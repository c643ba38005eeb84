// What the harness's commands share about the run: the plan's check, the machine and the clock.
// Private to the harness.
#pragma once

#include <cstdint>
#include <string>

#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::validate {

// The plan checked against the model as `splitsim simulate` checks it, on a stand-in cluster of
// exactly the plan's GPUs (the harness measures whatever machine it runs on), of at most
// kMaxPlanRanks. Throws InputError.
inline constexpr std::int64_t kMaxPlanRanks = std::int64_t{1} << 20;
void validate_plan(plan::Plan& p, const model::ModelSpec& m);

// Refuses work whose `needed` bytes exceed half this machine's memory, before it allocates any:
// InputError(file, pointer, "<what> need about N GiB, more than half of this machine's M GiB (<advice>)").
void require_memory(double needed, const std::string& what, const std::string& advice, const std::string& file,
                    const std::string& pointer);

std::string hostname();
std::string utc_timestamp();  // ISO 8601, UTC

// The GPU this process drives under mpirun: its rank among the processes of its node, as the
// launcher tells it (Open MPI, MPICH/Intel MPI, Slurm); `world_rank` without a launcher.
int local_rank_from_environment(int world_rank);

}  // namespace splitsim::validate
