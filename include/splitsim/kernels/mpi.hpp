// The MPI side of communication (built with -Dmpi=enabled or auto where MPI is found).
#pragma once

#include <memory>

#include "splitsim/kernels/comm.hpp"

namespace splitsim::kernels::mpi {

// Initialises MPI (MPI_Init_thread, funneled) for the lifetime of the returned world, which
// finalises it; one per process. Errors are returned, not fatal, and turned into exceptions.
std::unique_ptr<ProcessGroup> init_world(int* argc, char*** argv);

// How a process waits for communication: in MPI's blocking calls (which spin), or by testing
// nonblocking ones and yielding the core between tests, so that on an oversubscribed CPU (more
// ranks than cores) a waiting rank leaves the core to one still computing.
enum class Waiting { block, yield };

// Collectives of the CPU backend over MPI on host fp32 tensors, one group per `layout` group.
// `world` must come from init_world; every process of the world calls this together. Point-to-
// point transfers (exchange) always use nonblocking calls and wait as `waiting` says. A collective
// or exchange still running after `timeout_s` seconds ends the process (status 1) with a message
// naming it, so that a missing peer cannot hang the job.
std::unique_ptr<Communicator> make_communicator(ProcessGroup& world, GroupLayout layout, double timeout_s,
                                                Waiting waiting = Waiting::block);

}  // namespace splitsim::kernels::mpi
