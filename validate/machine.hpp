// What the harness's commands share about the run: the plan's check, the machine and the clock.
// Private to the harness.
#pragma once

#include <cstdint>
#include <string>

#include "splitsim/model/model_spec.hpp"
#if SPLITSIM_HAVE_MPI
#include "splitsim/kernels/mpi.hpp"
#endif
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

// Processors this machine runs ranks on: its online cores (for the CPU backend).
int processors();

#if SPLITSIM_HAVE_MPI
// How a CPU rank waits in communication: polling while every rank has a core of its own (MPI's
// default), polling briefly and then napping when ranks outnumber the cores, so that a waiting rank
// gives its core to one that computes.
inline kernels::mpi::Waiting cpu_waiting(int ranks) {
    return ranks > processors() ? kernels::mpi::Waiting::yield : kernels::mpi::Waiting::block;
}
#endif

std::string hostname();
std::string utc_timestamp();  // ISO 8601, UTC

// The GPU this process drives under mpirun: its rank among the processes of its node, as the
// launcher tells it (Open MPI, MPICH/Intel MPI, Slurm); `world_rank` without a launcher.
int local_rank_from_environment(int world_rank);

}  // namespace splitsim::validate
