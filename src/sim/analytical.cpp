#include "splitsim/sim/analytical.hpp"

#include <algorithm>
#include <cmath>

namespace splitsim::sim {
namespace {

using model::Op;
using model::Recompute;
using plan::Collective;
using plan::Dim;
using plan::LayerComm;
using plan::Schedule;

constexpr std::size_t idx(Dim d) { return static_cast<std::size_t>(d); }

// Costs of one layer (or the embedding, or the head) for one micro-batch on one rank.
struct BlockCost {
    Seconds forward;
    Seconds backward;
    Seconds weight_grad;
    PerDim<Seconds> comm{};  // exposed communication, forward + backward (+ recomputed forward)
    PerDim<Bytes> bytes{};   // bytes sent
};

Bytes sent_bytes(const Collective& c) { return c.bytes * bus_bandwidth_factor(c.kind, c.group); }

BlockCost block_cost(const Scenario& sc, const std::vector<Op>& ops, const LayerComm& comm, bool recomputed_layer) {
    const auto& cm = sc.compute();
    const Recompute recompute = recomputed_layer ? sc.plan().recompute : Recompute::none;
    BlockCost c;
    std::vector<Seconds> fwd(ops.size()), dgrad(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        fwd[i] = cm.forward(ops[i]);
        const Seconds bwd = cm.backward(ops[i]);
        const Seconds wgrad = cm.weight_grad(ops[i]);
        dgrad[i] = bwd - wgrad;
        c.forward += fwd[i];
        c.backward += bwd;
        c.weight_grad += wgrad;
        if (recompute == Recompute::full || (recompute == Recompute::selective && ops[i].selective_recompute)) {
            c.backward += fwd[i];
        }
    }
    auto add = [&](const std::vector<Collective>& list, const std::vector<Seconds>& overlap_with, int repeat) {
        for (const Collective& col : list) {
            const Seconds t = sc.collective_time(col);
            const Seconds hidden = col.overlapped ? overlap_with[static_cast<std::size_t>(col.position)] : Seconds(0);
            c.comm[idx(col.dim)] += max(Seconds(0), t - hidden) * static_cast<double>(repeat);
            c.bytes[idx(col.dim)] += sent_bytes(col) * static_cast<double>(repeat);
        }
    };
    // Full recomputation runs the forward again, collectives included.
    add(comm.forward, fwd, recompute == Recompute::full ? 2 : 1);
    add(comm.backward, dgrad, 1);
    return c;
}

void accumulate(BlockCost& into, const BlockCost& c) {
    into.forward += c.forward;
    into.backward += c.backward;
    into.weight_grad += c.weight_grad;
    for (std::size_t d = 0; d < into.comm.size(); ++d) {
        into.comm[d] += c.comm[d];
        into.bytes[d] += c.bytes[d];
    }
}

struct StageCost {
    BlockCost per_micro_batch;
    Seconds data_parallel;       // exposed after the last backward
    PerDim<Bytes> step_bytes{};  // bytes sent once per iteration
    Seconds optimizer;
};

// Megatron-LM's gradient buckets: max(40M, 1M x dp) parameters each (distributed/param_and_grad_buffer.py).
double bucket_count(double parameters, int dp) {
    const double bucket = std::max(40e6, 1e6 * dp);
    return std::max(1.0, std::ceil(parameters / bucket));
}

// Adam step over the local optimizer shard: reads fp32 master weight, gradient, momentum and
// variance, writes the three fp32 states and the 16-bit model weight (a memory-bound kernel).
Seconds optimizer_time(const Scenario& sc, double local_parameters) {
    const plan::Plan& p = sc.plan();
    const double grad = element_bytes(p.grad_precision);
    const bool mixed = element_bytes(p.precision) < 4;
    const double per_param = mixed ? (4 + grad + 4 + 4) + (4 + 4 + 4 + 2) : (4 + grad + 4 + 4) + (4 + 4 + 4);
    return sc.compute().memory_time(Bytes(local_parameters * per_param));
}

StageCost stage_cost(const Scenario& sc, const plan::Stage& stage, const BlockCost& dense, const BlockCost& moe,
                     const BlockCost& embedding, const BlockCost& head) {
    const plan::Plan& p = sc.plan();
    const plan::Partition& part = sc.partition();
    StageCost s;
    for (const auto& chunk : stage.chunks) {
        for (int layer : chunk) accumulate(s.per_micro_batch, sc.model().is_moe_layer(layer) ? moe : dense);
    }
    if (stage.first) accumulate(s.per_micro_batch, embedding);
    if (stage.last) accumulate(s.per_micro_batch, head);

    // Pipeline send/receive: each model chunk receives its input and sends its output forward, and
    // the gradients back; a pair of stage ranks exchanges them at once (Megatron's batched p2p).
    if (p.pp > 1) {
        const Collective p2p{CollectiveKind::send_recv, Dim::pipeline, part.pipeline_bytes, 2, 0, true, false};
        const std::vector<int>& pipe = sc.groups().pipeline;
        const Seconds t = sc.collectives().estimate(p2p.kind, p2p.bytes, {pipe[0], pipe[1]}).time;
        s.per_micro_batch.comm[idx(Dim::pipeline)] += 2.0 * p.vpp * t;
        s.per_micro_batch.bytes[idx(Dim::pipeline)] += 2.0 * p.vpp * part.pipeline_bytes;
    }

    // Data parallelism.
    const double grad_bytes = element_bytes(p.grad_precision);
    const double param_bytes = element_bytes(p.precision) >= 4 ? 4.0 : 2.0;
    const int m = p.micro_batches();
    auto reduce = [&](double params, const std::vector<int>& group, double per_iteration_repeat, Seconds& exposed,
                      Seconds overlap_window, bool overlap) {
        if (group.size() < 2 || params <= 0) return;
        const int n = static_cast<int>(group.size());
        Seconds t;
        Bytes sent;
        auto run = [&](CollectiveKind k, Bytes b) {
            t += sc.collectives().estimate(k, b, group).time;
            sent += b * bus_bandwidth_factor(k, n);
        };
        if (p.zero == 0) {
            run(CollectiveKind::all_reduce, Bytes(params * grad_bytes));
        } else {
            run(CollectiveKind::reduce_scatter, Bytes(params * grad_bytes));
            run(CollectiveKind::all_gather, Bytes(params * param_bytes));
        }
        s.step_bytes[idx(Dim::data)] += sent * per_iteration_repeat;
        if (overlap) {
            const Seconds last_bucket = t / bucket_count(params, p.dp);
            exposed += max(last_bucket, t - overlap_window) * per_iteration_repeat;
        } else {
            exposed += t * per_iteration_repeat;
        }
    };
    const Seconds last_backward = s.per_micro_batch.backward;
    const bool overlap = p.overlap_grad_reduce || (p.zero >= 3);
    if (p.zero >= 3) {
        // ZeRO-3 / FSDP: parameters gathered for the forward and again for the backward of every
        // micro-batch, gradients reduce-scattered after it; prefetch overlaps them with compute.
        Seconds per_mb;
        const auto& g = sc.groups();
        const double dense = stage.dense_parameters;
        const double expert = stage.expert_parameters;
        auto gather = [&](double params, const std::vector<int>& group) {
            if (group.size() < 2 || params <= 0) return;
            const int n = static_cast<int>(group.size());
            const Bytes b(params * param_bytes);
            per_mb += 2.0 * sc.collectives().estimate(CollectiveKind::all_gather, b, group).time;
            per_mb += sc.collectives().estimate(CollectiveKind::reduce_scatter, Bytes(params * grad_bytes), group).time;
            s.step_bytes[idx(Dim::data)] += (2.0 * b + Bytes(params * grad_bytes)) * (bus_bandwidth_factor(CollectiveKind::all_gather, n) * m);
        };
        gather(dense, g.dense_data);
        gather(expert, g.expert_data);
        const Seconds window = s.per_micro_batch.forward + s.per_micro_batch.backward;
        s.data_parallel += max(Seconds(0), per_mb - window) * static_cast<double>(m);
    } else {
        const Seconds window = p.overlap_grad_reduce ? last_backward : Seconds(0);
        reduce(stage.dense_parameters, sc.groups().dense_data, 1.0, s.data_parallel, window, overlap);
        reduce(stage.expert_parameters, sc.groups().expert_data, 1.0, s.data_parallel, window, overlap);
    }

    // Tied embeddings: the first and last stages all-reduce the shared weight's gradient.
    if (p.pp > 1 && (stage.first || stage.last) && part.graph.tied_output_parameters > 0) {
        const std::vector<int> pair{sc.groups().pipeline.front(), sc.groups().pipeline.back()};
        const Bytes b(part.graph.tied_output_parameters * grad_bytes);
        s.data_parallel += sc.collectives().estimate(CollectiveKind::all_reduce, b, pair).time;
        s.step_bytes[idx(Dim::pipeline)] += b;
    }

    const double shard_dense = p.zero >= 1 ? part.dense_data_group : 1;
    const double shard_expert = p.zero >= 1 ? part.expert_data_group : 1;
    s.optimizer = optimizer_time(sc, stage.dense_parameters / shard_dense + stage.expert_parameters / shard_expert);
    return s;
}

struct StageEval {
    StageCost cost;
    StageTime time;
};

std::vector<StageEval> evaluate_stages(const Scenario& sc) {
    const plan::Partition& part = sc.partition();
    const BlockCost dense = block_cost(sc, part.graph.dense, part.dense_comm, true);
    const BlockCost moe = part.graph.moe.empty() ? BlockCost{} : block_cost(sc, part.graph.moe, part.moe_comm, true);
    const BlockCost embedding = block_cost(sc, part.graph.embedding, part.embedding_comm, false);
    const BlockCost head = block_cost(sc, part.graph.head, part.head_comm, false);
    std::vector<StageEval> out;
    for (const plan::Stage& stage : part.stages) {
        StageEval e{stage_cost(sc, stage, dense, moe, embedding, head), {}};
        e.time.stage = stage.index;
        e.time.forward = e.cost.per_micro_batch.forward;
        e.time.backward = e.cost.per_micro_batch.backward;
        e.time.weight_grad = e.cost.per_micro_batch.weight_grad;
        for (const Seconds& c : e.cost.per_micro_batch.comm) e.time.exposed_comm += c;
        e.time.data_parallel = e.cost.data_parallel;
        e.time.optimizer = e.cost.optimizer;
        out.push_back(e);
    }
    return out;
}

}  // namespace

std::vector<StageTime> stage_times(const Scenario& sc) {
    std::vector<StageTime> out;
    for (const StageEval& e : evaluate_stages(sc)) out.push_back(e.time);
    return out;
}

Prediction predict_analytical(const Scenario& sc) {
    const plan::Plan& p = sc.plan();
    const plan::Partition& part = sc.partition();
    const int m = p.micro_batches();
    const double pp = p.pp;

    Prediction out;
    const std::vector<StageEval> stages = evaluate_stages(sc);
    Seconds slowest;
    std::size_t critical = 0;
    Seconds sum_stages;
    Seconds after_pipeline;
    for (std::size_t i = 0; i < stages.size(); ++i) {
        const StageTime& t = stages[i].time;
        sum_stages += t.per_micro_batch();
        if (t.per_micro_batch() > slowest) {
            slowest = t.per_micro_batch();
            critical = i;
        }
        after_pipeline = max(after_pipeline, t.data_parallel + t.optimizer);
        out.stages.push_back(t);
    }

    // Pipeline: the slowest stage sets the steady state; filling and draining pass once through
    // every stage (for uniform stages (m + p - 1) t, Narayanan et al. 2021, Sec. 2.2.1).
    const Seconds ideal = slowest * static_cast<double>(m);
    Seconds bubble;
    switch (p.schedule) {
        case Schedule::gpipe:
        case Schedule::one_f_one_b: bubble = sum_stages - slowest; break;
        case Schedule::interleaved: bubble = (sum_stages - slowest) / static_cast<double>(p.vpp); break;
        case Schedule::zb_h1: {
            // ZB-H1 fills the drain with deferred weight-gradient work: the bubble shrinks from
            // (p-1)(F + B + W) to (p-1)(F + B - W) (Qi et al. 2023, arXiv 2401.10241, Sec. 3.1).
            Seconds weight;
            for (const StageTime& t : out.stages) weight += t.weight_grad;
            bubble = max(Seconds(0), sum_stages - slowest - 2.0 * weight * ((pp - 1) / pp));
            break;
        }
    }
    const Seconds pipeline = ideal + bubble;
    out.iteration_time = pipeline + after_pipeline;

    const StageCost& crit = stages[critical].cost;
    const StageTime& ct = out.stages[critical];
    out.compute = (ct.forward + ct.backward) * static_cast<double>(m);
    for (std::size_t d = 0; d < plan::kDimCount; ++d) out.exposed_comm[d] = crit.per_micro_batch.comm[d] * static_cast<double>(m);
    out.bubble = bubble;
    // What follows the pipeline on the stage that finishes last.
    Seconds dp_exposed;
    for (const StageTime& t : out.stages) {
        if (t.data_parallel + t.optimizer == after_pipeline) {
            dp_exposed = t.data_parallel;
            out.optimizer = t.optimizer;
            break;
        }
    }
    out.exposed_comm[idx(Dim::data)] += dp_exposed;
    out.bubble_fraction = ideal.value() > 0 ? bubble / ideal : 0.0;

    for (const StageEval& e : stages) {
        for (std::size_t d = 0; d < plan::kDimCount; ++d) {
            const StageCost& s = e.cost;
            out.comm_bytes[d] = max(out.comm_bytes[d], s.per_micro_batch.bytes[d] * static_cast<double>(m) + s.step_bytes[d]);
        }
    }

    const double gpus = p.gpus();
    const double tokens = static_cast<double>(p.global_batch) * sc.model().seq_len;
    out.tokens_per_s = tokens / out.iteration_time.value();
    out.model_flops = model::iteration_flops(sc.model(), p.global_batch, model::Recompute::none);
    out.hardware_flops = model::iteration_flops(sc.model(), p.global_batch, p.recompute);
    const FlopRate peak = sc.compute().gemm_peak();
    out.model_tflops_per_gpu = out.model_flops.value() / (out.iteration_time.value() * gpus) / 1e12;
    out.mfu = out.model_flops / (out.iteration_time * gpus * peak);
    out.hfu = out.hardware_flops / (out.iteration_time * gpus * peak);
    out.memory = cost::estimate_memory(p, sc.model(), part, sc.cluster().device);
    return out;
}

}  // namespace splitsim::sim
