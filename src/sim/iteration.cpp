#include "splitsim/sim/iteration.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include "splitsim/common/error.hpp"
#include "splitsim/cost/optimizer.hpp"
#include "splitsim/sim/buckets.hpp"
#include "splitsim/sim/schedule.hpp"
#include "splitsim/sim/sharded.hpp"

namespace splitsim::sim {
namespace {

using model::Op;
using model::Recompute;
using plan::Collective;
using plan::Dim;

GroupKind group_of(Dim d) {
    switch (d) {
        case Dim::tensor: return GroupKind::tensor;
        case Dim::context: return GroupKind::context;
        case Dim::expert: return GroupKind::expert;
        case Dim::data: return GroupKind::dense_data;
        case Dim::pipeline: return GroupKind::pipeline;
    }
    return GroupKind::tensor;
}

cost::Pattern pattern_of(CollectiveKind k) {
    switch (k) {
        case CollectiveKind::all_to_all: return cost::Pattern::all_to_all;
        case CollectiveKind::send_recv: return cost::Pattern::successor;
        default: return cost::Pattern::ring;
    }
}

// One step of a layer's program.
struct Step {
    // gather / reduce: ZeRO-3's all-gather of a unit's parameters before its compute, and the
    // reduce-scatter of its gradients after (sim/sharded.hpp).
    enum class Kind { compute, comm, overlapped_comm, gather, reduce };
    Kind kind = Kind::compute;
    Seconds duration;        // compute
    std::string_view name;   // first operator of a compute segment
    Collective collective;   // comm
    bool sealed = false;     // compute: later compute starts a new step (a collective overlaps this one only)
    double parameters = 0;   // gather, reduce
};

struct Program {
    std::vector<Step> forward;
    std::vector<Step> backward;   // input and weight gradients (input gradients only under ZB-H1)
    std::vector<Step> recompute;  // run before the backward
    Seconds weight_grad;          // ZB-H1's deferred weight-gradient pass
    double largest_unit = 0;      // ZeRO-3: parameters of the largest unit gathered
    double dense_parameters = 0;
    double expert_parameters = 0;
};

// Merges consecutive compute steps into one segment.
void push_compute(std::vector<Step>& steps, std::string_view name, Seconds t) {
    if (!steps.empty() && steps.back().kind == Step::Kind::compute && !steps.back().sealed) {
        steps.back().duration += t;
        return;
    }
    steps.push_back({Step::Kind::compute, t, name, {}, false});
}

void push_comm(std::vector<Step>& steps, const Collective& c) {
    steps.push_back({c.overlapped ? Step::Kind::overlapped_comm : Step::Kind::comm, Seconds(0), {}, c});
}

Program make_program(const Scenario& sc, const std::vector<Op>& ops, const plan::LayerComm& comm, bool layer) {
    const auto& cm = sc.compute();
    const bool zb = sc.plan().schedule == plan::Schedule::zb_h1;
    const Recompute recompute = layer ? sc.plan().recompute : Recompute::none;
    Program p;
    const int n = static_cast<int>(ops.size());
    const std::vector<ShardUnit> units = layer ? shard_units(sc.plan(), ops) : std::vector<ShardUnit>{};
    auto unit_at = [&](int position) -> const ShardUnit* {
        for (const ShardUnit& u : units) {
            if (u.position == position) return &u;
        }
        return nullptr;
    };
    auto unit_ending_at = [&](int end) -> const ShardUnit* {
        for (const ShardUnit& u : units) {
            if (u.end == end) return &u;
        }
        return nullptr;
    };
    for (const ShardUnit& u : units) p.largest_unit = std::max(p.largest_unit, u.parameters);
    // Full recomputation gathers for the recomputed forward and keeps the parameters for the backward.
    const bool gather_for_backward = recompute != Recompute::full;
    for (int i = 0; i < n; ++i) {
        const Op& op = ops[static_cast<std::size_t>(i)];
        if (const ShardUnit* u = unit_at(i)) p.forward.push_back({Step::Kind::gather, Seconds(0), {}, {}, false, u->parameters});
        bool overlapped = false;
        for (const Collective& c : comm.forward) {
            if (c.position == i && c.before) push_comm(p.forward, c);
            overlapped = overlapped || (c.position == i && c.before && c.overlapped);
        }
        push_compute(p.forward, op.name, cm.forward(op));
        // A collective overlaps the op it serves and nothing after it (as the analytical tier hides it).
        if (overlapped) p.forward.back().sealed = true;
        for (const Collective& c : comm.forward) {
            if (c.position == i && !c.before) push_comm(p.forward, c);
        }
        (op.expert ? p.expert_parameters : p.dense_parameters) += op.parameters;
    }
    for (int i = n - 1; i >= 0; --i) {
        const Op& op = ops[static_cast<std::size_t>(i)];
        if (const ShardUnit* u = unit_ending_at(i + 1); u && gather_for_backward) {
            p.backward.push_back({Step::Kind::gather, Seconds(0), {}, {}, false, u->parameters});
        }
        bool overlapped = false;
        for (const Collective& c : comm.backward) {
            if (c.position == i && c.before) push_comm(p.backward, c);
            overlapped = overlapped || (c.position == i && c.before && c.overlapped);
        }
        const Seconds wgrad = cm.weight_grad(op);
        // The input-gradient GEMM (which a collective issued before it overlaps), the collectives
        // that overlap the weight-gradient GEMM, then the weight-gradient GEMM itself (deferred
        // under ZB-H1).
        push_compute(p.backward, op.name, cm.backward(op) - wgrad);
        if (overlapped) p.backward.back().sealed = true;
        bool async = false;
        for (const Collective& c : comm.backward) {
            if (c.position == i && !c.before && c.with_weight_grad) {
                // Under ZB-H1 the weight gradient is deferred: nothing is left to overlap.
                Collective blocking = c;
                blocking.overlapped = blocking.overlapped && !zb;
                push_comm(p.backward, blocking);
                async = true;
            }
        }
        if (zb) {
            p.weight_grad += wgrad;
        } else if (wgrad.value() > 0) {
            push_compute(p.backward, op.name, wgrad);
            // The next op needs the reduced input gradient: it waits for the collective.
            if (async) p.backward.back().sealed = true;
        }
        for (const Collective& c : comm.backward) {
            if (c.position == i && !c.before && !c.with_weight_grad) push_comm(p.backward, c);
        }
        if (const ShardUnit* u = unit_at(i)) p.backward.push_back({Step::Kind::reduce, Seconds(0), {}, {}, false, u->parameters});
    }
    if (recompute == Recompute::full) {
        p.recompute = p.forward;
    } else if (recompute == Recompute::selective) {
        for (const Op& op : ops) {
            if (op.selective_recompute) push_compute(p.recompute, op.name, cm.forward(op));
        }
    }
    return p;
}

// The state of one simulated rank while its program is emitted.
struct Lane {
    int stage = 0;
    int replica = -1;  // the data-parallel replica it stands for, or -1 for all of them
    int rank = 0;
    std::vector<TaskId> frontier;    // the tasks the next one waits for
    std::vector<TaskId> layer_ends;  // the last task of each layer pass, in program order
    std::vector<TaskId> end;         // the end of the stage's program
    std::map<int, TaskId> last_backward;  // per layer
    std::map<int, TaskId> first_forward;  // per layer
    TaskId last_head_backward = -1;
    TaskId tied_reduction = -1;
    // ZeRO-3: what each gathered unit's compute waited for (its start), gathers not yet waited
    // for, and gradients not yet reduce-scattered.
    std::vector<std::vector<TaskId>> unit_starts;
    std::vector<TaskId> pending_gathers;
    double pending_reduce = 0;
};

class Builder {
public:
    Builder(const Scenario& sc, bool per_rank)
        : sc_(sc),
          plan_(sc.plan()),
          part_(sc.partition()),
          replicas_(per_rank ? sc.plan().dp : 1),
          graph_(sc.plan().pp * (per_rank ? sc.plan().dp : 1)),
          dense_(make_program(sc, part_.graph().dense, part_.layers->dense_comm, true)),
          moe_(part_.graph().moe.empty() ? Program{} : make_program(sc, part_.graph().moe, part_.layers->moe_comm, true)),
          embedding_(make_program(sc, part_.graph().embedding, part_.layers->embedding_comm, false)),
          head_(make_program(sc, part_.graph().head, part_.layers->head_comm, false)),
          sharded_(plan::behaviour(sc.plan()).sharded),
          largest_unit_(std::max(dense_.largest_unit, moe_.largest_unit)) {
        // Pipeline stage of every rank, and the groups each stage's ranks form.
        const auto sets = place_groups(plan_);
        for (int k = 0; k < kGroupKinds; ++k) groups_[static_cast<std::size_t>(k)] = sets[static_cast<std::size_t>(k)].groups;
        stage_of_ = rank_coordinates(plan_, plan::Dim::pipeline);
        replica_of_ = rank_coordinates(plan_, plan::Dim::data);
        for (int r = 0; r < replicas_; ++r) {
            for (int s = 0; s < plan_.pp; ++s) {
                Lane lane;
                lane.stage = s;
                lane.replica = per_rank ? r : -1;
                lane.rank = r * plan_.pp + s;
                lanes_.push_back(std::move(lane));
            }
        }
    }

