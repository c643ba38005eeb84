// One rank's share of a GPT-style decoder under a plan, for splitsim-harness execute: its
// parameters (a flat fp32 buffer of master weights, gradients and AdamW moments), the forward and
// backward passes of its pipeline stage with tensor and sequence parallelism (Megatron-LM,
// Shoeybi et al. 2019, arXiv 1909.08053; Korthikanti et al. 2022, arXiv 2205.05198), and the
// gradient synchronisation and optimizer step of data parallelism with ZeRO-1 (Rajbhandari et al.
// 2020, arXiv 1910.02054).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "splitsim/kernels/backend.hpp"
#include "splitsim/kernels/comm.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::validate::gpt {

using kernels::Backend;
using kernels::Communicator;
using kernels::DType;
using kernels::Tensor;

// ---- placement -----------------------------------------------------------------------------------

// Where one rank sits: its position in each parallel dimension and the groups it communicates in,
// laid out in the plan's order (innermost first; Megatron-LM's tp-cp-ep-dp-pp by default).
struct Coords {
    int rank = 0;
    int tp = 0, dp = 0, pp = 0;           // positions
    int tp_size = 1, dp_size = 1, pp_size = 1;
    kernels::GroupLayout tensor, data, pipeline;
};
Coords coords_of(const plan::Plan& plan, int rank);

// ---- what runs ------------------------------------------------------------------------------------

// The model and the shard of it one rank runs. The reference run is the same with every degree 1.
struct Config {
    // model
    int total_layers = 0;
    int hidden = 0, heads = 0, vocab = 0, seq = 0, ffn = 0;
    bool swiglu = false, rmsnorm = false, bias = true, tied = false, causal = true, learned_positions = true;
    // plan
    bool sequence_parallel = false;
    int micro_batch = 1, global_batch = 1, micro_batches = 1;
    int zero = 0;
    model::Recompute recompute = model::Recompute::none;
    plan::Schedule schedule = plan::Schedule::one_f_one_b;
    DType activation = DType::fp32;
    bool tf32 = false;
    // this rank
    Coords at;
    std::vector<int> layers;  // the global indices of this rank's layers
    bool first = true, last = true;
    // training
    std::uint64_t seed = 1;
    kernels::Adam adam;
};
Config make_config(const model::ModelSpec& model, const plan::Plan& plan, int rank, DType activation, std::uint64_t seed);

// ---- pipeline schedules ---------------------------------------------------------------------------

// One step of a stage's schedule: the forward or backward pass of a micro-batch.
struct Slot {
    bool forward = true;
    int micro_batch = 0;
    friend bool operator==(const Slot&, const Slot&) = default;
};
// GPipe (Huang et al. 2019, arXiv 1811.06965): every forward, then every backward (last first).
// 1F1B (PipeDream-Flush, Narayanan et al. 2021, arXiv 2104.04473, Sec. 2.2.1; Megatron-LM's
// forward_backward_pipelining_without_interleaving): min(p - s - 1, m) warm-up forwards, then one
// forward and one backward alternately, then the remaining backwards.
std::vector<Slot> stage_schedule(plan::Schedule schedule, int stages, int stage, int micro_batches);

// ---- time -------------------------------------------------------------------------------------------

// What a rank's time goes to. Communication waits count where they happen: a tensor-parallel
// collective, a pipeline send or receive (which includes waiting for the neighbouring stage: the
// bubble), a data-parallel reduction.
enum class Phase { forward, backward, recompute, optimizer, tensor, pipeline, data, other };
inline constexpr int kPhases = 8;
std::string_view to_string(Phase p);

