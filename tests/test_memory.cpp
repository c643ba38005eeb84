#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "splitsim/cost/memory.hpp"
#include "splitsim/plan/partition.hpp"
#include "support.hpp"

using namespace splitsim;
using cost::model_states;
using plan::Schedule;
using test::rel;

namespace {

hardware::DeviceSpec a100() {
    hardware::DeviceSpec d;
    d.name = "A100-SXM4-80GB";
    d.memory = GiB(80);
    d.memory_bandwidth = GBps(2039);
    d.peak[static_cast<int>(Precision::bf16)] = TFLOPps(312);
    d.peak[static_cast<int>(Precision::fp16)] = TFLOPps(312);
    d.compute_units = 108;
    d.kernels.gemm_workspace = MiB(32);
    return d;
}

}  // namespace

TEST_CASE("ZeRO Table 1: Psi = 7.5e9, N_d = 64 gives 120 / 31.4 / 16.6 / 1.88 GB") {
    // Rajbhandari et al. 2020, arXiv 1910.02054, Table 1 (mixed-precision Adam, K = 12, 16-bit gradients):
    //   baseline 16 Psi; P_os 4 Psi + 12 Psi/N_d; P_os+g 2 Psi + 14 Psi/N_d; P_os+g+p 16 Psi/N_d.
    const double psi = 7.5e9, nd = 64;
    const double formula[] = {16 * psi, 4 * psi + 12 * psi / nd, 2 * psi + 14 * psi / nd, 16 * psi / nd};
    const double published_gb[] = {120, 31.4, 16.6, 1.88};
    for (int zero = 0; zero <= 3; ++zero) {
        const auto m = model_states(psi, 64, zero, Precision::fp16, Precision::fp16);
        const double total = (m.weights + m.gradients + m.optimizer).value();
        CAPTURE(zero);
        CHECK(rel(total, formula[zero]) < 1e-12);
        CHECK(std::fabs(total / 1e9 - published_gb[zero]) <= 0.05 * (zero == 3 ? 0.1 : 1.0));
    }
}

TEST_CASE("Megatron-LM: 18 bytes per parameter, 6 + 12/N_d with the distributed optimizer") {
    // bf16 weights (2) + fp32 main gradients (4) + fp32 master, momentum, variance (12).
    const double psi = 1e9, nd = 16;
    const auto plain = model_states(psi, 16, 0, Precision::bf16, Precision::fp32);
    CHECK(rel((plain.weights + plain.gradients + plain.optimizer).value(), 18 * psi) < 1e-12);
    const auto distributed = model_states(psi, 16, 1, Precision::bf16, Precision::fp32);
    CHECK(rel((distributed.weights + distributed.gradients + distributed.optimizer).value(), (6 + 12 / nd) * psi) < 1e-12);
}

TEST_CASE("in-flight micro-batches per schedule") {
    // 1F1B: stage i holds p - i micro-batches (Narayanan et al. 2021, Sec. 2.2.1).
    CHECK(cost::in_flight_chunks(Schedule::one_f_one_b, 8, 1, 0, 64) == 8);
    CHECK(cost::in_flight_chunks(Schedule::one_f_one_b, 8, 1, 7, 64) == 1);
    CHECK(cost::in_flight_chunks(Schedule::one_f_one_b, 8, 1, 0, 4) == 4);
    // GPipe: all m.
    CHECK(cost::in_flight_chunks(Schedule::gpipe, 8, 1, 3, 64) == 64);
    // Interleaved, Megatron's warm-up: 2 (p - i - 1) + (v - 1) p + 1 chunks.
    CHECK(cost::in_flight_chunks(Schedule::interleaved, 8, 3, 0, 64) == 2 * 7 + 2 * 8 + 1);
    CHECK(cost::in_flight_chunks(Schedule::interleaved, 8, 3, 7, 64) == 2 * 8 + 1);
    CHECK(cost::in_flight_chunks(Schedule::zb_h1, 4, 1, 1, 16) == 3);
}