    TaskGraph build() {
        const int p = plan_.pp;
        const int m = plan_.micro_batches();
        std::vector<std::vector<TaskId>> gathers(static_cast<std::size_t>(p));
        if (plan_.zero >= 1 && plan_.zero <= 2 && plan_.overlap_param_gather) {
            // The previous step's parameter all-gathers overlap this step's forward passes.
            for (int s = 0; s < p; ++s) emit_gradient_sync(s, true, BucketScope::all);
        }
        for (Lane& lane : lanes_) {
            for (const WorkItem& w : stage_program(plan_.schedule, p, plan_.vpp, m, lane.stage)) emit(lane, w);
            lane.end = lane.frontier;
        }
        for (const auto& [key, receiver] : receivers_) graph_.depend(senders_.at(key), receiver);
        for (const auto& [layer, waits] : first_forward_waits_) {
            for (const Lane& lane : lanes_) {
                if (const auto it = lane.first_forward.find(layer); it != lane.first_forward.end()) {
                    for (TaskId g : waits) graph_.depend(g, it->second);
                }
            }
        }
        for (int s = 0; s < p; ++s) emit_step_end(s);
        return std::move(graph_);
    }

private:
    enum class Direction { forward, backward };
    using Key = std::tuple<int, int, int, int, Direction>;  // replica, receiving stage, chunk, micro-batch, direction