// Splits a step's time between phases with backend markers (CUDA events on the stream, the clock on
// the CPU): every switch marks the queue, and the time between two marks goes to the phase that ran.
class PhaseClock {
public:
    explicit PhaseClock(Backend& backend) : backend_(backend) {}
    void start();
    // Makes `p` the running phase; returns the one it replaces.
    Phase enter(Phase p);
    // Ends the step: waits for the queued work; seconds per phase and in all.
    struct Totals {
        std::array<double, kPhases> phase{};
        double total = 0;
    };
    Totals stop();

private:
    Backend& backend_;
    Phase running_ = Phase::other;
    std::vector<std::pair<Phase, std::unique_ptr<kernels::Marker>>> marks_;
};

// A phase for the extent of a scope.
class PhaseScope {
public:
    PhaseScope(PhaseClock& clock, Phase p) : clock_(clock), previous_(clock.enter(p)) {}
    ~PhaseScope() { clock_.enter(previous_); }
    PhaseScope(const PhaseScope&) = delete;
    PhaseScope& operator=(const PhaseScope&) = delete;

private:
    PhaseClock& clock_;
    Phase previous_;
};

// ---- the communicators of one rank --------------------------------------------------------------

struct Comms {
    Communicator* tensor = nullptr;    // null when tp = 1
    Communicator* data = nullptr;      // null when dp = 1
    Communicator* pipeline = nullptr;  // null when pp = 1
};

// ---- one rank of the model --------------------------------------------------------------------------

// What one step reports on this rank.
struct StepRecord {
    PhaseClock::Totals time;
    std::size_t peak_memory = 0;
    // Of the peak, the bytes allocated for the flat parameter buffers: weights (fp32 master and the
    // 16-bit working copy), gradients (fp32 main gradients) and optimizer states (AdamW moments);
    // the rest are activations, temporaries and buffers.
    std::size_t weights_bytes = 0;
    std::size_t gradients_bytes = 0;
    std::size_t optimizer_bytes = 0;
    double loss_sum = 0;       // sum of per-token losses over this rank's micro-batches (counted ranks only)
    double grad_squares = 0;   // sum of squared gradients over the parameters this rank counts
};

class Model;

// Runs steps of one rank. Every rank of the plan constructs one with the same configuration
// (except `at`) and calls step() together.
class Trainer {
public:
    Trainer(const Config& config, Backend& backend, Comms comms);
    ~Trainer();
    Trainer(const Trainer&) = delete;
    Trainer& operator=(const Trainer&) = delete;

    // One training step (1-based `step` for Adam's bias correction). `barrier` is called before
    // the timed part so that every rank starts together.
    StepRecord step(int step, const std::function<void()>& barrier);

    // Parameters this rank counts, so that the data-parallel rank 0s count the model once: not the
    // tied copy, replicated ones on tensor-parallel rank 0 only.
    [[nodiscard]] std::size_t parameters() const;
    [[nodiscard]] std::size_t persistent_bytes() const;

    // For tests of the model itself: the forward and backward passes of step `step`'s batch with
    // their gradient synchronisation, but no optimizer step; the loss summed over this rank's
    // tokens (counted ranks only) and the flat gradients. Weights are the flat fp32 master weights.
    struct Gradients {
        double loss_sum = 0;
        std::vector<float> flat;
    };
    Gradients gradients(int step);
    [[nodiscard]] std::vector<float> weights();
    void set_weights(const std::vector<float>& flat);
    struct Range {
        std::string name;
        std::size_t offset = 0;
        std::size_t elements = 0;
    };
    [[nodiscard]] std::vector<Range> layout() const;

private:
    std::unique_ptr<Model> model_;
};

// Synthetic data: token `position` (0..seq) of sample `sample`, uniform over the vocabulary, from
// the seed alone, so every rank and the reference draw the same sequences. Inputs are positions
// 0..seq-1, targets 1..seq.
std::int32_t token(std::uint64_t seed, std::int64_t sample, std::int64_t position, int vocab);

// Initial value of element `index` of the logical (unsharded) parameter `name`: normal(0, std)
// from the seed, the name and the index, so a shard draws exactly its part of the whole tensor.
float initial_normal(std::uint64_t seed, const std::string& name, std::uint64_t index, float std);

}  // namespace splitsim::validate::gpt
