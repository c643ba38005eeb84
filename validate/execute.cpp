// splitsim-harness execute: every rank builds its shard of the model (gpt.hpp) and runs the steps;
// rank 0 then runs the same steps on one rank (unsharded, or on the CPU backend), compares losses
// and gradient norms, and sets the measured times and memory beside the simulator's prediction
// (predict.hpp).
#include "splitsim/validate/execute.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <numeric>
#include <optional>
#include <sstream>

#include "splitsim/validate/gpt.hpp"
#include "machine.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/kernels/cpu.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"
#if SPLITSIM_HAVE_SIMULATOR
#include "predict.hpp"
#endif
#if SPLITSIM_HAVE_MPI
#include "splitsim/kernels/mpi.hpp"
#endif
#if SPLITSIM_HAVE_CUDA
#include "splitsim/kernels/cuda.hpp"
#endif
#if SPLITSIM_HAVE_NCCL
#include "splitsim/kernels/nccl.hpp"
#endif

#ifndef SPLITSIM_VERSION
#define SPLITSIM_VERSION "unknown"
#endif

namespace splitsim::validate {

Tolerance tolerance_for(const std::string& precision) {
    if (precision == "fp32") return {1e-5, 1e-4};
    if (precision == "tf32") return {2e-3, 2e-2};
    return {1e-2, 5e-2};
}

namespace {

using kernels::Backend;
using kernels::DType;
using nlohmann::json;

constexpr const char* kCommandLine = "command line";

// What the harness executes; anything else is refused with the JSON path that asks for it.
void check_supported(const model::ModelSpec& m, const std::string& model_file, const plan::Plan& p, bool cuda) {
    auto refuse = [](const std::string& file, const std::string& pointer, const std::string& why) {
        throw InputError(file, pointer, why);
    };
    if (m.moe) refuse(model_file, "/moe", "mixture-of-experts layers are not executed by the harness");
    if (m.position_embedding != model::PositionEmbedding::learned) {
        refuse(model_file, "/position_embedding", "rotary embeddings are not executed by the harness (learned positions only)");
    }
    if (m.kv_heads != m.heads) refuse(model_file, "/kv_heads", "grouped-query attention is not executed by the harness");
    if (p.cp != 1) refuse(p.origin, "/cp", "context parallelism is not executed by the harness");
    if (p.ep != 1) refuse(p.origin, "/ep", "expert parallelism is not executed by the harness");
    if (p.vpp != 1) refuse(p.origin, "/vpp", "virtual pipeline stages are not executed by the harness");
    if (p.schedule != plan::Schedule::gpipe && p.schedule != plan::Schedule::one_f_one_b) {
        refuse(p.origin, "/schedule", "the harness executes gpipe and 1f1b");
    }
    if (p.zero > 1) refuse(p.origin, "/zero", "the harness executes ZeRO 0 and 1");
    if (p.flash_attention) refuse(p.origin, "/flash_attention", "the harness has no fused attention kernel");
    if (p.overlap_grad_reduce) refuse(p.origin, "/overlap_grad_reduce", "the harness reduces gradients after the backward pass");
    if (p.overlap_param_gather) refuse(p.origin, "/overlap_param_gather", "the harness gathers parameters after the step");
    if (p.grad_precision != Precision::fp32) refuse(p.origin, "/grad_precision", "the harness keeps fp32 main gradients");
    if (!cuda && p.precision != Precision::fp32) refuse(p.origin, "/precision", "the cpu backend computes in fp32 only");
    if (cuda && p.precision != Precision::fp32 && p.precision != Precision::tf32 && p.precision != Precision::bf16) {
        refuse(p.origin, "/precision", "the cuda backend executes fp32, tf32 and bf16 (fp16 would need loss scaling)");
    }
    if (m.vocab % p.tp != 0) refuse(p.origin, "/tp", "tp must divide the vocabulary (vocabulary-parallel embedding)");
    if (p.sequence_parallel && m.seq_len % p.tp != 0) {
        refuse(p.origin, "/sequence_parallel", "tp must divide seq_len under sequence parallelism");
    }
}

DType activation_dtype(const plan::Plan& p, bool cuda) {
    return cuda && p.precision == Precision::bf16 ? DType::bf16 : DType::fp32;
}

std::unique_ptr<Backend> make_backend(bool cuda, int world_rank) {
    if (!cuda) return kernels::cpu::make_cpu_backend();
#if SPLITSIM_HAVE_CUDA
    std::string reason;
    const int visible = kernels::cuda::device_count(&reason);
    if (visible == 0) throw InputError(kCommandLine, "--backend", "cuda: " + reason);
    return kernels::cuda::make_backend(local_rank_from_environment(world_rank) % visible);
#else
    (void)world_rank;
    throw InputError(kCommandLine, "--backend", "cuda: this harness was built without CUDA (-Dcuda)");
#endif
}

std::unique_ptr<kernels::Communicator> make_group(kernels::ProcessGroup& world, Backend& backend,
                                                  kernels::GroupLayout layout, bool cuda, double timeout_s) {
    (void)backend;
    if (!cuda) {
#if SPLITSIM_HAVE_MPI
        return kernels::mpi::make_communicator(world, layout, timeout_s, cpu_waiting(world.size()));
#endif
    } else {
#if SPLITSIM_HAVE_NCCL
        Backend* local[] = {&backend};
        return kernels::nccl::make_communicator(world, local, layout, timeout_s);
#endif
    }
    (void)world;
    throw InputError(kCommandLine, "--backend", "several ranks need MPI (cpu) or NCCL (cuda) in this build");
}

// The reference as execution.json states it: which run, on which backend, in which type.
json reference_json(Reference r, bool cuda, DType dtype) {
    if (r == Reference::none) return {{"kind", "none"}, {"backend", nullptr}, {"dtype", nullptr}};
    if (r == Reference::cpu && cuda) return {{"kind", "cpu"}, {"backend", "cpu"}, {"dtype", "fp32"}};
    return {{"kind", r == Reference::cpu ? "cpu" : "unsharded"}, {"backend", cuda ? "cuda" : "cpu"},
            {"dtype", kernels::to_string(dtype)}};
}

std::string reference_text(const json& r) {
    if (r["kind"] == "none") return "none";
    return "the same seed with tp = pp = dp = 1 on rank 0, " + r["backend"].get<std::string>() + " " +
           r["dtype"].get<std::string>();
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double relative(double got, double want) { return want != 0 ? std::fabs(got - want) / std::fabs(want) : std::fabs(got); }

json model_json(const model::ModelSpec& m, const std::string& file) {
    return {{"name", m.name},
            {"file", file},
            {"layers", m.layers},
            {"hidden", m.hidden},
            {"heads", m.heads},
            {"vocab", m.vocab},
            {"seq_len", m.seq_len},
            {"ffn_hidden", m.ffn_hidden},
            {"activation", m.activation == model::Activation::swiglu ? "swiglu" : "gelu"},
            {"norm", m.norm == model::Norm::rmsnorm ? "rmsnorm" : "layernorm"},
            {"tied_embeddings", m.tied_embeddings},
            {"linear_bias", m.linear_bias},
            {"causal", m.causal},
            {"dropout", m.dropout ? "in the model file, not executed (p = 0); predicted without it" : "none"}};
}

// Per rank and step: iteration time, the phases, peak memory and, of it, the parameter buffers'
// weights, gradients and optimizer states.
constexpr std::size_t kPeak = 1 + gpt::kPhases;
constexpr std::size_t kWeights = kPeak + 1, kGradients = kPeak + 2, kOptimizer = kPeak + 3;
constexpr std::size_t kValues = kPeak + 4;
using RankValues = std::array<double, kValues>;

// The 1-, 5- and 15-minute load averages (/proc/loadavg, Linux), so a reader can see whether the
// machine was busy with more than this run; empty elsewhere.
json load_average() {
    std::ifstream in("/proc/loadavg");
    double a = 0, b = 0, c = 0;
    if (!(in >> a >> b >> c)) return json::array();
    return json::array({a, b, c});
}

std::string seconds(double s) {
    std::ostringstream o;
    if (s >= 1) o << std::fixed << std::setprecision(3) << s << " s";
    else if (s >= 1e-3) o << std::fixed << std::setprecision(2) << s * 1e3 << " ms";
    else o << std::fixed << std::setprecision(1) << s * 1e6 << " us";
    return o.str();
}

std::string mebibytes(double b) {
    std::ostringstream o;
    o << std::fixed << std::setprecision(2) << b / (1024.0 * 1024.0) << " MiB";
    return o.str();
}

// On the CPU every rank, and rank 0's reference on the CPU, share this machine's memory. What they
// hold, estimated: per parameter 18 B (fp32 master weight, gradient and two AdamW moments, a 16-bit
// working copy) in each of `copies` (data-parallel replicas, the reference), and per copy the fp32
// activations of one micro-batch through all layers, twice Korthikanti's 16-bit s b h (34 + 5 a s / h)
// per layer. A plan beyond half the machine is refused before anything is allocated.
void refuse_beyond_memory(const model::ModelSpec& m, const plan::Plan& p, double copies) {
    const double s = m.seq_len, b = p.micro_batch, h = m.hidden, a = m.heads;
    const double activations = 2.0 * s * b * h * (34.0 + 5.0 * a * s / h) * m.layers;
    require_memory(copies * (18.0 * model::parameter_count(m) + activations), "this plan's ranks and reference on the CPU",
                   "a smaller model or micro_batch", p.origin, "/");
}

}  // namespace

ExecuteResult run_execute(const ExecuteOptions& o, kernels::ProcessGroup& world) {
    const bool cuda = o.backend == "cuda";
    if (o.backend != "cpu" && !cuda) throw InputError(kCommandLine, "--backend", "cpu or cuda");
    if (o.steps < 1) throw InputError(kCommandLine, "--steps", "at least 1");
    model::ModelSpec model = model::load_model(o.model);
    plan::Plan plan = plan::load_plan(o.plan);
    validate_plan(plan, model);
    check_supported(model, o.model, plan, cuda);
    if (plan.gpus() != world.size()) {
        throw InputError(plan.origin, "", "tp x pp x dp = " + std::to_string(plan.gpus()) + " ranks but this run has " +
                                              std::to_string(world.size()) + " processes (mpirun -np)");
    }
    const Reference reference = o.reference != Reference::automatic ? o.reference
                                : (cuda && plan.gpus() == 1 ? Reference::cpu : Reference::unsharded);
    const bool reference_on_cpu = reference == Reference::cpu || (reference == Reference::unsharded && !cuda);
    const double host_copies = (cuda ? 0.0 : static_cast<double>(plan.dp)) + (reference_on_cpu ? 1.0 : 0.0);
    if (host_copies > 0) refuse_beyond_memory(model, plan, host_copies);
    // The model as executed: no dropout (the harness has no dropout kernel), and predicted so.
    model::ModelSpec executed = model;
    executed.dropout = false;
    const DType dtype = activation_dtype(plan, cuda);
    const std::string precision(to_string(plan.precision));
    const Tolerance tol = tolerance_for(precision);
    const bool rank0 = world.rank() == 0;
    std::vector<std::string> notes;
    if (model.dropout) notes.push_back("dropout is not executed (p = 0); the prediction is for the model without it");

    // The prediction first: a bad cluster fails before any step runs (on every rank alike).
    json prediction = nullptr;
#if SPLITSIM_HAVE_SIMULATOR
    std::optional<Predicted> predicted;
    if (!o.cluster.empty()) {
        predicted = predict(executed, plan, o.cluster);
        prediction = predicted->json;
    }
#else
    if (!o.cluster.empty()) notes.push_back("built without the simulator (-Dsimulator=false): no prediction");
#endif

    std::unique_ptr<Backend> backend = make_backend(cuda, world.rank());
    const gpt::Config config = gpt::make_config(executed, plan, world.rank(), dtype, o.seed);
    const gpt::Coords& at = config.at;
    const int ranks = world.size();
    const int m = plan.micro_batches();
    const double tokens = static_cast<double>(plan.global_batch) * model.seq_len;

    // ---- the sharded steps
    std::vector<std::vector<RankValues>> values(static_cast<std::size_t>(o.steps));  // [step][rank]
    std::vector<double> losses, norms;
    std::vector<int> stage_of(static_cast<std::size_t>(ranks)), tp_of(stage_of), dp_of(stage_of);
    std::size_t parameters = 0;
    {
        std::vector<std::unique_ptr<kernels::Communicator>> owned;
        gpt::Comms comms;
        // Every rank creates the same groups in the same order (each creation is collective).
        for (auto [layout, slot] : {std::pair{at.tensor, &comms.tensor}, std::pair{at.data, &comms.data},
                                    std::pair{at.pipeline, &comms.pipeline}}) {
            if (layout.size < 2) continue;
            owned.push_back(make_group(world, *backend, layout, cuda, o.timeout_s));
            *slot = owned.back().get();
        }
        gpt::Trainer trainer(config, *backend, comms);
        const auto barrier = [&] { world.quiet_barrier(); };
        for (int s = 1; s <= o.steps; ++s) {
            const gpt::StepRecord r = trainer.step(s, barrier);
            std::vector<double> mine(static_cast<std::size_t>(ranks) * kValues, 0.0);
            double* row = mine.data() + static_cast<std::size_t>(world.rank()) * kValues;
            row[0] = r.time.total;
            for (int p = 0; p < gpt::kPhases; ++p) row[1 + p] = r.time.phase[static_cast<std::size_t>(p)];
            row[kPeak] = static_cast<double>(r.peak_memory);
            row[kWeights] = static_cast<double>(r.weights_bytes);
            row[kGradients] = static_cast<double>(r.gradients_bytes);
            row[kOptimizer] = static_cast<double>(r.optimizer_bytes);
            const std::vector<double> all = world.sum(mine);
            auto& step = values[static_cast<std::size_t>(s - 1)];
            step.resize(static_cast<std::size_t>(ranks));
            for (int k = 0; k < ranks; ++k) {
                std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(k) * kValues, kValues, step[static_cast<std::size_t>(k)].begin());
            }
            const double sums_in[] = {r.loss_sum, r.grad_squares};
            const std::vector<double> sums = world.sum(sums_in);
            losses.push_back(sums[0] / tokens);
            norms.push_back(std::sqrt(sums[1]));
        }
        std::vector<double> where(static_cast<std::size_t>(ranks) * 3, 0.0);
        where[static_cast<std::size_t>(world.rank()) * 3] = at.pp;
        where[static_cast<std::size_t>(world.rank()) * 3 + 1] = at.tp;
        where[static_cast<std::size_t>(world.rank()) * 3 + 2] = at.dp;
        const std::vector<double> all = world.sum(where);
        for (int k = 0; k < ranks; ++k) {
            stage_of[static_cast<std::size_t>(k)] = static_cast<int>(all[static_cast<std::size_t>(k) * 3]);
            tp_of[static_cast<std::size_t>(k)] = static_cast<int>(all[static_cast<std::size_t>(k) * 3 + 1]);
            dp_of[static_cast<std::size_t>(k)] = static_cast<int>(all[static_cast<std::size_t>(k) * 3 + 2]);
        }
        const double count_in[] = {static_cast<double>(trainer.parameters()) * (at.dp == 0 ? 1.0 : 0.0)};
        parameters = static_cast<std::size_t>(world.sum(count_in)[0]);
    }

