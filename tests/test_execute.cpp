// splitsim-harness execute's model and schedules on one CPU rank: the pipeline schedules as
// Megatron-LM runs them, the placement of ranks in the plan's order, the synthetic data and
// initialisation, and the gradients of whole GPT models against central differences of their loss.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "splitsim/kernels/cpu.hpp"
#include "splitsim/validate/execute.hpp"
#include "splitsim/validate/gpt.hpp"

using namespace splitsim;
using namespace splitsim::validate;

namespace {

// Micro-batches a stage holds activations for after each slot.
int peak_in_flight(const std::vector<gpt::Slot>& slots) {
    int live = 0, peak = 0;
    for (const gpt::Slot& s : slots) {
        live += s.forward ? 1 : -1;
        peak = std::max(peak, live);
    }
    return peak;
}

model::ModelSpec micro_model(bool swiglu) {
    model::ModelSpec m;
    m.name = swiglu ? "micro llama-like" : "micro gpt";
    m.layers = 2;
    m.hidden = 32;
    m.heads = 4;
    m.kv_heads = 4;
    m.vocab = 64;
    m.seq_len = 16;
    m.ffn_hidden = swiglu ? 48 : 128;
    m.activation = swiglu ? model::Activation::swiglu : model::Activation::gelu;
    m.norm = swiglu ? model::Norm::rmsnorm : model::Norm::layernorm;
    m.tied_embeddings = !swiglu;
    m.linear_bias = !swiglu;
    m.causal = !swiglu;  // the second model also covers bidirectional attention
    m.dropout = false;
    return m;
}

plan::Plan single_rank(int micro_batch, int global_batch) {
    plan::Plan p;
    p.tp = p.pp = p.dp = 1;
    p.micro_batch = micro_batch;
    p.global_batch = global_batch;
    p.precision = Precision::fp32;
    return p;
}

double dot(const std::vector<float>& a, const std::vector<double>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
}

// Central difference of the mean loss along direction v: (L(w + h v) - L(w - h v)) / 2h, whose
// truncation error is O(h^2) (the loss is smooth: GeLU, SiLU, softmax, norms).
double directional_difference(gpt::Trainer& t, const std::vector<float>& w, const std::vector<double>& v, double h,
                              double tokens) {
    auto loss_at = [&](double step) {
        std::vector<float> moved(w.size());
        for (std::size_t i = 0; i < w.size(); ++i) moved[i] = static_cast<float>(w[i] + step * v[i]);
        t.set_weights(moved);
        return t.gradients(1).loss_sum / tokens;
    };
    const double up = loss_at(h), down = loss_at(-h);
    t.set_weights(w);
    return (up - down) / (2 * h);
}

}  // namespace

TEST_CASE("1F1B: min(p - s - 1, m) warm-up forwards, then one forward and one backward, at most p - s in flight") {
    for (int p : {1, 2, 4}) {
        for (int m : {1, 3, 8}) {
            for (int s = 0; s < p; ++s) {
                const auto slots = gpt::stage_schedule(plan::Schedule::one_f_one_b, p, s, m);
                CAPTURE(p);
                CAPTURE(m);
                CAPTURE(s);
                REQUIRE(slots.size() == static_cast<std::size_t>(2 * m));
                const int warmup = std::min(p - s - 1, m);
                for (int i = 0; i < warmup; ++i) CHECK(slots[static_cast<std::size_t>(i)] == gpt::Slot{true, i});
                if (warmup < m) CHECK(slots[static_cast<std::size_t>(warmup + 1)] == gpt::Slot{false, 0});
                // Narayanan et al. 2021, Sec. 2.2.1: stage s keeps at most p - s micro-batches.
                CHECK(peak_in_flight(slots) == std::min(p - s, m));
                // Every micro-batch runs forward before backward, backwards in order.
                int next_backward = 0;
                std::vector<bool> forwarded(static_cast<std::size_t>(m), false);
                for (const gpt::Slot& slot : slots) {
                    if (slot.forward) {
                        forwarded[static_cast<std::size_t>(slot.micro_batch)] = true;
                    } else {
                        CHECK(forwarded[static_cast<std::size_t>(slot.micro_batch)]);
                        CHECK(slot.micro_batch == next_backward++);
                    }
                }
            }
        }
    }
}

TEST_CASE("GPipe: every forward, then every backward, all m micro-batches in flight") {
    const auto slots = gpt::stage_schedule(plan::Schedule::gpipe, 4, 1, 5);
    REQUIRE(slots.size() == 10);
    for (int i = 0; i < 5; ++i) CHECK(slots[static_cast<std::size_t>(i)] == gpt::Slot{true, i});
    for (int i = 0; i < 5; ++i) CHECK(slots[static_cast<std::size_t>(5 + i)] == gpt::Slot{false, 4 - i});
    CHECK(peak_in_flight(slots) == 5);
    CHECK_THROWS_AS((void)gpt::stage_schedule(plan::Schedule::interleaved, 4, 1, 8), std::invalid_argument);
}

