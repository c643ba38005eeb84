// Two ranks: rank 0 enters an all-reduce that rank 1 never joins. The communicator's deadline
// must end the job with a message naming the collective instead of hanging it; rank 1 waits far
// longer than the deadline and would exit 0. Run by mpi_deadline.sh under mpirun.
#include <chrono>
#include <cstdio>
#include <thread>

#include "splitsim/common/collective.hpp"
#include "splitsim/kernels/cpu.hpp"
#include "splitsim/kernels/mpi.hpp"

int main(int argc, char** argv) {
    using namespace splitsim::kernels;
    using splitsim::CollectiveKind;
    auto world = mpi::init_world(&argc, &argv);
    auto comm = mpi::make_communicator(*world, GroupLayout{2, 1}, 0.5);
    if (world->rank() == 0) {
        auto cpu = cpu::make_cpu_backend();
        Tensor send = cpu->allocate(1024, DType::fp32);
        Tensor recv = cpu->allocate(1024, DType::fp32);
        const Tensor* in[] = {&send};
        Tensor* out[] = {&recv};
        comm->run(CollectiveKind::all_reduce, 1024, in, out);
        std::puts("the all-reduce returned without its peer");
        return 0;
    }
    std::this_thread::sleep_for(std::chrono::seconds(20));
    return 0;
}
