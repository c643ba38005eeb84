// splitsim-harness execute: real training steps of a GPT-style decoder under a plan, checked
// against the same steps on one rank (unsharded, or on the CPU backend), and measured against the
// simulator's prediction.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/kernels/comm.hpp"

namespace splitsim::validate {

// What the steps are checked against, run on rank 0 with the same weights, tokens and micro-batch:
// `unsharded` the same steps with tp = pp = dp = 1 on the run's backend (checks the sharding);
// `cpu` the same on the CPU backend in fp32 (checks the GPU's kernels too: a one-rank CUDA run
// against itself unsharded would compare the GPU with itself); `none` no check. `automatic` is
// `cpu` for a CUDA run of one rank and `unsharded` otherwise.
enum class Reference { automatic, unsharded, cpu, none };

struct ExecuteOptions {
    std::string model;            // models/*.json
    std::string plan;             // plans/*.json, with dp
    std::string backend = "cpu";  // cpu | cuda
    std::string cluster;          // topologies/*.json for the prediction; empty: none
    int steps = 3;
    std::uint64_t seed = 1234;    // weights and tokens
    Reference reference = Reference::automatic;
    double timeout_s = 300;       // per wait for a collective (NCCL) or communication call (MPI)
};

// Relative tolerances of the check against the reference, per precision the steps compute in:
// fp32 1e-5 on the loss and 1e-4 on the gradient norm; tf32 and bf16 (unit roundoffs 2^-11 and
// 2^-8) 2e-3 / 2e-2 and 1e-2 / 5e-2.
struct Tolerance {
    double loss = 0;
    double grad_norm = 0;
};
Tolerance tolerance_for(const std::string& precision);

struct ExecuteResult {
    nlohmann::json execution;  // the document rank 0 writes (execution.json)
    std::string report;        // steps, the check and the measured-vs-predicted table, for people
    bool passed = true;        // every step within tolerance of the reference (or no reference)
};

// Runs on every process of `world` together. Throws InputError for bad input (model, plan,
// cluster, or options the build or the machine cannot honour).
ExecuteResult run_execute(const ExecuteOptions& options, kernels::ProcessGroup& world);

}  // namespace splitsim::validate