TEST_CASE("first pipeline stage: Korthikanti's (s b h L / t)(34 + 5 a s / h), 1F1B and interleaved") {
    // GPT-3 175B under t = 8, p = 8, sequence parallelism, no recomputation, b = 1 (Korthikanti Sec. 4.3).
    const model::ModelSpec m = test::gpt(96, 12288, 96);
    const double s = 2048, b = 1, h = 12288, a = 96, L = 96, t = 8, p = 8;
    plan::Plan pl;
    pl.tp = 8;
    pl.pp = 8;
    pl.dp = 1;
    pl.micro_batch = 1;
    pl.global_batch = 64;
    pl.sequence_parallel = true;
    const auto device = a100();
    {
        const plan::Partition part = plan::partition(pl, m);
        const cost::MemoryEstimate est = cost::estimate_memory(pl, m, part, device);
        // Layers: p micro-batches of L/p layers; plus the embedding dropout mask s b h / t per micro-batch.
        const double layers = s * b * h * L / t * (34 + 5 * a * s / h);
        const double embedding = p * s * b * h / t;
        CHECK(rel(est.stages[0].bytes.activations.value(), layers + embedding) < 1e-12);
    }
    {
        pl.schedule = Schedule::interleaved;
        pl.vpp = 3;
        const plan::Partition part = plan::partition(pl, m);
        const cost::MemoryEstimate est = cost::estimate_memory(pl, m, part, device);
        // Interleaving multiplies by 1 + (p - 1)/(p v) (Korthikanti Sec. 4.3, m = v chunks).
        const double layers = s * b * h * L / t * (34 + 5 * a * s / h) * (1 + (p - 1) / (p * 3));
        const double embedding = p * s * b * h / t;
        CHECK(rel(est.stages[0].bytes.activations.value(), layers + embedding) < 1e-12);
    }
}

TEST_CASE("recomputation: full keeps layer inputs plus one layer being recomputed") {
    const model::ModelSpec m = test::gpt(8, 1024, 16, 1024, 1024);
    plan::Plan pl;
    pl.tp = 2;
    pl.pp = 2;
    pl.dp = 1;
    pl.micro_batch = 2;
    pl.global_batch = 8;
    pl.recompute = model::Recompute::full;
    const plan::Partition part = plan::partition(pl, m);
    const cost::MemoryEstimate est = cost::estimate_memory(pl, m, part, a100());
    const model::OpTotals layer = model::totals(part.graph().dense);
    // Stage 1 (last): 1 micro-batch in flight x 4 layers x 2 s b h, one layer's full activations
    // while it is recomputed, and the head's saved tensors.
    const double expected = 4 * part.graph().layer_input.value() + layer.saved.value() +
                            model::totals(part.graph().head).saved.value();
    CHECK(rel(est.stages[1].bytes.activations.value(), expected) < 1e-12);
    CHECK(est.fits());
}

TEST_CASE("weights, gradients and optimizer shard over data x context ranks; experts over dp x cp / ep") {
    const model::ModelSpec m = test::gpt(4, 512, 8, 512, 1000);
    plan::Plan pl;
    pl.tp = 1;
    pl.pp = 1;
    pl.dp = 8;
    pl.micro_batch = 1;
    pl.global_batch = 8;
    pl.zero = 3;
    const plan::Partition part = plan::partition(pl, m);
    const cost::MemoryEstimate est = cost::estimate_memory(pl, m, part, a100());
    const double params = model::parameter_count(m);
    CHECK(rel(est.stages[0].bytes.weights.value(), 2 * params / 8) < 1e-12);
    CHECK(rel(est.stages[0].bytes.gradients.value(), 4 * params / 8) < 1e-12);
    CHECK(rel(est.stages[0].bytes.optimizer.value(), 12 * params / 8) < 1e-12);
}
