// Collectives of the CUDA backend over NCCL (built with -Dnccl=enabled, or auto where found).
#pragma once

#include <memory>
#include <span>

#include "splitsim/kernels/backend.hpp"
#include "splitsim/kernels/comm.hpp"

namespace splitsim::kernels::nccl {

// One NCCL communicator per `layout` group, on the local ranks' CUDA backends. Two ways to run:
//  - one process per GPU under mpirun (`local` holds one backend): the group's first rank creates
//    the NCCL unique id and broadcasts it over MPI, then every rank joins (ncclCommInitRank), as
//    nccl-tests does;
//  - one process driving every local GPU (`world` of size 1): ncclCommInitAll per group.
// A collective that has not completed after `timeout_s` seconds, or that NCCL reports failed
// (ncclCommGetAsyncError), aborts the communicators and throws.
std::unique_ptr<Communicator> make_communicator(ProcessGroup& world, std::span<Backend* const> local,
                                                GroupLayout layout, double timeout_s);

}  // namespace splitsim::kernels::nccl