TEST_CASE("ranks are placed in the plan's order: tensor innermost, then data, then pipeline by default") {
    plan::Plan p;
    p.tp = 2;
    p.dp = 2;
    p.pp = 2;
    // rank = tp + 2 (dp + 2 pp)
    const gpt::Coords c = gpt::coords_of(p, 6);
    CHECK(c.tp == 0);
    CHECK(c.dp == 1);
    CHECK(c.pp == 1);
    CHECK(c.tensor.rank_at(c.tensor.group_of(6), 1) == 7);
    CHECK(c.data.rank_at(c.data.group_of(6), 0) == 4);
    CHECK(c.pipeline.rank_at(c.pipeline.group_of(6), 0) == 2);
    // Pipeline innermost instead: rank = pp + 2 (tp + 2 dp).
    p.order = {plan::Dim::pipeline, plan::Dim::tensor, plan::Dim::context, plan::Dim::expert, plan::Dim::data};
    const gpt::Coords d = gpt::coords_of(p, 6);
    CHECK(d.pp == 0);
    CHECK(d.tp == 1);
    CHECK(d.dp == 1);
}

TEST_CASE("synthetic tokens and initial weights depend on the seed and the global position only") {
    CHECK(gpt::token(7, 3, 11, 512) == gpt::token(7, 3, 11, 512));
    int differ = 0;
    for (int i = 0; i < 64; ++i) differ += gpt::token(7, 3, i, 512) != gpt::token(8, 3, i, 512) ? 1 : 0;
    CHECK(differ > 56);
    // Normal(0, 0.02): over 20,000 draws the mean is within 4 standard errors and the standard deviation close.
    double sum = 0, squares = 0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
        const double x = gpt::initial_normal(1, "layer0.qkv.weight", static_cast<std::uint64_t>(i), 0.02f);
        sum += x;
        squares += x * x;
    }
    const double mean = sum / n, std = std::sqrt(squares / n - mean * mean);
    CHECK(std::fabs(mean) < 4 * 0.02 / std::sqrt(double(n)));
    CHECK(std == doctest::Approx(0.02).epsilon(0.03));
    CHECK(gpt::initial_normal(1, "a", 5, 1.0f) != gpt::initial_normal(1, "b", 5, 1.0f));
}

TEST_CASE("tolerances per precision") {
    CHECK(tolerance_for("fp32").loss == 1e-5);
    CHECK(tolerance_for("fp32").grad_norm == 1e-4);
    CHECK(tolerance_for("bf16").loss > tolerance_for("tf32").loss);
}

TEST_CASE("whole-model gradients match central differences of the loss (GeLU/LayerNorm/tied and SwiGLU/RMSNorm/untied)") {
    for (const bool swiglu : {false, true}) {
        CAPTURE(swiglu);
        const model::ModelSpec m = micro_model(swiglu);
        const plan::Plan p = single_rank(2, 4);  // two micro-batches: gradients accumulate
        auto backend = kernels::cpu::make_cpu_backend();
        gpt::Trainer t(gpt::make_config(m, p, 0, kernels::DType::fp32, 99), *backend, gpt::Comms{});
        const double tokens = 4.0 * m.seq_len;
        const std::vector<float> w = t.weights();
        const gpt::Trainer::Gradients g = t.gradients(1);
        CHECK(g.loss_sum / tokens == doctest::Approx(std::log(64.0)).epsilon(0.05));  // about uniform at initialisation

        // Along the gradient scaled per element by a random factor in [0.5, 1.5] (not parallel to
        // it), and along each parameter's own gradient where that gradient stands out of the fp32
        // noise of the loss (about 1e-6 L / 2h = 2e-4 here): then d/dh L(w + h g_p / |g_p|) = |g_p|.
        std::mt19937 rng(5);
        std::uniform_real_distribution<double> factor(0.5, 1.5);
        std::vector<double> v(w.size());
        double norm = 0;
        for (std::size_t i = 0; i < v.size(); ++i) {
            v[i] = g.flat[i] * factor(rng);
            norm += v[i] * v[i];
        }
        for (double& x : v) x /= std::sqrt(norm);
        const double h = 1e-2;
        const double fd = directional_difference(t, w, v, h, tokens);
        // The gradients are those of the mean loss (each token's loss weighs 1 / tokens). With h =
        // 1e-2 the O(h^2) truncation is a few 1e-3 of the derivative (largest along the biases).
        CHECK(dot(g.flat, v) == doctest::Approx(fd).epsilon(1e-2));

        int checked = 0;
        for (const gpt::Trainer::Range& r : t.layout()) {
            std::vector<double> u(w.size(), 0.0);
            double n2 = 0;
            for (std::size_t i = r.offset; i < r.offset + r.elements; ++i) n2 += double(g.flat[i]) * g.flat[i];
            const double size = std::sqrt(n2);
            if (size < 2e-2) continue;
            for (std::size_t i = r.offset; i < r.offset + r.elements; ++i) u[i] = g.flat[i] / std::sqrt(n2);
            CAPTURE(r.name);
            const double fd_param = directional_difference(t, w, u, h, tokens);
            CHECK(size == doctest::Approx(fd_param).epsilon(2e-2));
            ++checked;
        }
        CHECK(checked >= 8);
    }
}
