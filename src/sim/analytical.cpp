#include "splitsim/sim/analytical.hpp"

#include "splitsim/cost/optimizer.hpp"
#include "splitsim/sim/buckets.hpp"
#include "splitsim/sim/sharded.hpp"

#include <algorithm>
#include <tuple>
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

Bytes sent_bytes(const Collective& c) { return c.bytes * bus_bandwidth_factor(c.kind, c.group); }

BlockCost block_cost(const Scenario& sc, const std::vector<Op>& ops, const LayerComm& comm, bool recomputed_layer) {
    const auto& cm = sc.compute();
    const Recompute recompute = recomputed_layer ? sc.plan().recompute : Recompute::none;
    BlockCost c;
    std::vector<Seconds> fwd(ops.size()), dgrad(ops.size()), wgrad(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        fwd[i] = cm.forward(ops[i]);
        const Seconds bwd = cm.backward(ops[i]);
        wgrad[i] = cm.weight_grad(ops[i]);
        dgrad[i] = bwd - wgrad[i];
        c.forward += fwd[i];
        c.backward += bwd;
        c.weight_grad += wgrad[i];
        if (recompute == Recompute::full || (recompute == Recompute::selective && ops[i].selective_recompute)) {
            c.backward += fwd[i];
        }
    }
    const double slowdown = sc.cluster().device.kernels.overlap_slowdown;
    auto add = [&](const std::vector<Collective>& list, const std::vector<Seconds>& overlap_with, int repeat, Seconds& pass) {
        for (const Collective& col : list) {
            const Seconds t = sc.collective_time(col);
            const std::vector<Seconds>& with = col.with_weight_grad ? wgrad : overlap_with;
            // Under ZB-H1 the weight gradient is deferred: it hides nothing.
            const bool hides = col.overlapped && !(col.with_weight_grad && sc.plan().schedule == plan::Schedule::zb_h1);
            const Seconds hidden = hides ? with[static_cast<std::size_t>(col.position)] : Seconds(0);
            // While the collective runs, the compute it overlaps progresses 1 + slowdown times slower
            // (the collective's kernels hold compute units): the pass is longer by t - w where the
            // collective outlasts the compute, else by t slowdown / (1 + slowdown). The event tier's
            // engine plays out the same rates.
            const Seconds exposed = hidden.value() > 0 ? max(t - hidden, t * (slowdown / (1.0 + slowdown))) : t;
            c.comm[idx(col.dim)] += exposed * static_cast<double>(repeat);
            c.bytes[idx(col.dim)] += sent_bytes(col) * static_cast<double>(repeat);
            pass += exposed;
        }
    };
    add(comm.forward, fwd, 1, c.forward_comm);
    add(comm.backward, dgrad, 1, c.backward_comm);
    // Full recomputation runs the forward again, collectives included, before the backward.
    if (recompute == Recompute::full) add(comm.forward, fwd, 1, c.backward_comm);
    return c;
}

void accumulate(BlockCost& into, const BlockCost& c) {
    into.forward += c.forward;
    into.backward += c.backward;
    into.weight_grad += c.weight_grad;
    into.forward_comm += c.forward_comm;
    into.backward_comm += c.backward_comm;
    for (std::size_t d = 0; d < into.comm.size(); ++d) {
        into.comm[d] += c.comm[d];
        into.bytes[d] += c.bytes[d];
    }
}

// ZeRO-3 / FSDP: one micro-batch of a stage's layers on a compute stream, a gather stream and a
// reduce-scatter stream (sim/sharded.hpp gives the rule). A segment computes after its unit's
// gather (if any) and reduce-scatters its unit's gradients afterwards (if any).
struct ShardSegment {
    double gather = 0;  // parameters gathered before it
    Seconds compute;
    double reduce = 0;  // parameters whose gradients are complete after it
};

void layer_segments(const Scenario& sc, const std::vector<Op>& ops, const BlockCost& block, std::vector<ShardSegment>& forward,
                    std::vector<ShardSegment>& backward) {
    const auto& cm = sc.compute();
    const Recompute recompute = sc.plan().recompute;
    const std::vector<ShardUnit> units = shard_units(sc.plan(), ops);
    std::vector<Seconds> fwd(ops.size()), bwd(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
        fwd[i] = cm.forward(ops[i]);
        bwd[i] = cm.backward(ops[i]);
        if (recompute == Recompute::selective && ops[i].selective_recompute) bwd[i] += fwd[i];
    }
    auto sum = [](const std::vector<Seconds>& t, int from, int to) {
        Seconds x;
        for (int i = from; i < to; ++i) x += t[static_cast<std::size_t>(i)];
        return x;
    };
    const int lead = units.empty() ? static_cast<int>(ops.size()) : units.front().position;
    std::vector<ShardSegment> f;
    if (lead > 0) f.push_back({0, sum(fwd, 0, lead), 0});
    for (const ShardUnit& u : units) f.push_back({u.parameters, sum(fwd, u.position, u.end), 0});
    f.back().compute += block.forward_comm;
    forward.insert(forward.end(), f.begin(), f.end());
    // Full recomputation runs the forward again, gathers included; the backward then uses what
    // it gathered. Otherwise each unit is gathered again before its backward.
    if (recompute == Recompute::full) backward.insert(backward.end(), f.begin(), f.end());
    const bool gather = recompute != Recompute::full;
    for (auto u = units.rbegin(); u != units.rend(); ++u) {
        backward.push_back({gather ? u->parameters : 0.0, sum(bwd, u->position, u->end), u->parameters});
    }
    if (lead > 0) backward.push_back({0, sum(bwd, 0, lead), 0});
    // The block's exposed communication (full recomputation's included) closes its backward.
    backward.back().compute += block.backward_comm - (recompute == Recompute::full ? block.forward_comm : Seconds(0));
}