    // ---- the reference: the same steps on one rank (rank 0), unsharded on the run's backend or
    // on the CPU backend in fp32, while the other ranks wait quietly
    const bool checked = reference != Reference::none;
    std::vector<double> ref_losses, ref_norms;
    if (checked) {
        if (rank0) {
            plan::Plan single = plan;
            single.tp = single.pp = single.dp = 1;
            single.sequence_parallel = false;
            single.zero = 0;
            single.recompute = model::Recompute::none;
            single.schedule = plan::Schedule::one_f_one_b;
            single.first_stage_layers = single.last_stage_layers = 0;
            single.order = plan::Plan{}.order;
            std::unique_ptr<Backend> cpu_backend;
            if (reference == Reference::cpu && cuda) {
                cpu_backend = kernels::cpu::make_cpu_backend();
                single.precision = Precision::fp32;
            }
            Backend& ref_backend = cpu_backend ? *cpu_backend : *backend;
            const gpt::Config ref = gpt::make_config(executed, single, 0, cpu_backend ? DType::fp32 : dtype, o.seed);
            gpt::Trainer trainer(ref, ref_backend, gpt::Comms{});
            for (int s = 1; s <= o.steps; ++s) {
                const gpt::StepRecord r = trainer.step(s, [] {});
                ref_losses.push_back(r.loss_sum / tokens);
                ref_norms.push_back(std::sqrt(r.grad_squares));
            }
        }
        world.quiet_barrier();
    }