    // The lanes of one stage (one per simulated replica).
    std::vector<Lane*> lanes_of(int stage) {
        std::vector<Lane*> out;
        for (Lane& l : lanes_) {
            if (l.stage == stage) out.push_back(&l);
        }
        return out;
    }
    Lane& lane(int stage, int replica) { return lanes_[static_cast<std::size_t>((replica < 0 ? 0 : replica) * plan_.pp + stage)]; }

    const Program& layer_program(int layer) const { return sc_.model().is_moe_layer(layer) ? moe_ : dense_; }

    // Usage of a collective by stage `s`'s groups of kind `kind`: those of one replica, or of all the
    // folded replicas at once (replica -1).
    std::int32_t usage(GroupKind kind, cost::Pattern pattern, int s, int replica) {
        const auto key = std::make_tuple(static_cast<int>(kind), static_cast<int>(pattern), s, replica);
        if (auto it = usage_index_.find(key); it != usage_index_.end()) return it->second;
        std::vector<std::vector<int>> groups;
        for (const auto& g : groups_[static_cast<std::size_t>(kind)]) {
            if (stage_of_[static_cast<std::size_t>(g.front())] != s) continue;
            if (replica >= 0 && replica_of_[static_cast<std::size_t>(g.front())] != replica) continue;
            groups.push_back(g);
        }
        const std::int32_t i = graph_.add_usage(cost::link_usage(sc_.topology(), pattern, groups));
        usage_index_[key] = i;
        return i;
    }

    // Usage of the sends from stage `from` to stage `to` of every pipeline (of one replica, or all).
    std::int32_t pipeline_usage(int from, int to, int replica) {
        const auto key = std::make_tuple(static_cast<int>(GroupKind::pipeline), -1 - replica, from, to);
        if (auto it = usage_index_.find(key); it != usage_index_.end()) return it->second;
        std::vector<std::vector<int>> pairs;
        for (const auto& g : groups_[static_cast<std::size_t>(GroupKind::pipeline)]) {
            if (replica >= 0 && replica_of_[static_cast<std::size_t>(g.front())] != replica) continue;
            pairs.push_back({g[static_cast<std::size_t>(from)], g[static_cast<std::size_t>(to)]});
        }
        const std::int32_t i = graph_.add_usage(cost::link_usage(sc_.topology(), cost::Pattern::successor, pairs));
        usage_index_[key] = i;
        return i;
    }