// The time the gathers and reduce-scatters add to the segments' compute.
Seconds sharded_exposed(const Scenario& sc, const std::vector<ShardSegment>& segments, int depth) {
    const plan::Plan& p = sc.plan();
    const plan::ShardedParameters s = plan::behaviour(p).sharded;
    const Seconds overhead = sharded_overhead(sc);
    const double pbytes = gathered_bytes_per_parameter(p);
    const double gbytes = element_bytes(p.grad_precision);
    auto gather_time = [&](double params) {
        return sc.collective_time(GroupKind::dense_data, CollectiveKind::all_gather, Bytes(params * pbytes)) + overhead;
    };
    auto reduce_time = [&](double params) {
        return sc.collective_time(GroupKind::dense_data, CollectiveKind::reduce_scatter, Bytes(params * gbytes)) + overhead;
    };
    // Compute runs overlap_slowdown slower while a collective is in flight (as the event tier's
    // engine plays it): `comm` holds the intervals the gather and reduce-scatter streams are busy.
    const double slowdown = sc.cluster().device.kernels.overlap_slowdown;
    std::vector<std::pair<Seconds, Seconds>> comm;
    auto finish = [&](Seconds start, Seconds work) {
        if (slowdown <= 0) return start + work;
        std::sort(comm.begin(), comm.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        Seconds t = start;
        for (const auto& [from, to] : comm) {
            if (to <= t) continue;
            if (from > t) {
                const Seconds free = from - t;  // full speed until the collective starts
                if (work <= free) return t + work;
                work = work - free;
                t = from;
            }
            const Seconds slow = (to - t) / (1.0 + slowdown);  // work done while it runs
            if (work <= slow) return t + work * (1.0 + slowdown);
            work = work - slow;
            t = to;
        }
        return t + work;
    };
    Seconds compute_end, gather_free, reduce_free, busy;
    std::vector<double> units;  // parameters of every gathered unit, in order
    for (const ShardSegment& seg : segments) {
        if (seg.gather > 0) units.push_back(seg.gather);
    }
    std::vector<Seconds> unit_start, gather_end;
    // Issues the gathers of units up to `last` whose condition is known: unit k - depth has started
    // (depth 0: the compute before unit k is done, which is compute_end when k is reached).
    auto issue_upto = [&](std::size_t last) {
        for (std::size_t k = gather_end.size(); k <= last && k < units.size(); ++k) {
            Seconds when = compute_end;
            if (depth > 0) when = k >= static_cast<std::size_t>(depth) ? unit_start[k - static_cast<std::size_t>(depth)] : Seconds(0);
            const Seconds issue = max(when, gather_free);
            gather_free = issue + gather_time(units[k]);
            comm.emplace_back(issue, gather_free);
            gather_end.push_back(gather_free);
        }
    };
    double pending = 0;
    for (const ShardSegment& seg : segments) {
        Seconds start = compute_end;
        if (seg.gather > 0) {
            const std::size_t u = unit_start.size();
            issue_upto(u);
            start = max(start, gather_end[u]);
            unit_start.push_back(start);
            if (depth > 0) issue_upto(u + static_cast<std::size_t>(depth));  // prefetched while unit u computes
        }
        compute_end = finish(start, seg.compute);
        busy += seg.compute;
        pending += seg.reduce;
        if (pending > 0 && pending >= s.reduce_bucket_parameters) {
            const Seconds issue = max(reduce_free, compute_end);
            reduce_free = issue + reduce_time(pending);
            comm.emplace_back(issue, reduce_free);
            pending = 0;
        }
    }
    if (pending > 0) reduce_free = max(reduce_free, compute_end) + reduce_time(pending);
    return max(compute_end, reduce_free) - busy;
}

struct StageCost {
    BlockCost per_micro_batch;
    Seconds data_parallel;       // exposed after the last backward
    PerDim<Bytes> step_bytes{};  // bytes sent once per iteration
    Seconds optimizer;
};

StageCost stage_cost(const Scenario& sc, const plan::Stage& stage, const BlockCosts& blocks) {
    const BlockCost& dense = blocks.dense;
    const BlockCost& moe = blocks.moe;
    const BlockCost& embedding = blocks.embedding;
    const BlockCost& head = blocks.head;
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
    // With scatter/gather sends the receivers then all-gather the chunks over the tensor group.
    if (p.pp > 1) {
        const Seconds t = sc.collective_time(GroupKind::pipeline, CollectiveKind::send_recv, part.pipeline_bytes);
        s.per_micro_batch.comm[idx(Dim::pipeline)] += 2.0 * p.vpp * t;
        s.per_micro_batch.bytes[idx(Dim::pipeline)] += 2.0 * p.vpp * part.pipeline_bytes;
        if (part.pipeline_gather_bytes.value() > 0) {
            const Bytes g = part.pipeline_gather_bytes;
            s.per_micro_batch.comm[idx(Dim::tensor)] += 2.0 * p.vpp * sc.collective_time(GroupKind::tensor, CollectiveKind::all_gather, g);
            s.per_micro_batch.bytes[idx(Dim::tensor)] += 2.0 * p.vpp * g * bus_bandwidth_factor(CollectiveKind::all_gather, p.tp);
        }
    }

    // Data parallelism: gradients reduced over the ranks holding the same parameters (ZeRO 0:
    // all-reduce; ZeRO 1-2: reduce-scatter, then all-gather of the updated parameters), bucket by
    // bucket where reduction overlaps the backward pass. ZeRO-3 / FSDP gathers each layer's
    // parameters for its forward and again for its backward, and reduce-scatters its gradients,
    // in every micro-batch; prefetching overlaps them with the micro-batch's compute.
    const double grad_bytes = element_bytes(p.grad_precision);
    const double param_bytes = element_bytes(p.precision) >= 4 ? 4.0 : 2.0;
    const int m = p.micro_batches();
    struct Sync {
        Seconds time;
        Seconds last;  // the last bucket's
        Bytes sent;
    };
    auto sync = [&](CollectiveKind op, double bytes_per_param, bool bucketed, BucketScope scope, double times) {
        Sync r;
        for (const bool expert : {false, true}) {
            const GroupKind kind = expert ? GroupKind::expert_data : GroupKind::dense_data;
            const int n = sc.groups(kind).ranks();
            if (n < 2) continue;
            double previous = -1;
            for (const Bucket& b : gradient_buckets(p, sc.model(), part, stage, expert, bucketed, scope, false)) {
                const Bytes bytes(b.parameters * bytes_per_param);
                if (b.parameters != previous) r.last = sc.collective_time(kind, op, bytes) * times;  // equal buckets cost the same
                previous = b.parameters;
                r.time += r.last;
                r.sent += bytes * (bus_bandwidth_factor(op, n) * times);
            }
        }
        return r;
    };
    const CollectiveKind reduce_op = p.zero == 0 ? CollectiveKind::all_reduce : CollectiveKind::reduce_scatter;
    if (p.zero >= 3) {
        // Per micro-batch: every layer's units gathered for its forward and again for its backward
        // (or its recomputation), its gradients reduce-scattered (sim/sharded.hpp).
        std::vector<ShardSegment> all;
        std::vector<std::vector<ShardSegment>> backward;  // per layer, in forward order
        double largest = 0;
        for (const auto& chunk : stage.chunks) {
            for (int layer : chunk) {
                const bool moe_layer = sc.model().is_moe_layer(layer);
                const auto& ops = moe_layer ? part.graph().moe : part.graph().dense;
                backward.emplace_back();
                layer_segments(sc, ops, moe_layer ? moe : dense, all, backward.back());
                for (const ShardUnit& u : shard_units(p, ops)) largest = std::max(largest, u.parameters);
            }
        }
        for (auto it = backward.rbegin(); it != backward.rend(); ++it) all.insert(all.end(), it->begin(), it->end());
        double gathered = 0, reduced = 0;
        for (const ShardSegment& seg : all) {
            gathered += seg.gather;
            reduced += seg.reduce;
        }
        const int n = sc.groups(GroupKind::dense_data).ranks();
        const Bytes per_mb(gathered * param_bytes + reduced * grad_bytes);
        const int depth = prefetch_depth(plan::behaviour(p).sharded, largest);
        s.data_parallel = sharded_exposed(sc, all, depth) * static_cast<double>(m);
        // The embedding and head parameters: reduce-scatter at the end, gather after the step.
        const Sync outside_reduce = sync(CollectiveKind::reduce_scatter, grad_bytes, false, BucketScope::outside_only, 1);
        const Sync outside_gather = sync(CollectiveKind::all_gather, param_bytes, false, BucketScope::outside_only, 1);
        s.data_parallel += outside_reduce.time + outside_gather.time;
        s.step_bytes[idx(Dim::data)] = per_mb * (bus_bandwidth_factor(CollectiveKind::all_gather, n) * m) + outside_reduce.sent + outside_gather.sent;
    } else {
        const Sync reduce = sync(reduce_op, grad_bytes, p.overlap_grad_reduce, BucketScope::all, 1);
        const Sync gather = p.zero >= 1 ? sync(CollectiveKind::all_gather, param_bytes, p.overlap_param_gather, BucketScope::all, 1) : Sync{};
        s.step_bytes[idx(Dim::data)] = reduce.sent + gather.sent;
        // Overlapped, buckets reduce while the last micro-batch's backward runs, and parameters are
        // gathered while the next iteration's first forward runs; the last bucket stays exposed.
        s.data_parallel = p.overlap_grad_reduce ? max(reduce.last, reduce.time - s.per_micro_batch.backward) : reduce.time;
        s.data_parallel += p.overlap_param_gather ? max(gather.last, gather.time - s.per_micro_batch.forward) : gather.time;
    }

    // Tied embeddings: the first and last stages all-reduce the shared weight's gradient; for two
    // ranks that is one exchange of the buffer.
    if (p.pp > 1 && (stage.first || stage.last) && part.graph().tied_output_parameters > 0) {
        const Bytes b(part.graph().tied_output_parameters * grad_bytes);
        s.data_parallel += sc.collective_time(GroupKind::pipeline, CollectiveKind::send_recv, b);
        s.step_bytes[idx(Dim::pipeline)] += b;
    }

    const double shard_dense = p.zero >= 1 ? part.dense_data_group : 1;
    const double shard_expert = p.zero >= 1 ? part.expert_data_group : 1;
    s.optimizer = cost::optimizer_step_time(sc.compute(), p, stage.dense_parameters / shard_dense + stage.expert_parameters / shard_expert);
    return s;
}

BlockCosts compute_block_costs(const Scenario& sc) {
    const plan::LayerPrograms& lp = *sc.partition().layers;
    BlockCosts b;
    b.dense = block_cost(sc, lp.graph.dense, lp.dense_comm, true);
    if (!lp.graph.moe.empty()) b.moe = block_cost(sc, lp.graph.moe, lp.moe_comm, true);
    b.embedding = block_cost(sc, lp.graph.embedding, lp.embedding_comm, false);
    b.head = block_cost(sc, lp.graph.head, lp.head_comm, false);
    return b;
}

struct StageEval {
    StageCost cost;
    StageTime time;
};

std::vector<StageEval> evaluate_stages(const Scenario& sc) {
    const plan::Partition& part = sc.partition();
    const BlockCosts local = sc.cache() ? BlockCosts{} : compute_block_costs(sc);
    const BlockCosts& blocks = sc.cache() ? sc.cache()->block_costs(sc.plan(), [&] { return compute_block_costs(sc); }) : local;
    std::vector<StageEval> out;
    out.reserve(part.stages.size());
    // Stages alike in what they hold cost the same: compute each kind once.
    auto signature = [&](const plan::Stage& st) {
        int moe_layers = 0;
        for (const auto& chunk : st.chunks) {
            for (int layer : chunk) moe_layers += sc.model().is_moe_layer(layer) ? 1 : 0;
        }
        return std::make_tuple(st.first, st.last, st.layer_count(), moe_layers);
    };
    std::vector<std::pair<decltype(signature(part.stages.front())), std::size_t>> seen;
    for (const plan::Stage& stage : part.stages) {
        const auto sig = signature(stage);
        const auto it = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == sig; });
        StageEval e{it != seen.end() ? out[it->second].cost : stage_cost(sc, stage, blocks), {}};
        if (it == seen.end()) seen.emplace_back(sig, out.size());
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

BlockCosts block_costs(const Scenario& sc) { return compute_block_costs(sc); }

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
    auto flops = [&](model::Recompute r) {
        return sc.cache() ? sc.cache()->iteration_flops(sc.model(), p.global_batch, r)
                          : model::iteration_flops(sc.model(), p.global_batch, r);
    };
    out.model_flops = flops(model::Recompute::none);
    out.hardware_flops = flops(p.recompute);
    const FlopRate peak = sc.compute().gemm_peak();
    out.model_tflops_per_gpu = out.model_flops.value() / (out.iteration_time.value() * gpus) / 1e12;
    out.mfu = out.model_flops / (out.iteration_time * gpus * peak);
    out.hfu = out.hardware_flops / (out.iteration_time * gpus * peak);
    out.memory = cost::estimate_memory(p, sc.model(), part, sc.cluster());
    return out;
}

}  // namespace splitsim::sim