    ExecuteResult result;
    if (!rank0) return result;

    // ---- measured: per step the iteration (slowest rank) and the phases of the stage whose ranks
    // compute longest (forward, backward, recomputation and tensor-parallel communication)
    const int stages = plan.pp;
    std::vector<double> stage_busy(static_cast<std::size_t>(stages), 0.0);
    std::vector<int> stage_ranks(static_cast<std::size_t>(stages), 0);
    for (int k = 0; k < ranks; ++k) {
        std::vector<double> busy;
        for (const auto& step : values) {
            const RankValues& v = step[static_cast<std::size_t>(k)];
            busy.push_back(v[1 + static_cast<int>(gpt::Phase::forward)] + v[1 + static_cast<int>(gpt::Phase::backward)] +
                           v[1 + static_cast<int>(gpt::Phase::recompute)] + v[1 + static_cast<int>(gpt::Phase::tensor)]);
        }
        stage_busy[static_cast<std::size_t>(stage_of[static_cast<std::size_t>(k)])] += median(busy);
        ++stage_ranks[static_cast<std::size_t>(stage_of[static_cast<std::size_t>(k)])];
    }
    int critical = 0;
    for (int s = 0; s < stages; ++s) {
        const double mean = stage_busy[static_cast<std::size_t>(s)] / stage_ranks[static_cast<std::size_t>(s)];
        if (mean > stage_busy[static_cast<std::size_t>(critical)] / stage_ranks[static_cast<std::size_t>(critical)]) critical = s;
    }