    // A transfer as both tiers cost it: the estimate's latency, then its transfer time at the
    // groups' bottleneck, carried as bytes of pattern traffic on this stage's links.
    Task transfer(int s, GroupKind kind, CollectiveKind op, Bytes bytes, std::int32_t stage_usage, Stream stream, TaskLabel label) {
        const cost::PlacedGroups& g = sc_.groups(kind);
        const cost::CollectiveEstimate e = g.estimate(op, bytes);
        Task t;
        t.rank = s;
        t.stream = stream;
        t.transfer = true;
        t.duration = to_time(e.latency);
        const double per_byte = g.usage(op).seconds_per_byte;
        if (per_byte > 0 && e.time > e.latency) {
            t.usage = stage_usage;
            t.scale = (e.time - e.latency).value() / per_byte;
        }
        t.label = label;
        return t;
    }

    TaskId add_compute(int s, Seconds duration, TaskLabel label) {
        Task t;
        t.rank = s;
        t.duration = to_time(duration);
        t.label = label;
        return graph_.add(t);
    }

    void depend_all(const std::vector<TaskId>& before, TaskId after) {
        for (TaskId b : before) graph_.depend(b, after);
    }

    void emit_steps(Lane& l, const std::vector<Step>& steps, Phase phase, int layer, int mb) {
        std::vector<TaskId>& frontier_ = l.frontier;
        const int s = l.rank;
        std::vector<TaskId> overlapping;
        for (const Step& step : steps) {
            const TaskLabel label{step.kind == Step::Kind::compute ? step.name : to_string(step.collective.kind), phase,
                                  static_cast<std::int16_t>(layer), mb};
            if (step.kind == Step::Kind::gather) {
                emit_gather(l, step.parameters, label);
                continue;
            }
            if (step.kind == Step::Kind::reduce) {
                l.pending_reduce += step.parameters;
                if (l.pending_reduce >= sharded_.reduce_bucket_parameters) flush_reduce(l, label);
                continue;
            }
            if (step.kind == Step::Kind::compute) {
                const TaskId t = add_compute(s, step.duration, label);
                depend_all(frontier_, t);
                if (!l.pending_gathers.empty()) {
                    std::vector<TaskId> start = frontier_;
                    for (TaskId g : l.pending_gathers) {
                        graph_.depend(g, t);
                        start.push_back(g);
                    }
                    l.unit_starts.push_back(std::move(start));
                    l.pending_gathers.clear();
                }
                frontier_.assign(1, t);
                frontier_.insert(frontier_.end(), overlapping.begin(), overlapping.end());
                overlapping.clear();
                if (layer >= 0 && phase == Phase::forward) l.first_forward.emplace(layer, t);
                continue;
            }
            const Collective& c = step.collective;
            const GroupKind kind = group_of(c.dim);
            const TaskId t = graph_.add(
                transfer(s, kind, c.kind, c.bytes, usage(kind, pattern_of(c.kind), l.stage, l.replica), stream_of(c.dim), label));
            depend_all(frontier_, t);
            if (step.kind == Step::Kind::comm) {
                frontier_.assign(1, t);
            } else {
                overlapping.push_back(t);
            }
        }
        frontier_.insert(frontier_.end(), overlapping.begin(), overlapping.end());
    }

    // ZeRO-3: the all-gather of a unit, issued when the unit `depth` units back starts computing
    // (depth 0: when the compute before it is done), after the previous gather on its stream.
    void emit_gather(Lane& l, double params, TaskLabel label) {
        label.name = "all_gather";
        label.phase = Phase::param_sync;
        Task t = transfer(l.rank, GroupKind::dense_data, CollectiveKind::all_gather, Bytes(params * gathered_bytes_per_parameter(plan_)),
                          usage(GroupKind::dense_data, cost::Pattern::ring, l.stage, -1), Stream::gather, label);
        t.duration += to_time(sharded_overhead(sc_));
        const TaskId g = graph_.add(t);
        const int depth = prefetch_depth(sharded_, largest_unit_);
        if (depth == 0) {
            depend_all(l.frontier, g);
        } else if (l.unit_starts.size() >= static_cast<std::size_t>(depth)) {
            depend_all(l.unit_starts[l.unit_starts.size() - static_cast<std::size_t>(depth)], g);
        }
        l.pending_gathers.push_back(g);
    }

