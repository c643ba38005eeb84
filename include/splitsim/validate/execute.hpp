// splitsim-harness execute: real training steps of a GPT-style decoder under a plan, checked
// against the same steps unsharded on one rank, and measured against the simulator's prediction.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "splitsim/kernels/comm.hpp"

namespace splitsim::validate {

struct ExecuteOptions {
    std::string model;            // models/*.json
    std::string plan;             // plans/*.json, with dp
    std::string backend = "cpu";  // cpu | cuda
    std::string cluster;          // topologies/*.json for the prediction; empty: none
    int steps = 3;
    std::uint64_t seed = 1234;    // weights and tokens
    bool reference = true;        // run the unsharded reference on rank 0
    double timeout_s = 300;       // per wait for a collective (NCCL) or communication call (MPI)
};

// Relative tolerances of the check against the unsharded run, per precision the steps compute in:
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