    json steps = json::array();
    // per step: iteration (max), phases (critical stage mean), the memory of the rank with the largest peak
    std::vector<RankValues> summary;
    std::vector<int> peak_stage;  // per step: the stage of that rank
    bool passed = true;
    double worst_loss = 0, worst_norm = 0;
    for (int s = 0; s < o.steps; ++s) {
        const auto& step = values[static_cast<std::size_t>(s)];
        RankValues sum{};
        for (int k = 0; k < ranks; ++k) {
            const RankValues& v = step[static_cast<std::size_t>(k)];
            sum[0] = std::max(sum[0], v[0]);
            if (v[kPeak] > sum[kPeak]) {
                for (std::size_t i : {kPeak, kWeights, kGradients, kOptimizer}) sum[i] = v[i];
                if (peak_stage.size() == static_cast<std::size_t>(s)) peak_stage.push_back(0);
                peak_stage[static_cast<std::size_t>(s)] = stage_of[static_cast<std::size_t>(k)];
            }
            if (stage_of[static_cast<std::size_t>(k)] != critical) continue;
            for (int p = 0; p < gpt::kPhases; ++p) sum[1 + p] += v[1 + p] / stage_ranks[static_cast<std::size_t>(critical)];
        }
        summary.push_back(sum);
        json time = {{"iteration", sum[0]}};
        for (int p = 0; p < gpt::kPhases; ++p) time[std::string(gpt::to_string(static_cast<gpt::Phase>(p)))] = sum[1 + p];
        json per_rank = json::array();
        for (int k = 0; k < ranks; ++k) {
            const RankValues& v = step[static_cast<std::size_t>(k)];
            json t = {{"iteration", v[0]}};
            for (int p = 0; p < gpt::kPhases; ++p) t[std::string(gpt::to_string(static_cast<gpt::Phase>(p)))] = v[1 + p];
            per_rank.push_back({{"rank", k},
                                {"stage", stage_of[static_cast<std::size_t>(k)]},
                                {"tp", tp_of[static_cast<std::size_t>(k)]},
                                {"dp", dp_of[static_cast<std::size_t>(k)]},
                                {"time_s", t},
                                {"peak_memory_bytes", v[kPeak]},
                                {"memory_bytes", {{"weights", v[kWeights]}, {"gradients", v[kGradients]}, {"optimizer", v[kOptimizer]}}}});
        }
        json e = {{"step", s + 1},
                  {"loss", losses[static_cast<std::size_t>(s)]},
                  {"grad_checksum", norms[static_cast<std::size_t>(s)]},
                  {"time_s", time},
                  {"peak_memory_bytes", sum[kPeak]},
                  {"ranks", per_rank}};
        if (checked) {
            const double dl = relative(losses[static_cast<std::size_t>(s)], ref_losses[static_cast<std::size_t>(s)]);
            const double dn = relative(norms[static_cast<std::size_t>(s)], ref_norms[static_cast<std::size_t>(s)]);
            e["reference_loss"] = ref_losses[static_cast<std::size_t>(s)];
            e["reference_grad_checksum"] = ref_norms[static_cast<std::size_t>(s)];
            e["loss_relative_difference"] = dl;
            e["grad_checksum_relative_difference"] = dn;
            worst_loss = std::max(worst_loss, dl);
            worst_norm = std::max(worst_norm, dn);
            // NaN fails: the comparisons are written so that it does.
            if (!(dl <= tol.loss) || !(dn <= tol.grad_norm)) passed = false;
        }
        steps.push_back(e);
    }