    // ZeRO-3: the reduce-scatter of the gradients completed since the last one, once the compute so
    // far is done; the optimizer waits for it.
    void flush_reduce(Lane& l, TaskLabel label) {
        if (l.pending_reduce <= 0) return;
        label.name = "reduce_scatter";
        label.phase = Phase::gradient_sync;
        Task t = transfer(l.rank, GroupKind::dense_data, CollectiveKind::reduce_scatter,
                          Bytes(l.pending_reduce * element_bytes(plan_.grad_precision)),
                          usage(GroupKind::dense_data, cost::Pattern::ring, l.stage, -1), Stream::data, label);
        t.duration += to_time(sharded_overhead(sc_));
        const TaskId r = graph_.add(t);
        depend_all(l.frontier, r);
        zero3_reductions_.push_back({l.stage, r});
        l.pending_reduce = 0;
    }

    // A zero-duration task on the compute stream: the stage waits here for data from another stage.
    // Scatter/gather sends: the stage's tensor group then all-gathers the chunks it received.
    void receive(Lane& l, const Key& key, Phase phase, int mb) {
        const TaskId t = add_compute(l.rank, Seconds(0), {"receive", phase, -1, mb});
        depend_all(l.frontier, t);
        receivers_.emplace_back(key, t);
        l.frontier.assign(1, t);
        if (part_.pipeline_gather_bytes.value() > 0) {
            const TaskId g = graph_.add(transfer(l.rank, GroupKind::tensor, CollectiveKind::all_gather, part_.pipeline_gather_bytes,
                                                 usage(GroupKind::tensor, cost::Pattern::ring, l.stage, l.replica), Stream::tensor,
                                                 {"all_gather", phase, -1, mb}));
            graph_.depend(t, g);
            l.frontier.assign(1, g);
        }
    }

    void send(Lane& l, int to_stage, const Key& key, Phase phase, int mb) {
        const TaskId t = graph_.add(transfer(l.rank, GroupKind::pipeline, CollectiveKind::send_recv, part_.pipeline_bytes,
                                             pipeline_usage(l.stage, to_stage, l.replica), Stream::pipeline, {"send_recv", phase, -1, mb}));
        depend_all(l.frontier, t);
        senders_[key] = t;
        l.frontier.assign(1, t);  // Megatron's send/receive block the stage until the data has moved
    }

