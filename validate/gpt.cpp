#include "splitsim/validate/gpt.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/rank_layout.hpp"

namespace splitsim::validate::gpt {
namespace {

using kernels::Dims4;
using kernels::GemmShape;
using kernels::Rows;
using kernels::Softmax;
using kernels::Transfer;

constexpr float kNormEps = 1e-5f;
// Megatron-LM's init_method_std; output projections of each block use std / sqrt(2 L)
// (scaled_init_method_normal, after GPT-2's residual scaling).
constexpr float kInitStd = 0.02f;
// Parameters start at multiples of this many elements (256 bytes in fp32), so every view of the
// flat buffers is aligned as cuBLAS's fast paths want.
constexpr std::size_t kAlign = 64;

// splitmix64 (Steele, Lea & Flood 2014).
std::uint64_t mix(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// FNV-1a of a parameter's name: its identity in the random stream.
std::uint64_t name_hash(const std::string& name) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

double uniform_open(std::uint64_t bits) {  // in (0, 1]
    return (static_cast<double>(bits >> 11) + 1.0) * 0x1p-53;
}

std::size_t align(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// The random stream of one parameter.
std::uint64_t stream_of(std::uint64_t seed, const std::string& name) { return mix(seed ^ name_hash(name)); }

// Box-Muller on two uniforms drawn from (stream, index).
float normal_at(std::uint64_t stream, std::uint64_t index, float std) {
    const std::uint64_t base = mix(stream ^ index);
    const double u1 = uniform_open(base), u2 = uniform_open(mix(base));
    return static_cast<float>(std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

}  // namespace

std::int32_t token(std::uint64_t seed, std::int64_t sample, std::int64_t position, int vocab) {
    const std::uint64_t h = mix(mix(mix(seed) ^ static_cast<std::uint64_t>(sample)) ^ static_cast<std::uint64_t>(position));
    return static_cast<std::int32_t>(h % static_cast<std::uint64_t>(vocab));
}

float initial_normal(std::uint64_t seed, const std::string& name, std::uint64_t index, float std) {
    return normal_at(stream_of(seed, name), index, std);
}

Coords coords_of(const plan::Plan& p, int rank) {
    const plan::RankLayout placed(p);
    auto group = [&](plan::Dim d) { return kernels::GroupLayout{placed.size(d), placed.stride(d)}; };
    Coords c;
    c.rank = rank;
    c.tensor = group(plan::Dim::tensor);
    c.data = group(plan::Dim::data);
    c.pipeline = group(plan::Dim::pipeline);
    c.tp_size = p.tp;
    c.dp_size = p.dp;
    c.pp_size = p.pp;
    c.tp = c.tensor.position_of(rank);
    c.dp = c.data.position_of(rank);
    c.pp = c.pipeline.position_of(rank);
    return c;
}

Config make_config(const model::ModelSpec& m, const plan::Plan& p, int rank, DType activation, std::uint64_t seed) {
    Config c;
    c.total_layers = m.layers;
    c.hidden = m.hidden;
    c.heads = m.heads;
    c.vocab = m.vocab;
    c.seq = m.seq_len;
    c.ffn = m.ffn_hidden;
    c.swiglu = m.activation == model::Activation::swiglu;
    c.rmsnorm = m.norm == model::Norm::rmsnorm;
    c.bias = m.linear_bias;
    c.tied = m.tied_embeddings;
    c.causal = m.causal;
    c.learned_positions = m.position_embedding == model::PositionEmbedding::learned;
    c.sequence_parallel = p.sequence_parallel && p.tp > 1;
    c.micro_batch = p.micro_batch;
    c.global_batch = p.global_batch;
    c.micro_batches = p.micro_batches();
    c.zero = p.zero;
    c.recompute = p.recompute;
    c.schedule = p.schedule;
    c.activation = activation;
    c.tf32 = p.precision == Precision::tf32;
    c.at = coords_of(p, rank);
    const plan::Partition part = plan::partition(p, m);
    const plan::Stage& stage = part.stages.at(static_cast<std::size_t>(c.at.pp));
    c.layers = stage.chunks.front();
    c.first = stage.first;
    c.last = stage.last;
    c.seed = seed;
    return c;
}

std::vector<Slot> stage_schedule(plan::Schedule schedule, int stages, int stage, int m) {
    std::vector<Slot> out;
    if (schedule == plan::Schedule::gpipe) {
        for (int i = 0; i < m; ++i) out.push_back({true, i});
        for (int i = m - 1; i >= 0; --i) out.push_back({false, i});
        return out;
    }
    if (schedule != plan::Schedule::one_f_one_b) throw std::invalid_argument("only GPipe and 1F1B are executed");
    const int warmup = std::min(stages - stage - 1, m);
    for (int i = 0; i < warmup; ++i) out.push_back({true, i});
    for (int i = 0; i < m - warmup; ++i) {
        out.push_back({true, warmup + i});
        out.push_back({false, i});
    }
    for (int i = m - warmup; i < m; ++i) out.push_back({false, i});
    return out;
}

std::string_view to_string(Phase p) {
    switch (p) {
        case Phase::forward: return "forward";
        case Phase::backward: return "backward";
        case Phase::recompute: return "recompute";
        case Phase::optimizer: return "optimizer";
        case Phase::tensor: return "tensor";
        case Phase::pipeline: return "pipeline";
        case Phase::data: return "data";
        case Phase::other: return "other";
    }
    return "?";
}

void PhaseClock::start() {
    marks_.clear();
    running_ = Phase::other;
    marks_.emplace_back(running_, backend_.mark());
}

Phase PhaseClock::enter(Phase p) {
    const Phase previous = running_;
    if (p != running_) {
        marks_.emplace_back(p, backend_.mark());
        running_ = p;
    }
    return previous;
}

PhaseClock::Totals PhaseClock::stop() {
    marks_.emplace_back(Phase::other, backend_.mark());
    Totals t;
    for (std::size_t i = 0; i + 1 < marks_.size(); ++i) {
        t.phase[static_cast<std::size_t>(marks_[i].first)] += backend_.seconds_between(*marks_[i].second, *marks_[i + 1].second);
    }
    t.total = backend_.seconds_between(*marks_.front().second, *marks_.back().second);
    marks_.clear();
    return t;
}

// ---- the model --------------------------------------------------------------------------------------

namespace {

// A parameter of this rank: a range of the flat buffers.
struct Param {
    std::string name;
    std::size_t offset = 0;
    std::size_t elements = 0;
    bool tp_replicated = false;  // every tensor-parallel rank holds all of it (norms, row-parallel biases, positions)
    bool tied_copy = false;      // the last stage's copy of the tied word embeddings
};

struct Linear {
    Tensor w, b, dw, db;  // weights stored [out, in] (torch.nn.Linear); views of the flat buffers
};
struct Norm {
    Tensor g, b, dg, db;
};
struct Layer {
    Norm ln1;
    Linear qkv, proj;
    Norm ln2;
    Linear fc1, fc2;
};

// What a layer keeps from its forward pass for its backward pass.
struct Saved {
    Tensor x;                          // input [Tl, H] (the only tensor kept under full recomputation)
    Tensor ln1_out, ln1_mean, ln1_rstd;
    Tensor heads;                      // Q, K, V head-major [B, 3 nh, S, d]
    Tensor probs;                      // [B, nh, S, S] (not kept under selective recomputation)
    Tensor merged;                     // attention context token-major [T, Hl]
    Tensor x2, ln2_out, ln2_mean, ln2_rstd;
    Tensor h, a;                       // fc1 output, activation output
};

struct MicroBatch {
    Tensor input;     // received stage input (not the first stage)
    std::vector<Saved> layers;
    Tensor output;    // stage output to send (not the last stage)
    Tensor grad_in;   // gradient of the output, received (not the last stage)
    Tensor grad_out;  // gradient of the input, to send (not the first stage)
    // head (last stage)
    Tensor final_in, final_out, final_mean, final_rstd, logits, lse;
};

}  // namespace

class Model {
public:
    Model(const Config& c, Backend& be, Comms comms);
    StepRecord step(int step, const std::function<void()>& barrier);
    Trainer::Gradients gradients(int step);
    std::vector<float> weights();
    void set_weights(const std::vector<float>& flat);
    [[nodiscard]] std::vector<Trainer::Range> layout() const {
        std::vector<Trainer::Range> out;
        for (const Param& p : params_) out.push_back({p.name, p.offset, p.elements});
        return out;
    }
    [[nodiscard]] std::size_t parameters() const { return parameters_; }
    [[nodiscard]] std::size_t persistent_bytes() const { return persistent_; }

private:
    // ---- buffers
    Tensor act(std::int64_t n) { return be_.allocate(static_cast<std::size_t>(n), c_.activation); }
    Tensor f32(std::int64_t n) { return be_.allocate(static_cast<std::size_t>(n), DType::fp32); }
    void add_param(std::vector<float>& host, const std::string& name, std::size_t elements, bool replicated, bool tied_copy,
                   const std::function<float(std::size_t)>& value);
    Tensor weight(const Param& p) { return (working_.elements() ? working_ : master_).view(p.offset, p.elements); }
    Tensor grad(const Param& p) { return grads_.view(p.offset, p.elements); }

    // ---- tensor-parallel communication
    void all_reduce(Communicator& comm, Tensor& x, std::size_t n, Phase phase);
    Tensor gather(Tensor& local);      // [Tl, H] -> [T, H]: all-gather under sequence parallelism
    Tensor reduce(Tensor partial);     // [T, H] partial sums -> [Tl, H]: all-reduce or reduce-scatter
    // ---- blocks
    void gemm(const GemmShape& s, const Tensor& a, const Tensor& b, Tensor& c) {
        GemmShape shape = s;
        shape.tf32 = c_.tf32;
        be_.gemm(shape, a, b, c);
    }
    void norm_forward(Norm& n, std::int64_t rows, const Tensor& x, Tensor& y, Tensor& mean, Tensor& rstd);
    void norm_backward(Norm& n, std::int64_t rows, const Tensor& dy, const Tensor& x, const Tensor& mean,
                       const Tensor& rstd, Tensor& dx);
    Tensor attention_probs(Tensor& heads);
    Tensor layer_forward(std::size_t i, Tensor x, Saved& sv, bool recomputing);
    Tensor layer_backward(std::size_t i, Tensor dout, Saved& saved);
    Tensor embed(int mb);
    void embed_backward(int mb, Tensor& dx);
    void head_forward(MicroBatch& mb, int index, Tensor x);
    Tensor head_backward(MicroBatch& mb, int index);
    void forward(MicroBatch& mb, int index);
    void backward(MicroBatch& mb, int index);
    void prepare_batch(int step);
    void forward_backward();
    double loss_sum();
    void run_schedule(std::vector<MicroBatch>& mbs);
    void synchronize_gradients();
    void optimizer_step(int step);
    double counted_grad_squares();

    const Config c_;
    Backend& be_;
    Comms comms_;
    PhaseClock clock_;
    // sizes
    std::int64_t B, S, T, Sl, Tl, H, nh, d, Hl, Fl, fc1_out, V, Vl;
    int tp;
    bool sp;
    // parameters: flat fp32 master weights and gradients, AdamW moments (a 1/dp shard under ZeRO-1),
    // 16-bit working weights under bf16 training
    std::vector<Param> params_;
    std::size_t flat_ = 0, shard_ = 0, sequence_begin_ = 0, sequence_end_ = 0, parameters_ = 0, persistent_ = 0;
    std::size_t weights_bytes_ = 0, gradients_bytes_ = 0, optimizer_bytes_ = 0;
    Tensor master_, grads_, working_, exp_avg_, exp_avg_sq_;
    // ZeRO-1: this rank's shard of the reduced gradients, in place in the gradient buffer.
    [[nodiscard]] Tensor grad_shard() { return grads_.view(static_cast<std::size_t>(c_.at.dp) * shard_, shard_); }
    // views
    Tensor word_, dword_, pos_, dpos_, out_w_, dout_w_;
    std::size_t word_param_ = 0, tied_param_ = 0;
    Norm final_;
    std::vector<Layer> layers_;
    // step data
    std::vector<Tensor> tokens_, targets_, losses_;
};

Model::Model(const Config& c, Backend& be, Comms comms) : c_(c), be_(be), comms_(comms), clock_(be) {
    tp = c.at.tp_size;
    sp = c.sequence_parallel;
    B = c.micro_batch;
    S = c.seq;
    T = B * S;
    Sl = sp ? S / tp : S;
    Tl = B * Sl;
    H = c.hidden;
    nh = c.heads / tp;
    d = c.hidden / c.heads;
    Hl = nh * d;
    Fl = c.ffn / tp;
    fc1_out = (c.swiglu ? 2 : 1) * Fl;
    V = c.vocab;
    Vl = c.vocab / tp;
    if (tp > 1 && (comms.tensor == nullptr)) throw std::logic_error("tensor parallelism without a communicator");
    if (c.at.pp_size > 1 && comms.pipeline == nullptr) throw std::logic_error("pipeline parallelism without a communicator");
    if (c.at.dp_size > 1 && comms.data == nullptr) throw std::logic_error("data parallelism without a communicator");

    const std::int64_t r = c.at.tp;
    std::vector<float> host;
    const std::uint64_t seed = c.seed;
    auto normal = [seed](const std::string& name, float std) {
        return [stream = stream_of(seed, name), std](std::uint64_t global) { return normal_at(stream, global, std); };
    };
    auto constant = [](float v) { return [v](std::size_t) { return v; }; };
    const float out_std = kInitStd / std::sqrt(2.0f * static_cast<float>(c.total_layers));

    // Region of tensor-sharded parameters.
    if (c.first) {
        word_param_ = params_.size();
        const auto init = normal("embedding.word", kInitStd);
        add_param(host, "embedding.word", static_cast<std::size_t>(Vl * H), false, false,
                  [&](std::size_t i) { return init(static_cast<std::uint64_t>(r * Vl * H) + i); });
    }
    std::vector<std::array<std::size_t, 6>> layer_params(c.layers.size());
    for (std::size_t li = 0; li < c.layers.size(); ++li) {
        const std::string p = "layer" + std::to_string(c.layers[li]) + ".";
        auto& ids = layer_params[li];
        ids[0] = params_.size();
        {
            const auto init = normal(p + "qkv.weight", kInitStd);
            // Local row j: part j / Hl (q, k, v), heads of this rank: global row part H + r Hl + j % Hl.
            add_param(host, p + "qkv.weight", static_cast<std::size_t>(3 * Hl * H), false, false, [&](std::size_t i) {
                const std::int64_t row = static_cast<std::int64_t>(i) / H, col = static_cast<std::int64_t>(i) % H;
                const std::int64_t global = (row / Hl) * H + r * Hl + row % Hl;
                return init(static_cast<std::uint64_t>(global * H + col));
            });
        }
        ids[1] = params_.size();
        if (c.bias) add_param(host, p + "qkv.bias", static_cast<std::size_t>(3 * Hl), false, false, constant(0));
        ids[2] = params_.size();
        {
            const auto init = normal(p + "proj.weight", out_std);
            add_param(host, p + "proj.weight", static_cast<std::size_t>(H * Hl), false, false, [&](std::size_t i) {
                const std::int64_t row = static_cast<std::int64_t>(i) / Hl, col = static_cast<std::int64_t>(i) % Hl;
                return init(static_cast<std::uint64_t>(row * H + r * Hl + col));
            });
        }
        ids[3] = params_.size();
        {
            const auto init = normal(p + "fc1.weight", kInitStd);
            // SwiGLU: local rows [gate | up], each this rank's Fl of the F rows of its part.
            add_param(host, p + "fc1.weight", static_cast<std::size_t>(fc1_out * H), false, false, [&](std::size_t i) {
                const std::int64_t row = static_cast<std::int64_t>(i) / H, col = static_cast<std::int64_t>(i) % H;
                const std::int64_t global = (row / Fl) * c.ffn + r * Fl + row % Fl;
                return init(static_cast<std::uint64_t>(global * H + col));
            });
        }
        ids[4] = params_.size();
        if (c.bias) add_param(host, p + "fc1.bias", static_cast<std::size_t>(fc1_out), false, false, constant(0));
        ids[5] = params_.size();
        {
            const auto init = normal(p + "fc2.weight", out_std);
            add_param(host, p + "fc2.weight", static_cast<std::size_t>(H * Fl), false, false, [&](std::size_t i) {
                const std::int64_t row = static_cast<std::int64_t>(i) / Fl, col = static_cast<std::int64_t>(i) % Fl;
                return init(static_cast<std::uint64_t>(row * c.ffn + r * Fl + col));
            });
        }
    }
    if (c.last && !(c.tied && c.first)) {
        tied_param_ = params_.size();
        const std::string name = c.tied ? "embedding.word" : "output.weight";
        const auto init = normal(name, kInitStd);
        add_param(host, name, static_cast<std::size_t>(Vl * H), false, c.tied,
                  [&](std::size_t i) { return init(static_cast<std::uint64_t>(r * Vl * H) + i); });
    }
    // Region of replicated parameters, whose gradients are partial sums over the tensor-parallel
    // ranks under sequence parallelism (each rank saw only its part of the sequence).
    sequence_begin_ = flat_;
    const std::size_t pos_param = params_.size();
    if (c.first && c.learned_positions) {
        const auto init = normal("embedding.position", kInitStd);
        add_param(host, "embedding.position", static_cast<std::size_t>(S * H), true, false,
                  [&](std::size_t i) { return init(i); });
    }
    std::vector<std::array<std::size_t, 4>> norm_params(c.layers.size());
    for (std::size_t li = 0; li < c.layers.size(); ++li) {
        const std::string p = "layer" + std::to_string(c.layers[li]) + ".";
        auto& ids = norm_params[li];
        ids[0] = params_.size();
        add_param(host, p + "ln1.weight", static_cast<std::size_t>(H), true, false, constant(1));
        if (!c.rmsnorm) add_param(host, p + "ln1.bias", static_cast<std::size_t>(H), true, false, constant(0));
        ids[1] = params_.size();
        if (c.bias) add_param(host, p + "proj.bias", static_cast<std::size_t>(H), true, false, constant(0));
        ids[2] = params_.size();
        add_param(host, p + "ln2.weight", static_cast<std::size_t>(H), true, false, constant(1));
        if (!c.rmsnorm) add_param(host, p + "ln2.bias", static_cast<std::size_t>(H), true, false, constant(0));
        ids[3] = params_.size();
        if (c.bias) add_param(host, p + "fc2.bias", static_cast<std::size_t>(H), true, false, constant(0));
    }
    const std::size_t final_param = params_.size();
    if (c.last) {
        add_param(host, "final_norm.weight", static_cast<std::size_t>(H), true, false, constant(1));
        if (!c.rmsnorm) add_param(host, "final_norm.bias", static_cast<std::size_t>(H), true, false, constant(0));
    }
    sequence_end_ = flat_;

    // Flat buffers, padded to whole aligned shards of the data-parallel group.
    const std::size_t dp = static_cast<std::size_t>(c.at.dp_size);
    const std::size_t padded = (flat_ + kAlign * dp - 1) / (kAlign * dp) * (kAlign * dp);
    host.resize(padded, 0.0f);
    flat_ = padded;
    shard_ = c.zero >= 1 ? padded / dp : padded;
    // Each group's bytes as the backend's allocator counts them.
    std::size_t before = be_.memory().current;
    auto take = [&](std::size_t& into) {
        into = be_.memory().current - before;
        before = be_.memory().current;
    };
    master_ = f32(static_cast<std::int64_t>(padded));
    be_.upload(host, master_);
    if (c.activation != DType::fp32) {
        working_ = act(static_cast<std::int64_t>(padded));
        be_.convert(static_cast<std::int64_t>(padded), master_, working_);
    }
    take(weights_bytes_);
    grads_ = f32(static_cast<std::int64_t>(padded));
    be_.zero(grads_);
    take(gradients_bytes_);
    exp_avg_ = f32(static_cast<std::int64_t>(shard_));
    exp_avg_sq_ = f32(static_cast<std::int64_t>(shard_));
    be_.zero(exp_avg_);
    be_.zero(exp_avg_sq_);
    take(optimizer_bytes_);

    // Views.
    auto linear = [&](std::size_t w, std::size_t b) {
        Linear l{weight(params_[w]), {}, grad(params_[w]), {}};
        if (c.bias) {
            l.b = weight(params_[b]);
            l.db = grad(params_[b]);
        }
        return l;
    };
    auto norm = [&](std::size_t first) {
        Norm n{weight(params_[first]), {}, grad(params_[first]), {}};
        if (!c.rmsnorm) {
            n.b = weight(params_[first + 1]);
            n.db = grad(params_[first + 1]);
        }
        return n;
    };
    if (c.first) {
        word_ = weight(params_[word_param_]);
        dword_ = grad(params_[word_param_]);
        if (c.learned_positions) {
            pos_ = weight(params_[pos_param]);
            dpos_ = grad(params_[pos_param]);
        }
    }
    for (std::size_t li = 0; li < c.layers.size(); ++li) {
        const auto& a = layer_params[li];
        const auto& n = norm_params[li];
        Layer l;
        l.ln1 = norm(n[0]);
        l.qkv = linear(a[0], a[1]);
        l.proj = linear(a[2], n[1]);
        l.ln2 = norm(n[2]);
        l.fc1 = linear(a[3], a[4]);
        l.fc2 = linear(a[5], n[3]);
        layers_.push_back(std::move(l));
    }
    if (c.last) {
        final_ = norm(final_param);
        if (c.tied && c.first) {
            out_w_ = weight(params_[word_param_]);
            dout_w_ = grad(params_[word_param_]);
        } else {
            out_w_ = weight(params_[tied_param_]);
            dout_w_ = grad(params_[tied_param_]);
        }
    }
    for (const Param& p : params_) {
        if (!p.tied_copy && (!p.tp_replicated || c.at.tp == 0)) parameters_ += p.elements;
    }
    persistent_ = be_.memory().current;
}

void Model::add_param(std::vector<float>& host, const std::string& name, std::size_t elements, bool replicated,
                      bool tied_copy, const std::function<float(std::size_t)>& value) {
    Param p{name, flat_, elements, replicated, tied_copy};
    host.resize(flat_ + elements, 0.0f);
    for (std::size_t i = 0; i < elements; ++i) host[flat_ + i] = value(i);
    flat_ = align(flat_ + elements);
    host.resize(flat_, 0.0f);
    params_.push_back(std::move(p));
}

// ---- communication ------------------------------------------------------------------------------------

void Model::all_reduce(Communicator& comm, Tensor& x, std::size_t n, Phase phase) {
    PhaseScope scope(clock_, phase);
    const Tensor* send[] = {&x};
    Tensor* recv[] = {&x};
    comm.run(CollectiveKind::all_reduce, n, send, recv);
}

// Under sequence parallelism each tensor-parallel rank holds tokens [r S/tp, (r+1) S/tp) of every
// sequence, [B, S/tp, H]; the all-gather stacks them rank-major, [tp, B, S/tp, H], and a permute
// makes them [B, S, H] (Megatron-LM keeps activations sequence-major, [S, B, H], where the chunks
// are contiguous; the batch-major layout here needs the permute).
Tensor Model::gather(Tensor& local) {
    if (!sp) return local.view(0, static_cast<std::size_t>(T * H));
    Tensor stacked = act(T * H);
    {
        PhaseScope scope(clock_, Phase::tensor);
        const Tensor* send[] = {&local};
        Tensor* recv[] = {&stacked};
        comms_.tensor->run(CollectiveKind::all_gather, static_cast<std::size_t>(T * H), send, recv);
    }
    Tensor full = act(T * H);
    be_.permute_0213(Dims4{1, tp, B, Sl * H}, stacked, full);
    return full;
}

// The g operator of Megatron-LM (all-reduce), or its sequence-parallel form (reduce-scatter).
Tensor Model::reduce(Tensor partial) {
    if (tp == 1) return partial;
    if (!sp) {
        all_reduce(*comms_.tensor, partial, static_cast<std::size_t>(T * H), Phase::tensor);
        return partial;
    }
    Tensor chunks = act(T * H);
    be_.permute_0213(Dims4{1, B, tp, Sl * H}, partial, chunks);
    partial = Tensor{};
    Tensor local = act(Tl * H);
    PhaseScope scope(clock_, Phase::tensor);
    const Tensor* send[] = {&chunks};
    Tensor* recv[] = {&local};
    comms_.tensor->run(CollectiveKind::reduce_scatter, static_cast<std::size_t>(T * H), send, recv);
    return local;
}

// ---- blocks ---------------------------------------------------------------------------------------------

void Model::norm_forward(Norm& n, std::int64_t rows, const Tensor& x, Tensor& y, Tensor& mean, Tensor& rstd) {
    if (c_.rmsnorm) be_.rmsnorm_forward(Rows{rows, H}, kNormEps, x, n.g, y, rstd);
    else be_.layernorm_forward(Rows{rows, H}, kNormEps, x, n.g, n.b, y, mean, rstd);
}

// The kernels overwrite their weight gradients; the main gradients accumulate over micro-batches.
void Model::norm_backward(Norm& n, std::int64_t rows, const Tensor& dy, const Tensor& x, const Tensor& mean,
                          const Tensor& rstd, Tensor& dx) {
    Tensor dg = f32(H);
    if (c_.rmsnorm) {
        be_.rmsnorm_backward(Rows{rows, H}, dy, x, n.g, rstd, dx, dg);
    } else {
        Tensor db = f32(H);
        be_.layernorm_backward(Rows{rows, H}, dy, x, n.g, mean, rstd, dx, dg, db);
        be_.axpy(H, 1.0f, db, n.db);
    }
    be_.axpy(H, 1.0f, dg, n.dg);
}

// softmax(QK^T / sqrt(d)) under the causal mask, per sequence and head: [B, nh, S, S].
Tensor Model::attention_probs(Tensor& heads) {
    Tensor scores = act(B * nh * S * S);
    const std::int64_t block = nh * S * d;
    for (std::int64_t b = 0; b < B; ++b) {
        Tensor q = heads.view(static_cast<std::size_t>(3 * b * block), static_cast<std::size_t>(block));
        Tensor k = heads.view(static_cast<std::size_t>((3 * b + 1) * block), static_cast<std::size_t>(block));
        Tensor out = scores.view(static_cast<std::size_t>(b * nh * S * S), static_cast<std::size_t>(nh * S * S));
        gemm(GemmShape{S, S, d, nh, false, true}, q, k, out);
    }
    Tensor probs = act(B * nh * S * S);
    const Softmax sm{B * nh, S, S, 1.0f / std::sqrt(static_cast<float>(d)), c_.causal};
    be_.softmax_forward(sm, scores, probs);
    return probs;
}

Tensor Model::layer_forward(std::size_t i, Tensor x, Saved& sv, bool recomputing) {
    Layer& L = layers_[i];
    sv.x = std::move(x);
    // Attention: x2 = x + proj(attention(ln1(x))).
    sv.ln1_out = act(Tl * H);
    sv.ln1_mean = f32(Tl);
    sv.ln1_rstd = f32(Tl);
    norm_forward(L.ln1, Tl, sv.x, sv.ln1_out, sv.ln1_mean, sv.ln1_rstd);
    {
        Tensor y1 = gather(sv.ln1_out);
        Tensor qkv = act(T * 3 * Hl);
        gemm(GemmShape{T, 3 * Hl, H, 1, false, true}, y1, L.qkv.w, qkv);
        if (c_.bias) be_.bias_add(Rows{T, 3 * Hl}, L.qkv.b, qkv);
        sv.heads = act(T * 3 * Hl);
        be_.permute_0213(Dims4{B, S, 3 * nh, d}, qkv, sv.heads);
    }
    Tensor probs = attention_probs(sv.heads);
    {
        Tensor ctx = act(B * nh * S * d);
        const std::int64_t block = nh * S * d;
        for (std::int64_t b = 0; b < B; ++b) {
            Tensor p = probs.view(static_cast<std::size_t>(b * nh * S * S), static_cast<std::size_t>(nh * S * S));
            Tensor v = sv.heads.view(static_cast<std::size_t>((3 * b + 2) * block), static_cast<std::size_t>(block));
            Tensor out = ctx.view(static_cast<std::size_t>(b * block), static_cast<std::size_t>(block));
            gemm(GemmShape{S, d, S, nh}, p, v, out);
        }
        sv.merged = act(T * Hl);
        be_.permute_0213(Dims4{B, nh, S, d}, ctx, sv.merged);
    }
    if (c_.recompute != model::Recompute::selective) sv.probs = std::move(probs);
    probs = Tensor{};
    Tensor proj = act(T * H);
    gemm(GemmShape{T, H, Hl, 1, false, true}, sv.merged, L.proj.w, proj);
    Tensor x2 = reduce(std::move(proj));
    if (c_.bias) be_.bias_add(Rows{Tl, H}, L.proj.b, x2);
    be_.axpy(Tl * H, 1.0f, sv.x, x2);
    sv.x2 = std::move(x2);
    // MLP: out = x2 + fc2(act(fc1(ln2(x2)))).
    sv.ln2_out = act(Tl * H);
    sv.ln2_mean = f32(Tl);
    sv.ln2_rstd = f32(Tl);
    norm_forward(L.ln2, Tl, sv.x2, sv.ln2_out, sv.ln2_mean, sv.ln2_rstd);
    {
        Tensor y2 = gather(sv.ln2_out);
        sv.h = act(T * fc1_out);
        gemm(GemmShape{T, fc1_out, H, 1, false, true}, y2, L.fc1.w, sv.h);
        if (c_.bias) be_.bias_add(Rows{T, fc1_out}, L.fc1.b, sv.h);
    }
    sv.a = act(T * Fl);
    if (c_.swiglu) be_.swiglu_forward(Rows{T, Fl}, sv.h, sv.a);
    else be_.gelu_forward(T * Fl, sv.h, sv.a);
    Tensor o = act(T * H);
    gemm(GemmShape{T, H, Fl, 1, false, true}, sv.a, L.fc2.w, o);
    Tensor out = reduce(std::move(o));
    if (c_.bias) be_.bias_add(Rows{Tl, H}, L.fc2.b, out);
    be_.axpy(Tl * H, 1.0f, sv.x2, out);
    if (c_.recompute == model::Recompute::full && !recomputing) {
        Tensor keep = std::move(sv.x);
        sv = Saved{};
        sv.x = std::move(keep);
    }
    return out;
}

Tensor Model::layer_backward(std::size_t i, Tensor dout, Saved& saved) {
    Layer& L = layers_[i];
    Saved again;
    Saved* sv = &saved;
    if (c_.recompute == model::Recompute::full) {
        // Full recomputation (Chen et al. 2016, arXiv 1604.06174; Megatron-LM's uniform method, one
        // layer per checkpoint): the layer's forward again from its saved input, collectives included.
        PhaseScope scope(clock_, Phase::recompute);
        (void)layer_forward(i, std::move(saved.x), again, true);
        sv = &again;
    }
    // MLP.
    Tensor dx = std::move(dout);  // the residual passes the gradient through
    if (c_.bias) be_.column_sum(Rows{Tl, H}, dx, L.fc2.db);
    Tensor dh = act(T * fc1_out);
    {
        Tensor dfull = gather(dx);
        Tensor da = act(T * Fl);
        gemm(GemmShape{T, Fl, H}, dfull, L.fc2.w, da);
        gemm(GemmShape{H, Fl, T, 1, true, false, false, true}, dfull, sv->a, L.fc2.dw);
        if (c_.swiglu) be_.swiglu_backward(Rows{T, Fl}, sv->h, da, dh);
        else be_.gelu_backward(T * Fl, sv->h, da, dh);
    }
    sv->a = Tensor{};
    sv->h = Tensor{};
    if (c_.bias) be_.column_sum(Rows{T, fc1_out}, dh, L.fc1.db);
    {
        Tensor dy2 = act(T * H);
        gemm(GemmShape{T, H, fc1_out}, dh, L.fc1.w, dy2);
        {
            Tensor y2 = gather(sv->ln2_out);  // again under sequence parallelism, for the weight gradient
            gemm(GemmShape{fc1_out, H, T, 1, true, false, false, true}, dh, y2, L.fc1.dw);
        }
        dh = Tensor{};
        Tensor dy2l = reduce(std::move(dy2));
        Tensor dln = act(Tl * H);
        norm_backward(L.ln2, Tl, dy2l, sv->x2, sv->ln2_mean, sv->ln2_rstd, dln);
        be_.axpy(Tl * H, 1.0f, dln, dx);
    }
    // Attention.
    if (c_.bias) be_.column_sum(Rows{Tl, H}, dx, L.proj.db);
    Tensor dctx = act(B * nh * S * d);
    {
        Tensor dfull = gather(dx);
        Tensor dmerged = act(T * Hl);
        gemm(GemmShape{T, Hl, H}, dfull, L.proj.w, dmerged);
        gemm(GemmShape{H, Hl, T, 1, true, false, false, true}, dfull, sv->merged, L.proj.dw);
        be_.permute_0213(Dims4{B, S, nh, d}, dmerged, dctx);
    }
    Tensor probs;
    if (c_.recompute == model::Recompute::selective) {
        // Selective recomputation (Korthikanti et al. 2022, Sec. 5): the attention core again.
        PhaseScope scope(clock_, Phase::recompute);
        probs = attention_probs(sv->heads);
    } else {
        probs = std::move(sv->probs);
    }
    Tensor dheads = act(B * 3 * nh * S * d);
    const std::int64_t block = nh * S * d;
    const std::int64_t scores = nh * S * S;
    auto at = [](Tensor& t, std::int64_t offset, std::int64_t n) {
        return t.view(static_cast<std::size_t>(offset), static_cast<std::size_t>(n));
    };
    {
        Tensor dprobs = act(B * scores);
        for (std::int64_t b = 0; b < B; ++b) {
            Tensor dc = at(dctx, b * block, block);
            Tensor v = at(sv->heads, (3 * b + 2) * block, block);
            Tensor p = at(probs, b * scores, scores);
            Tensor dp = at(dprobs, b * scores, scores);
            Tensor dv = at(dheads, (3 * b + 2) * block, block);
            gemm(GemmShape{S, S, d, nh, false, true}, dc, v, dp);  // dP = dO V^T
            gemm(GemmShape{S, d, S, nh, true, false}, p, dc, dv);  // dV = P^T dO
        }
        Tensor dscores = act(B * scores);
        const Softmax sm{B * nh, S, S, 1.0f / std::sqrt(static_cast<float>(d)), c_.causal};
        be_.softmax_backward(sm, probs, dprobs, dscores);
        probs = Tensor{};
        dprobs = Tensor{};
        for (std::int64_t b = 0; b < B; ++b) {
            Tensor ds = at(dscores, b * scores, scores);
            Tensor q = at(sv->heads, 3 * b * block, block);
            Tensor k = at(sv->heads, (3 * b + 1) * block, block);
            Tensor dq = at(dheads, 3 * b * block, block);
            Tensor dk = at(dheads, (3 * b + 1) * block, block);
            gemm(GemmShape{S, d, S, nh}, ds, k, dq);              // dQ = dS K
            gemm(GemmShape{S, d, S, nh, true, false}, ds, q, dk);  // dK = dS^T Q
        }
    }
    dctx = Tensor{};
    Tensor dqkv = act(T * 3 * Hl);
    be_.permute_0213(Dims4{B, 3 * nh, S, d}, dheads, dqkv);
    dheads = Tensor{};
    if (c_.bias) be_.column_sum(Rows{T, 3 * Hl}, dqkv, L.qkv.db);
    Tensor dy1 = act(T * H);
    gemm(GemmShape{T, H, 3 * Hl}, dqkv, L.qkv.w, dy1);
    {
        Tensor y1 = gather(sv->ln1_out);
        gemm(GemmShape{3 * Hl, H, T, 1, true, false, false, true}, dqkv, y1, L.qkv.dw);
    }
    dqkv = Tensor{};
    Tensor dy1l = reduce(std::move(dy1));
    Tensor dln = act(Tl * H);
    norm_backward(L.ln1, Tl, dy1l, sv->x, sv->ln1_mean, sv->ln1_rstd, dln);
    be_.axpy(Tl * H, 1.0f, dln, dx);
    saved = Saved{};
    return dx;
}

// Vocabulary-parallel embedding (each tensor-parallel rank looks up its rows, the g operator sums
// them), then the learned positions of this rank's tokens.
Tensor Model::embed(int mb) {
    Tensor word = act(T * H);
    be_.embedding_forward(Rows{T, H}, tokens_[static_cast<std::size_t>(mb)], word_, c_.at.tp * Vl, Vl, word);
    Tensor x = reduce(std::move(word));
    if (c_.learned_positions) {
        Tensor positions = pos_.view(static_cast<std::size_t>(c_.at.tp * (sp ? Sl : 0) * H), static_cast<std::size_t>(Sl * H));
        be_.bias_add(Rows{B, Sl * H}, positions, x);
    }
    return x;
}

void Model::embed_backward(int mb, Tensor& dx) {
    if (c_.learned_positions) {
        Tensor dpositions = dpos_.view(static_cast<std::size_t>(c_.at.tp * (sp ? Sl : 0) * H), static_cast<std::size_t>(Sl * H));
        be_.column_sum(Rows{B, Sl * H}, dx, dpositions);
    }
    Tensor dfull = gather(dx);
    be_.embedding_backward(Rows{T, H}, tokens_[static_cast<std::size_t>(mb)], dfull, c_.at.tp * Vl, Vl, dword_);
}

// Final norm, output layer (the word embeddings when tied) and vocabulary-parallel cross-entropy:
// each rank's log-sum-exp over its columns is all-gathered and the target logits all-reduced
// (Megatron-LM all-reduces the maximum, the target logit and the sum of exponentials instead).
void Model::head_forward(MicroBatch& mb, int index, Tensor x) {
    mb.final_in = std::move(x);
    mb.final_out = act(Tl * H);
    mb.final_mean = f32(Tl);
    mb.final_rstd = f32(Tl);
    norm_forward(final_, Tl, mb.final_in, mb.final_out, mb.final_mean, mb.final_rstd);
    mb.logits = act(T * Vl);
    {
        Tensor y = gather(mb.final_out);
        gemm(GemmShape{T, Vl, H, 1, false, true}, y, out_w_, mb.logits);
    }
    Tensor shard_lse = f32(T), target = f32(T);
    const Tensor& targets = targets_[static_cast<std::size_t>(index)];
    be_.cross_entropy_shard_forward(Rows{T, Vl}, mb.logits, targets, c_.at.tp * Vl, shard_lse, target);
    Tensor all_lse;
    if (tp > 1) {
        all_lse = f32(tp * T);
        PhaseScope scope(clock_, Phase::tensor);
        const Tensor* send[] = {&shard_lse};
        Tensor* recv[] = {&all_lse};
        comms_.tensor->run(CollectiveKind::all_gather, static_cast<std::size_t>(tp * T), send, recv);
        all_reduce(*comms_.tensor, target, static_cast<std::size_t>(T), Phase::tensor);
    } else {
        all_lse = std::move(shard_lse);
    }
    mb.lse = f32(T);
    be_.cross_entropy_combine(T, tp, all_lse, target, mb.lse, losses_[static_cast<std::size_t>(index)]);
}

Tensor Model::head_backward(MicroBatch& mb, int index) {
    // The loss is the mean over every token of the global batch.
    const float dloss = 1.0f / static_cast<float>(static_cast<double>(c_.global_batch) * static_cast<double>(S));
    Tensor dlogits = act(T * Vl);
    be_.cross_entropy_shard_backward(Rows{T, Vl}, mb.logits, targets_[static_cast<std::size_t>(index)], c_.at.tp * Vl,
                                     mb.lse, dloss, dlogits);
    mb.logits = Tensor{};
    Tensor dy = act(T * H);
    gemm(GemmShape{T, H, Vl}, dlogits, out_w_, dy);
    {
        Tensor y = gather(mb.final_out);
        gemm(GemmShape{Vl, H, T, 1, true, false, false, true}, dlogits, y, dout_w_);
    }
    dlogits = Tensor{};
    Tensor dyl = reduce(std::move(dy));
    Tensor dx = act(Tl * H);
    norm_backward(final_, Tl, dyl, mb.final_in, mb.final_mean, mb.final_rstd, dx);
    for (Tensor* t : {&mb.final_in, &mb.final_out, &mb.final_mean, &mb.final_rstd, &mb.lse}) *t = Tensor{};
    return dx;
}

void Model::forward(MicroBatch& mb, int index) {
    Tensor x = c_.first ? embed(index) : std::move(mb.input);
    mb.layers.resize(layers_.size());
    for (std::size_t i = 0; i < layers_.size(); ++i) x = layer_forward(i, std::move(x), mb.layers[i], false);
    if (c_.last) head_forward(mb, index, std::move(x));
    else mb.output = std::move(x);
}

void Model::backward(MicroBatch& mb, int index) {
    Tensor dx = c_.last ? head_backward(mb, index) : std::move(mb.grad_in);
    for (std::size_t i = layers_.size(); i-- > 0;) dx = layer_backward(i, std::move(dx), mb.layers[i]);
    mb.layers.clear();
    if (c_.first) embed_backward(index, dx);
    else mb.grad_out = std::move(dx);
}

// Each slot first exchanges with its neighbours: the previous slot's output goes out together
// with this slot's input coming in (Megatron-LM's send_forward_recv_backward and
// send_backward_recv_forward, batched so that two stages sending to each other do not deadlock).
void Model::run_schedule(std::vector<MicroBatch>& mbs) {
    const int stage = c_.at.pp;
    const std::size_t n = static_cast<std::size_t>(Tl * H);
    Tensor outgoing;
    int outgoing_peer = 0;
    for (const Slot& slot : stage_schedule(c_.schedule, c_.at.pp_size, stage, c_.micro_batches)) {
        MicroBatch& mb = mbs[static_cast<std::size_t>(slot.micro_batch)];
        std::vector<Transfer> transfers;
        if (outgoing.elements() > 0) transfers.push_back({&outgoing, nullptr, n, outgoing_peer});
        if (slot.forward && !c_.first) {
            mb.input = act(Tl * H);
            transfers.push_back({nullptr, &mb.input, n, stage - 1});
        }
        if (!slot.forward && !c_.last) {
            mb.grad_in = act(Tl * H);
            transfers.push_back({nullptr, &mb.grad_in, n, stage + 1});
        }
        if (!transfers.empty()) {
            PhaseScope scope(clock_, Phase::pipeline);
            comms_.pipeline->exchange(transfers);
        }
        outgoing = Tensor{};
        if (slot.forward) {
            {
                PhaseScope scope(clock_, Phase::forward);
                forward(mb, slot.micro_batch);
            }
            if (!c_.last) {
                outgoing = std::move(mb.output);
                outgoing_peer = stage + 1;
            }
        } else {
            {
                PhaseScope scope(clock_, Phase::backward);
                backward(mb, slot.micro_batch);
            }
            if (!c_.first) {
                outgoing = std::move(mb.grad_out);
                outgoing_peer = stage - 1;
            }
        }
    }
    if (outgoing.elements() > 0) {
        const Transfer last{&outgoing, nullptr, n, outgoing_peer};
        PhaseScope scope(clock_, Phase::pipeline);
        comms_.pipeline->exchange({&last, 1});
    }
}

void Model::synchronize_gradients() {
    // Replicated parameters used on sequence-parallel shards: sum their partial gradients over the
    // tensor-parallel group (Megatron-LM's all-reduce of layer-norm gradients).
    if (sp && sequence_end_ > sequence_begin_) {
        Tensor region = grads_.view(sequence_begin_, sequence_end_ - sequence_begin_);
        all_reduce(*comms_.tensor, region, sequence_end_ - sequence_begin_, Phase::tensor);
    }
    // Tied embeddings on different stages: the first and last stages exchange their gradients of
    // the shared weights and both add (a two-rank all-reduce; both sums are the same two terms).
    if (c_.tied && c_.at.pp_size > 1 && (c_.first || c_.last)) {
        PhaseScope scope(clock_, Phase::data);
        Tensor& mine = c_.first ? dword_ : dout_w_;
        Tensor theirs = f32(static_cast<std::int64_t>(mine.elements()));
        const int peer = c_.first ? c_.at.pp_size - 1 : 0;
        const Transfer transfers[] = {{&mine, nullptr, mine.elements(), peer}, {nullptr, &theirs, mine.elements(), peer}};
        comms_.pipeline->exchange(transfers);
        be_.axpy(static_cast<std::int64_t>(mine.elements()), 1.0f, theirs, mine);
    }
    // Data parallelism: all-reduce (ZeRO 0), or reduce-scatter to each rank's shard (ZeRO-1), in
    // place in the gradient buffer as Megatron's distributed optimizer does (no second buffer).
    if (c_.at.dp_size > 1) {
        if (c_.zero == 0) {
            all_reduce(*comms_.data, grads_, flat_, Phase::data);
        } else {
            PhaseScope scope(clock_, Phase::data);
            Tensor shard = grad_shard();
            const Tensor* send[] = {&grads_};
            Tensor* recv[] = {&shard};
            comms_.data->run(CollectiveKind::reduce_scatter, flat_, send, recv);
        }
    }
}

void Model::optimizer_step(int step) {
    PhaseScope scope(clock_, Phase::optimizer);
    kernels::Adam adam = c_.adam;
    adam.step = step;
    if (c_.zero >= 1 && c_.at.dp_size > 1) {
        // ZeRO-1: this rank updates its shard, then every rank gathers the updated weights.
        Tensor mine = master_.view(static_cast<std::size_t>(c_.at.dp) * shard_, shard_);
        be_.adam_step(static_cast<std::int64_t>(shard_), adam, mine, grad_shard(), exp_avg_, exp_avg_sq_);
        PhaseScope gather(clock_, Phase::data);
        const Tensor* send[] = {&mine};
        Tensor* recv[] = {&master_};
        comms_.data->run(CollectiveKind::all_gather, flat_, send, recv);
    } else {
        be_.adam_step(static_cast<std::int64_t>(flat_), adam, master_, grads_, exp_avg_, exp_avg_sq_);
    }
    if (working_.elements() > 0) be_.convert(static_cast<std::int64_t>(flat_), master_, working_);
}

// Squared gradients of the parameters this rank counts, so that the sum over all ranks counts
// every parameter of the model once: replicated ones on tensor-parallel rank 0, the tied copy not
// at all, and under ZeRO-0 data-parallel rank 0 only (all hold the same sums), under ZeRO-1 each
// rank its shard.
double Model::counted_grad_squares() {
    const bool sharded = c_.zero >= 1 && c_.at.dp_size > 1;
    if (!sharded && c_.at.dp != 0) return 0.0;
    const Tensor source = sharded ? grad_shard() : grads_.view(0, grads_.elements());
    std::vector<float> host(source.elements());
    be_.download(source, host);
    const std::size_t begin = sharded ? static_cast<std::size_t>(c_.at.dp) * shard_ : 0;
    const std::size_t end = begin + host.size();
    double sum = 0;
    for (const Param& p : params_) {
        if (p.tied_copy || (p.tp_replicated && c_.at.tp != 0)) continue;
        const std::size_t lo = std::max(begin, p.offset), hi = std::min(end, p.offset + p.elements);
        for (std::size_t i = lo; i < hi; ++i) sum += static_cast<double>(host[i - begin]) * host[i - begin];
    }
    return sum;
}

// The step's data: sample g of the global batch is the data-parallel rank's g / (global / dp);
// each step draws new sequences (the sample index runs on over steps).
void Model::prepare_batch(int step) {
    const std::size_t m = static_cast<std::size_t>(c_.micro_batches);
    tokens_.clear();
    targets_.clear();
    losses_.clear();
    tokens_.resize(m);
    targets_.resize(m);
    losses_.resize(m);
    const std::int64_t per_rank = c_.global_batch / c_.at.dp_size;
    for (std::size_t i = 0; i < m; ++i) {
        std::vector<std::int32_t> in(static_cast<std::size_t>(T)), out(static_cast<std::size_t>(T));
        for (std::int64_t b = 0; b < B; ++b) {
            const std::int64_t sample = c_.at.dp * per_rank + static_cast<std::int64_t>(i) * B + b;
            const std::int64_t drawn = static_cast<std::int64_t>(step - 1) * c_.global_batch + sample;
            for (std::int64_t t = 0; t < S; ++t) {
                in[static_cast<std::size_t>(b * S + t)] = token(c_.seed, drawn, t, static_cast<int>(V));
                out[static_cast<std::size_t>(b * S + t)] = token(c_.seed, drawn, t + 1, static_cast<int>(V));
            }
        }
        if (c_.first) {
            tokens_[i] = be_.allocate(static_cast<std::size_t>(T), DType::int32);
            be_.upload(in, tokens_[i]);
        }
        if (c_.last) {
            targets_[i] = be_.allocate(static_cast<std::size_t>(T), DType::int32);
            be_.upload(out, targets_[i]);
            losses_[i] = f32(T);
        }
    }
}

void Model::forward_backward() {
    be_.zero(grads_);
    {
        std::vector<MicroBatch> mbs(static_cast<std::size_t>(c_.micro_batches));
        run_schedule(mbs);
    }
    synchronize_gradients();
}

double Model::loss_sum() {
    double sum = 0;
    if (c_.last && c_.at.tp == 0) {
        for (const Tensor& l : losses_) {
            std::vector<float> host(l.elements());
            be_.download(l, host);
            for (float v : host) sum += v;
        }
    }
    return sum;
}

StepRecord Model::step(int step, const std::function<void()>& barrier) {
    prepare_batch(step);
    be_.synchronize();
    barrier();
    be_.reset_peak_memory();

    clock_.start();
    forward_backward();
    optimizer_step(step);
    StepRecord record;
    record.time = clock_.stop();
    record.peak_memory = be_.memory().peak;
    record.weights_bytes = weights_bytes_;
    record.gradients_bytes = gradients_bytes_;
    record.optimizer_bytes = optimizer_bytes_;
    record.loss_sum = loss_sum();
    record.grad_squares = counted_grad_squares();
    tokens_.clear();
    targets_.clear();
    losses_.clear();
    return record;
}

Trainer::Gradients Model::gradients(int step) {
    prepare_batch(step);
    clock_.start();
    forward_backward();
    (void)clock_.stop();
    Trainer::Gradients g;
    g.loss_sum = loss_sum();
    g.flat.resize(grads_.elements());
    be_.download(grads_, g.flat);
    return g;
}

std::vector<float> Model::weights() {
    std::vector<float> host(master_.elements());
    be_.download(master_, host);
    return host;
}

void Model::set_weights(const std::vector<float>& flat) {
    be_.upload(flat, master_);
    if (working_.elements() > 0) be_.convert(static_cast<std::int64_t>(flat_), master_, working_);
}

Trainer::Trainer(const Config& config, Backend& backend, Comms comms)
    : model_(std::make_unique<Model>(config, backend, comms)) {}
Trainer::~Trainer() = default;
StepRecord Trainer::step(int step, const std::function<void()>& barrier) { return model_->step(step, barrier); }
std::size_t Trainer::parameters() const { return model_->parameters(); }
std::size_t Trainer::persistent_bytes() const { return model_->persistent_bytes(); }
Trainer::Gradients Trainer::gradients(int step) { return model_->gradients(step); }
std::vector<float> Trainer::weights() { return model_->weights(); }
void Trainer::set_weights(const std::vector<float>& flat) { model_->set_weights(flat); }
std::vector<Trainer::Range> Trainer::layout() const { return model_->layout(); }

}  // namespace splitsim::validate::gpt