    // ---- residuals: medians over the steps against the prediction
    auto med = [&](std::size_t index) {
        std::vector<double> v;
        for (const RankValues& r : summary) v.push_back(r[index]);
        return median(v);
    };
    auto phase = [&](gpt::Phase p) { return med(1 + static_cast<std::size_t>(p)); };
    struct Row {
        std::string component;
        bool bytes;
        double measured;
        std::optional<double> predicted;
    };
    std::vector<Row> rows = {
        {"iteration time", false, med(0), std::nullopt},
        {"forward (stage " + std::to_string(critical) + ")", false, phase(gpt::Phase::forward), std::nullopt},
        {"backward + recompute (stage " + std::to_string(critical) + ")", false,
         phase(gpt::Phase::backward) + phase(gpt::Phase::recompute), std::nullopt},
        {"tensor-parallel communication", false, phase(gpt::Phase::tensor), std::nullopt},
        {"data-parallel communication", false, phase(gpt::Phase::data), std::nullopt},
        {"pipeline bubble + send/recv", false, phase(gpt::Phase::pipeline), std::nullopt},
        {"optimizer step", false, phase(gpt::Phase::optimizer), std::nullopt},
        {"peak memory", true, med(kPeak), std::nullopt},
        {"  weights", true, med(kWeights), std::nullopt},
        {"  gradients", true, med(kGradients), std::nullopt},
        {"  optimizer states", true, med(kOptimizer), std::nullopt},
        {"  activations, temporaries, buffers", true, med(kPeak) - med(kWeights) - med(kGradients) - med(kOptimizer),
         std::nullopt},
    };
#if SPLITSIM_HAVE_SIMULATOR
    if (predicted) {
        const Predicted& p = *predicted;
        // Forward and backward of the stage measured (the prediction's critical stage is in its JSON).
        const auto c = static_cast<std::size_t>(critical);
        // Memory components of the stage whose rank peaked highest (the median step's).
        std::vector<int> stages_seen = peak_stage;
        std::nth_element(stages_seen.begin(), stages_seen.begin() + static_cast<std::ptrdiff_t>(stages_seen.size() / 2),
                         stages_seen.end());
        const auto& mem = p.stage_memory.at(static_cast<std::size_t>(stages_seen[stages_seen.size() / 2]));
        const Predicted::Breakdown& b = p.stage_breakdown.at(c);  // the measured stage's rank in the event tier
        const double values_predicted[] = {p.iteration_s, p.forward_s.at(c), p.backward_s.at(c), b.tensor_s, b.data_s,
                                           b.bubble_s + b.pipeline_s, b.optimizer_s, p.peak_memory_bytes,
                                           mem[0], mem[1], mem[2], mem[3]};
        for (std::size_t i = 0; i < rows.size(); ++i) rows[i].predicted = values_predicted[i];
    }
#endif
    json residuals = json::array();
    std::vector<double> errors;
    std::ostringstream table;
    table << std::left << std::setw(40) << "component" << std::right << std::setw(14) << "measured" << std::setw(14)
          << "predicted" << std::setw(10) << "error %" << "\n";
    for (const Row& r : rows) {
        if (r.measured == 0 && r.predicted.value_or(0) == 0) continue;  // a dimension the plan does not have
        json e = {{"component", r.component}, {"unit", r.bytes ? "bytes" : "s"}, {"measured", r.measured}};
        std::string err = "n/a";
        if (r.predicted) {
            e["predicted"] = *r.predicted;
            if (r.measured > 0) {
                const double pct = (*r.predicted - r.measured) / r.measured * 100.0;
                e["error_percent"] = pct;
                errors.push_back(std::fabs(pct));
                std::ostringstream p;
                p << std::showpos << std::fixed << std::setprecision(1) << pct;
                err = p.str();
            } else {
                e["error_percent"] = nullptr;
            }
        } else {
            e["predicted"] = nullptr;
            e["error_percent"] = nullptr;
        }
        residuals.push_back(e);
        auto show = [&](double v) { return r.bytes ? mebibytes(v) : seconds(v); };
        table << std::left << std::setw(40) << r.component << std::right << std::setw(14) << show(r.measured)
              << std::setw(14) << (r.predicted ? show(*r.predicted) : std::string("-")) << std::setw(10) << err << "\n";
    }
    const std::optional<double> median_error = errors.empty() ? std::nullopt : std::optional<double>(median(errors));