    void emit(Lane& l, const WorkItem& w) {
        const int p = plan_.pp;
        const int v = plan_.vpp;
        const int s = l.stage;
        const int r = l.replica;
        const plan::Stage& stage = part_.stages[static_cast<std::size_t>(s)];
        const std::vector<int>& layers = stage.chunks[static_cast<std::size_t>(w.chunk)];
        const bool first_chunk = s == 0 && w.chunk == 0;
        const bool last_chunk = s == p - 1 && w.chunk == v - 1;
        const int mb = w.micro_batch;
        switch (w.kind) {
            case WorkItem::Kind::forward: {
                if (!first_chunk) receive(l, {r, s, w.chunk, mb, Direction::forward}, Phase::forward, mb);
                if (first_chunk) emit_steps(l, embedding_.forward, Phase::forward, -1, mb);
                if (w.chunk == 0 || p == 1) l.unit_starts.clear();  // a micro-batch's first gathers wait for nothing
                for (int layer : layers) {
                    const Program& prog = layer_program(layer);
                    emit_steps(l, prog.forward, Phase::forward, layer, mb);
                    l.layer_ends.push_back(l.frontier.front());
                }
                if (last_chunk) {
                    emit_steps(l, head_.forward, Phase::forward, -1, mb);
                } else {
                    const int to = s + 1 < p ? s + 1 : 0;
                    const int chunk = s + 1 < p ? w.chunk : w.chunk + 1;
                    send(l, to, {r, to, chunk, mb, Direction::forward}, Phase::forward, mb);
                }
                break;
            }
            case WorkItem::Kind::backward: {
                if (!last_chunk) receive(l, {r, s, w.chunk, mb, Direction::backward}, Phase::backward, mb);
                if (last_chunk) {
                    emit_steps(l, head_.backward, Phase::backward, -1, mb);
                    l.last_head_backward = l.frontier.front();
                }
                for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
                    const Program& prog = layer_program(*it);
                    if (!prog.recompute.empty()) emit_steps(l, prog.recompute, Phase::recompute, *it, mb);
                    emit_steps(l, prog.backward, Phase::backward, *it, mb);
                    l.last_backward[*it] = l.frontier.front();
                    l.layer_ends.push_back(l.frontier.front());
                }
                flush_reduce(l, {"reduce_scatter", Phase::gradient_sync, -1, mb});
                if (first_chunk) emit_steps(l, embedding_.backward, Phase::backward, -1, mb);
                if (!first_chunk) {
                    const int to = s > 0 ? s - 1 : p - 1;
                    const int chunk = s > 0 ? w.chunk : w.chunk - 1;
                    send(l, to, {r, to, chunk, mb, Direction::backward}, Phase::backward, mb);
                }
                break;
            }
            case WorkItem::Kind::weight_grad:
                for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
                    const TaskId t = add_compute(l.rank, layer_program(*it).weight_grad,
                                                 {"weight_grad", Phase::weight_grad, static_cast<std::int16_t>(*it), mb});
                    depend_all(l.frontier, t);
                    l.frontier.assign(1, t);
                    l.last_backward[*it] = t;
                }
                break;
        }
    }

    // Gradient reduction (or, with `gather`, the parameter all-gather) of stage s, bucket by bucket
    // (buckets.hpp) where it overlaps compute, else in one collective after the stage's backward.
    std::vector<TaskId> emit_gradient_sync(int s, bool gather, BucketScope scope) {
        const plan::Stage& stage = part_.stages[static_cast<std::size_t>(s)];
        const double bytes_per_param = gather ? (element_bytes(plan_.precision) >= 4 ? 4.0 : 2.0) : element_bytes(plan_.grad_precision);
        const bool overlap = gather ? plan_.overlap_param_gather : plan_.overlap_grad_reduce;
        const CollectiveKind op = gather ? CollectiveKind::all_gather
                                         : (plan_.zero == 0 ? CollectiveKind::all_reduce : CollectiveKind::reduce_scatter);
        std::vector<TaskId> out;
        for (const bool expert : {false, true}) {
            const GroupKind kind = expert ? GroupKind::expert_data : GroupKind::dense_data;
            if (sc_.groups(kind).ranks() < 2) continue;
            // Buckets fill in the order gradients complete (the last layer first); the parameter
            // gathers run in the order the forward pass needs them (Megatron-Core's
            // --overlap-param-gather dispatches the bucket groups in reverse), the first layers first.
            std::vector<Bucket> buckets = gradient_buckets(plan_, sc_.model(), part_, stage, expert, overlap, scope);
            if (gather) std::reverse(buckets.begin(), buckets.end());
            for (const Bucket& b : buckets) {
                const int first_layer = b.layers.empty() ? stage.chunks.front().front() : b.layers.back();
                const TaskLabel label{to_string(op), gather ? Phase::param_sync : Phase::gradient_sync,
                                      static_cast<std::int16_t>(b.layers.empty() ? -1 : first_layer), -1};
                // Data-parallel collectives span every replica: one task (on the first replica's
                // rank) that waits for all of them.
                const TaskId t = graph_.add(transfer(lane(s, 0).rank, kind, op, Bytes(b.parameters * bytes_per_param),
                                                     usage(kind, cost::Pattern::ring, s, -1), Stream::data, label));
                if (!gather) {
                    for (const Lane* l : lanes_of(s)) {
                        if (overlap && !b.embedding) {
                            for (int layer : b.layers) graph_.depend(l->last_backward.at(layer), t);
                            if (b.head) graph_.depend(l->last_head_backward, t);
                        } else {
                            depend_all(l->end, t);
                        }
                    }
                } else if (overlap) {
                    first_forward_waits_[first_layer].push_back(t);
                }
                out.push_back(t);
            }
        }
        return out;
    }

