// splitsim-harness bench: measures a plan's kernels and collectives and writes measurements.json.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/kernels/comm.hpp"

namespace splitsim::validate {

struct BenchOptions {
    std::string model;              // models/*.json
    std::string plan;               // plans/*.json (with dp: the harness has no cluster to derive it)
    std::string backend = "cpu";    // cpu | cuda
    int repetitions = 20;
    int warmup = 5;
    std::int64_t min_bytes = 1024;
    std::int64_t max_bytes = 0;     // 0: 4 MiB on the CPU, 1 GiB on CUDA
    int devices = 0;                // CUDA, one process: local GPUs to drive (0 = all)
    double timeout_s = 300;         // per wait for a collective (NCCL) or communication call (MPI)
    bool kernels = true;
    bool collectives = true;
};

// The outcome: the document rank 0 writes, and whether every data check passed (on every rank).
struct BenchResult {
    nlohmann::json measurements;
    int failed_checks = 0;
};

// Runs the bench on every process of `world` together. Throws InputError for bad input (the
// model, the plan, or options the build or machine cannot honour).
BenchResult run_bench(const BenchOptions& options, kernels::ProcessGroup& world);

}  // namespace splitsim::validate