    // ---- the document
    json& doc = result.execution;
    const kernels::DeviceInfo info = backend->info();
    json libraries = info.libraries;
    if (const std::string mpi = world.library_version(); !mpi.empty()) libraries["mpi"] = mpi;
    doc["harness"] = {{"version", SPLITSIM_VERSION},
                      {"command", "execute"},
                      {"backend", o.backend},
                      {"device", info.name},
                      {"device_details", info.details},
                      {"hostname", hostname()},
                      {"timestamp", utc_timestamp()},
                      {"libraries", libraries},
                      {"ranks", ranks},
                      {"load_average", load_average()}};
    doc["model"] = model_json(model, o.model);
    doc["plan"] = plan::to_json(plan);
    doc["plan"]["file"] = o.plan;
    doc["execution"] = {{"steps", o.steps},
                        {"seed", o.seed},
                        {"dtype", kernels::to_string(dtype)},
                        {"precision", precision},
                        {"micro_batches", m},
                        {"tokens_per_step", tokens},
                        {"parameters", parameters},
                        {"optimizer",
                         {{"name", "AdamW"},
                          {"lr", config.adam.lr},
                          {"beta1", config.adam.beta1},
                          {"beta2", config.adam.beta2},
                          {"eps", config.adam.eps},
                          {"weight_decay", config.adam.weight_decay}}},
                        {"reference", reference_json(reference, cuda, dtype)},
                        {"grad_checksum", "L2 norm of the gradients the optimizer steps with (every parameter once)"},
                        {"measured_stage", critical},
                        {"notes", notes}};
    doc["steps"] = steps;
    doc["check"] = {{"tolerance", {{"loss_relative", tol.loss}, {"grad_checksum_relative", tol.grad_norm}}},
                    {"max_loss_relative_difference", checked ? json(worst_loss) : json(nullptr)},
                    {"max_grad_checksum_relative_difference", checked ? json(worst_norm) : json(nullptr)},
                    {"passed", passed}};
    doc["prediction"] = prediction;
    doc["residuals"] = residuals;
    doc["median_absolute_error_percent"] = median_error ? json(*median_error) : json(nullptr);
    result.passed = passed;