    // After the stage's last backward: gradient reduction, the tied-embedding reduction, the
    // optimizer step and the parameter all-gather.
    void emit_step_end(int s) {
        const int p = plan_.pp;
        // ZeRO-3 reduced the layers' gradients layer by layer; the rest are reduced here.
        const BucketScope scope = plan_.zero >= 3 ? BucketScope::outside_only : BucketScope::all;
        std::vector<TaskId> before_optimizer = emit_gradient_sync(s, false, scope);
        for (const auto& [stage, t] : zero3_reductions_) {
            if (stage == s) before_optimizer.push_back(t);
        }
        const plan::Stage& stage = part_.stages[static_cast<std::size_t>(s)];
        const double shard_dense = plan_.zero >= 1 ? part_.dense_data_group : 1;
        const double shard_expert = plan_.zero >= 1 ? part_.expert_data_group : 1;
        const Seconds step = cost::optimizer_step_time(sc_.compute(), plan_,
                                                       stage.dense_parameters / shard_dense + stage.expert_parameters / shard_expert);
        std::vector<TaskId> optimizers;
        for (Lane* l : lanes_of(s)) {
            if (p > 1 && stage.first && part_.graph().tied_output_parameters > 0) {
                // The first and last stages all-reduce the tied embedding's gradient: one exchange.
                Lane& last = lane(p - 1, l->replica);
                const Bytes b(part_.graph().tied_output_parameters * element_bytes(plan_.grad_precision));
                const TaskId t = graph_.add(transfer(l->rank, GroupKind::pipeline, CollectiveKind::send_recv, b,
                                                     pipeline_usage(0, p - 1, l->replica), Stream::pipeline,
                                                     {"all_reduce", Phase::gradient_sync, -1, -1}));
                depend_all(l->end, t);
                depend_all(last.end, t);
                l->tied_reduction = last.tied_reduction = t;
            }
            const TaskId opt = add_compute(l->rank, step, {"adam", Phase::optimizer, -1, -1});
            depend_all(l->end, opt);
            depend_all(before_optimizer, opt);
            if (l->tied_reduction >= 0) graph_.depend(l->tied_reduction, opt);
            optimizers.push_back(opt);
        }
        if (plan_.zero >= 3 || (plan_.zero >= 1 && !plan_.overlap_param_gather)) {
            for (TaskId g : emit_gradient_sync(s, true, scope)) depend_all(optimizers, g);
        }
    }

    const Scenario& sc_;
    const plan::Plan& plan_;
    const plan::Partition& part_;
    int replicas_;
    TaskGraph graph_;
    Program dense_, moe_, embedding_, head_;
    plan::ShardedParameters sharded_;
    double largest_unit_ = 0;
    std::array<std::vector<std::vector<int>>, kGroupKinds> groups_;
    std::vector<int> stage_of_;    // per rank
    std::vector<int> replica_of_;  // per rank: its data-parallel coordinate
    std::map<std::tuple<int, int, int, int>, std::int32_t> usage_index_;
    std::vector<Lane> lanes_;      // by simulated rank: replica x pp + stage
    std::map<Key, TaskId> senders_;
    std::vector<std::pair<Key, TaskId>> receivers_;
    std::map<int, std::vector<TaskId>> first_forward_waits_;
    std::vector<std::pair<int, TaskId>> zero3_reductions_;
};

}  // namespace

TaskGraph build_iteration(const Scenario& sc, bool per_rank) {
    if (per_rank && (sc.plan().ep > 1 || sc.plan().zero >= 3)) {
        throw InputError(sc.plan().origin, sc.plan().pointer + (sc.plan().ep > 1 ? "/ep" : "/zero"),
                         "per-rank simulation covers plans without expert parallelism or ZeRO-3");
    }
    return Builder(sc, per_rank).build();
}

std::vector<double> link_capacities(const Scenario& sc) {
    std::vector<double> out;
    const auto& t = sc.topology();
    out.reserve(t.link_count());
    for (std::size_t l = 0; l < t.link_count(); ++l) out.push_back(t.link(l).bandwidth.value());
    return out;
}

}  // namespace splitsim::sim