    // ---- for people
    std::ostringstream out;
    out << "execute: " << model.name << " (" << o.model << "), plan " << o.plan << ": tp " << plan.tp << " x pp "
        << plan.pp << " x dp " << plan.dp << (plan.sequence_parallel && plan.tp > 1 ? ", sequence parallel" : "")
        << ", " << plan::to_string(plan.schedule) << ", " << m << " micro-batches of " << plan.micro_batch
        << ", ZeRO " << plan.zero << ", recompute " << plan::to_string(plan.recompute) << "; " << o.backend << " "
        << kernels::to_string(dtype) << ", " << ranks << " ranks, " << parameters << " parameters\n";
    for (const std::string& n : notes) out << "note: " << n << "\n";
    out << std::left << std::setw(6) << "step" << std::right << std::setw(14) << "loss" << std::setw(14) << "reference"
        << std::setw(11) << "rel.diff" << std::setw(14) << "grad norm" << std::setw(14) << "reference" << std::setw(11)
        << "rel.diff" << std::setw(13) << "time" << "\n";
    for (int s = 0; s < o.steps; ++s) {
        const auto i = static_cast<std::size_t>(s);
        out << std::left << std::setw(6) << s + 1 << std::right << std::setprecision(8) << std::setw(14) << losses[i];
        if (checked) {
            out << std::setw(14) << ref_losses[i] << std::setw(11) << std::setprecision(2) << std::scientific
                << relative(losses[i], ref_losses[i]) << std::defaultfloat;
        } else {
            out << std::setw(25) << "-";
        }
        out << std::setprecision(8) << std::setw(14) << norms[i];
        if (checked) {
            out << std::setw(14) << ref_norms[i] << std::setw(11) << std::setprecision(2) << std::scientific
                << relative(norms[i], ref_norms[i]) << std::defaultfloat;
        } else {
            out << std::setw(25) << "-";
        }
        out << std::setw(13) << seconds(summary[i][0]) << "\n";
    }
    if (checked) {
        out << "check (" << precision << ": loss within " << tol.loss << ", gradient norm within " << tol.grad_norm
            << " relative of the reference, " << reference_text(reference_json(reference, cuda, dtype)) << "): " << (passed ? "passed" : "FAILED") << "\n";
    }
    out << "measured (medians over " << o.steps << " steps; phases of stage " << critical << ")";
#if SPLITSIM_HAVE_SIMULATOR
    if (predicted) out << " against predicted (" << prediction["cluster"].get<std::string>() << ", event tier)";
#endif
    out << ":\n" << table.str();
    if (median_error) out << "median absolute error: " << std::fixed << std::setprecision(1) << *median_error << " %\n";
    result.report = out.str();
    return result;
}

}  // namespace splitsim::validate
