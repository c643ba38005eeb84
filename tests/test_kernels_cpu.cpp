// The CPU kernels (kernels/cpu): forward passes against their defining formulas written out in
// loops, every backward pass against central finite differences of a scalar loss, in double
// precision, and the fp32 instantiation (what the CPU backend runs) against the double one.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "splitsim/kernels/check_pattern.hpp"
#include "splitsim/kernels/fill.hpp"
#include "splitsim/kernels/cpu.hpp"
#include "splitsim/validate/cases.hpp"

using namespace splitsim;
using namespace splitsim::kernels;
using Vec = std::vector<double>;

namespace {

Vec random_vec(std::size_t n, double lo, double hi, unsigned seed) {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> dist(lo, hi);
    Vec v(n);
    for (double& x : v) x = dist(gen);
    return v;
}

double dot(const Vec& a, const Vec& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

// Central differences of L(theta) = loss() with respect to every entry of `theta`:
// dL/dtheta_j ~ (L(theta + h e_j) - L(theta - h e_j)) / 2h, truncation error O(h^2).
Vec numeric_gradient(Vec& theta, const std::function<double()>& loss, double h = 1e-6) {
    Vec g(theta.size());
    for (std::size_t j = 0; j < theta.size(); ++j) {
        const double keep = theta[j];
        theta[j] = keep + h;
        const double up = loss();
        theta[j] = keep - h;
        const double down = loss();
        theta[j] = keep;
        g[j] = (up - down) / (2 * h);
    }
    return g;
}

// Max |a - b| relative to max |b|: with h = 1e-6 in double the differences agree to ~1e-9.
double rel_error(const Vec& a, const Vec& b) {
    double err = 0, scale = 1e-30;
    for (std::size_t i = 0; i < a.size(); ++i) {
        err = std::max(err, std::fabs(a[i] - b[i]));
        scale = std::max(scale, std::fabs(b[i]));
    }
    return err / scale;
}

constexpr double kFdTolerance = 1e-7;

std::vector<float> to_float(const Vec& v) { return {v.begin(), v.end()}; }

}  // namespace

TEST_CASE("gemm: every transposition and batch matches the triple loop") {
    for (bool ta : {false, true}) {
        for (bool tb : {false, true}) {
            GemmShape s{3, 5, 4, 2, ta, tb, false};
            const Vec a = random_vec(static_cast<std::size_t>(s.m * s.k * s.batch), -1, 1, 1);
            const Vec b = random_vec(static_cast<std::size_t>(s.k * s.n * s.batch), -1, 1, 2);
            Vec c(static_cast<std::size_t>(s.m * s.n * s.batch));
            cpu::gemm<double>(s, a.data(), b.data(), c.data());
            for (std::int64_t q = 0; q < s.batch; ++q) {
                for (std::int64_t i = 0; i < s.m; ++i) {
                    for (std::int64_t j = 0; j < s.n; ++j) {
                        double want = 0;  // C[i][j] = sum_l op(A)[i][l] op(B)[l][j]
                        for (std::int64_t l = 0; l < s.k; ++l) {
                            const double av = a[static_cast<std::size_t>(q * s.m * s.k + (ta ? l * s.m + i : i * s.k + l))];
                            const double bv = b[static_cast<std::size_t>(q * s.k * s.n + (tb ? j * s.k + l : l * s.n + j))];
                            want += av * bv;
                        }
                        CHECK(c[static_cast<std::size_t>(q * s.m * s.n + i * s.n + j)] == doctest::Approx(want).epsilon(1e-12));
                    }
                }
            }
        }
    }
}

TEST_CASE("gemm backward: the input- and weight-gradient products the harness times are the gradients") {
    // Y = X op(W), L = sum(G * Y): dL/dX and dL/dW by the products of validate::gemm_product,
    // for weights stored n x k (linear layers, keys) and k x n (values).
    for (bool transposed : {true, false}) {
        validate::KernelCase c;
        c.kernel = validate::Kernel::gemm;
        c.gemm = {4, 3, 5, 2, false, transposed, false};
        c.b_transposed = transposed;
        const GemmShape f = validate::gemm_product(c, validate::Pass::forward);
        const GemmShape bi = validate::gemm_product(c, validate::Pass::backward_input);
        const GemmShape bw = validate::gemm_product(c, validate::Pass::backward_weight);
        Vec x = random_vec(static_cast<std::size_t>(f.m * f.k * f.batch), -1, 1, 3);
        Vec w = random_vec(static_cast<std::size_t>(f.k * f.n * f.batch), -1, 1, 4);
        const Vec g = random_vec(static_cast<std::size_t>(f.m * f.n * f.batch), -1, 1, 5);
        auto loss = [&] {
            Vec y(g.size());
            cpu::gemm<double>(f, x.data(), w.data(), y.data());
            return dot(y, g);
        };
        Vec dx(x.size()), dw(w.size());
        cpu::gemm<double>(bi, g.data(), w.data(), dx.data());  // dX = G op(W)^T
        if (transposed) cpu::gemm<double>(bw, g.data(), x.data(), dw.data());  // dW = G^T X
        else cpu::gemm<double>(bw, x.data(), g.data(), dw.data());             // dW = X^T G
        CAPTURE(transposed);
        CHECK(rel_error(dx, numeric_gradient(x, loss)) < kFdTolerance);
        CHECK(rel_error(dw, numeric_gradient(w, loss)) < kFdTolerance);
    }
}

TEST_CASE("layernorm: forward normalises each row, backward matches finite differences") {
    const Rows s{3, 7};
    const double eps = 1e-5;
    Vec x = random_vec(21, -2, 2, 6), gamma = random_vec(7, 0.5, 1.5, 7), beta = random_vec(7, -0.5, 0.5, 8);
    Vec y(21), mean(3), rstd(3);
    cpu::layernorm_forward<double>(s, eps, x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data());
    for (int r = 0; r < 3; ++r) {
        double mu = 0, var = 0;
        for (int c = 0; c < 7; ++c) mu += x[r * 7 + c] / 7;
        for (int c = 0; c < 7; ++c) var += (x[r * 7 + c] - mu) * (x[r * 7 + c] - mu) / 7;
        CHECK(mean[r] == doctest::Approx(mu));
        CHECK(rstd[r] == doctest::Approx(1 / std::sqrt(var + eps)));
        for (int c = 0; c < 7; ++c) {
            CHECK(y[r * 7 + c] == doctest::Approx((x[r * 7 + c] - mu) / std::sqrt(var + eps) * gamma[c] + beta[c]));
        }
    }
    const Vec g = random_vec(21, -1, 1, 9);
    auto loss = [&] {
        Vec yy(21), m(3), rs(3);
        cpu::layernorm_forward<double>(s, eps, x.data(), gamma.data(), beta.data(), yy.data(), m.data(), rs.data());
        return dot(yy, g);
    };
    Vec dx(21), dgamma(7), dbeta(7);
    cpu::layernorm_backward<double>(s, g.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dgamma.data(), dbeta.data());
    CHECK(rel_error(dx, numeric_gradient(x, loss)) < kFdTolerance);
    CHECK(rel_error(dgamma, numeric_gradient(gamma, loss)) < kFdTolerance);
    CHECK(rel_error(dbeta, numeric_gradient(beta, loss)) < kFdTolerance);
}

TEST_CASE("rmsnorm: forward scales by the root mean square, backward matches finite differences") {
    const Rows s{4, 5};
    const double eps = 1e-6;
    Vec x = random_vec(20, -2, 2, 10), gamma = random_vec(5, 0.5, 1.5, 11);
    Vec y(20), rstd(4);
    cpu::rmsnorm_forward<double>(s, eps, x.data(), gamma.data(), y.data(), rstd.data());
    for (int r = 0; r < 4; ++r) {
        double ms = 0;
        for (int c = 0; c < 5; ++c) ms += x[r * 5 + c] * x[r * 5 + c] / 5;
        for (int c = 0; c < 5; ++c) CHECK(y[r * 5 + c] == doctest::Approx(x[r * 5 + c] / std::sqrt(ms + eps) * gamma[c]));
    }
    const Vec g = random_vec(20, -1, 1, 12);
    auto loss = [&] {
        Vec yy(20), rs(4);
        cpu::rmsnorm_forward<double>(s, eps, x.data(), gamma.data(), yy.data(), rs.data());
        return dot(yy, g);
    };
    Vec dx(20), dgamma(5);
    cpu::rmsnorm_backward<double>(s, g.data(), x.data(), gamma.data(), rstd.data(), dx.data(), dgamma.data());
    CHECK(rel_error(dx, numeric_gradient(x, loss)) < kFdTolerance);
    CHECK(rel_error(dgamma, numeric_gradient(gamma, loss)) < kFdTolerance);
}

TEST_CASE("softmax: rows sum to one, the causal mask hides later keys, backward matches finite differences") {
    for (bool causal : {false, true}) {
        // Three queries over five keys: query q sees keys j <= q + 2 under the mask.
        const Softmax s{2, 3, 5, 0.5f, causal};
        Vec x = random_vec(30, -3, 3, 13), y(30);
        cpu::softmax_forward<double>(s, x.data(), y.data());
        for (int r = 0; r < 6; ++r) {
            const int visible = causal ? r % 3 + 3 : 5;
            CHECK(s.visible_keys(r) == visible);
            double z = 0, sum = 0;
            for (int j = 0; j < visible; ++j) z += std::exp(0.5 * x[r * 5 + j]);
            for (int j = 0; j < 5; ++j) {
                const double want = j < visible ? std::exp(0.5 * x[r * 5 + j]) / z : 0.0;
                CHECK(y[r * 5 + j] == doctest::Approx(want));
                sum += y[r * 5 + j];
            }
            CHECK(sum == doctest::Approx(1.0));
        }
        const Vec g = random_vec(30, -1, 1, 14);
        auto loss = [&] {
            Vec yy(30);
            cpu::softmax_forward<double>(s, x.data(), yy.data());
            return dot(yy, g);
        };
        Vec dx(30);
        cpu::softmax_backward<double>(s, y.data(), g.data(), dx.data());
        CAPTURE(causal);
        CHECK(rel_error(dx, numeric_gradient(x, loss)) < kFdTolerance);
    }
}

TEST_CASE("gelu: the tanh form of Hendrycks & Gimpel, backward matches finite differences") {
    Vec x = random_vec(16, -4, 4, 15), y(16);
    cpu::gelu_forward<double>(16, x.data(), y.data());
    for (int i = 0; i < 16; ++i) {
        const double v = x[i];
        // GeLU(x) ~ x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  (arXiv 1606.08415, Sec. 2)
        CHECK(y[i] == doctest::Approx(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))));
        // ... which stays within 1e-3 of the exact x Phi(x).
        CHECK(std::fabs(y[i] - 0.5 * v * std::erfc(-v / std::sqrt(2.0))) < 1e-3);
    }
    const Vec g = random_vec(16, -1, 1, 16);
    auto loss = [&] {
        Vec yy(16);
        cpu::gelu_forward<double>(16, x.data(), yy.data());
        return dot(yy, g);
    };
    Vec dx(16);
    cpu::gelu_backward<double>(16, x.data(), g.data(), dx.data());
    CHECK(rel_error(dx, numeric_gradient(x, loss)) < kFdTolerance);
}

TEST_CASE("swiglu: silu(gate) * up, backward matches finite differences") {
    const Rows s{3, 4};  // input 3 x 8 = [gate | up]
    Vec x = random_vec(24, -3, 3, 17), y(12);
    cpu::swiglu_forward<double>(s, x.data(), y.data());
    for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 4; ++c) {
            const double gate = x[r * 8 + c], up = x[r * 8 + 4 + c];
            CHECK(y[r * 4 + c] == doctest::Approx(gate / (1 + std::exp(-gate)) * up));
        }
    }
    const Vec g = random_vec(12, -1, 1, 18);
    auto loss = [&] {
        Vec yy(12);
        cpu::swiglu_forward<double>(s, x.data(), yy.data());
        return dot(yy, g);
    };
    Vec dx(24);
    cpu::swiglu_backward<double>(s, x.data(), g.data(), dx.data());
    CHECK(rel_error(dx, numeric_gradient(x, loss)) < kFdTolerance);
}

TEST_CASE("cross-entropy: -log softmax at the target, backward matches finite differences") {
    const Rows s{4, 6};
    Vec logits = random_vec(24, -4, 4, 19);
    const std::vector<std::int32_t> targets = {0, 5, 2, 3};
    Vec loss(4), lse(4);
    cpu::cross_entropy_forward<double>(s, logits.data(), targets.data(), loss.data(), lse.data());
    for (int r = 0; r < 4; ++r) {
        double z = 0;
        for (int c = 0; c < 6; ++c) z += std::exp(logits[r * 6 + c]);
        CHECK(lse[r] == doctest::Approx(std::log(z)));
        CHECK(loss[r] == doctest::Approx(-std::log(std::exp(logits[r * 6 + targets[r]]) / z)));
    }
    const Vec dloss = random_vec(4, 0.5, 1.5, 20);
    auto total = [&] {
        Vec l(4), ls(4);
        cpu::cross_entropy_forward<double>(s, logits.data(), targets.data(), l.data(), ls.data());
        return dot(l, dloss);
    };
    Vec dlogits(24);
    cpu::cross_entropy_backward<double>(s, logits.data(), targets.data(), lse.data(), dloss.data(), dlogits.data());
    CHECK(rel_error(dlogits, numeric_gradient(logits, total)) < kFdTolerance);
}

TEST_CASE("adam: one AdamW step by hand (Loshchilov & Hutter, Algorithm 2, PyTorch's form)") {
    Adam a;
    a.lr = 0.1f;
    a.beta1 = 0.9f;
    a.beta2 = 0.99f;
    a.eps = 1e-8f;
    a.weight_decay = 0.5f;
    a.step = 2;
    double p = 1.0, g = 0.2, m = 0.1, v = 0.01;
    cpu::adam_step<double>(1, a, &p, &g, &m, &v);
    const double b1 = double(a.beta1), b2 = double(a.beta2), lr = double(a.lr), wd = double(a.weight_decay);
    const double m2 = b1 * 0.1 + (1 - b1) * 0.2;          // 0.11
    const double v2 = b2 * 0.01 + (1 - b2) * 0.04;        // 0.0103
    const double mhat = m2 / (1 - b1 * b1), vhat = v2 / (1 - b2 * b2);
    const double want = 1.0 * (1 - lr * wd) - lr * mhat / (std::sqrt(vhat) + double(a.eps));
    CHECK(m == doctest::Approx(m2).epsilon(1e-7));
    CHECK(v == doctest::Approx(v2).epsilon(1e-7));
    CHECK(p == doctest::Approx(want).epsilon(1e-7));
}

TEST_CASE("the fp32 kernels the CPU backend runs agree with the double references") {
    const Rows s{8, 32};
    const Vec x = random_vec(256, -2, 2, 21), gamma = random_vec(32, 0.5, 1.5, 22), beta = random_vec(32, -1, 1, 23);
    Vec yd(256), md(8), rd(8);
    cpu::layernorm_forward<double>(s, 1e-5, x.data(), gamma.data(), beta.data(), yd.data(), md.data(), rd.data());
    const auto xf = to_float(x), gf = to_float(gamma), bf = to_float(beta);
    std::vector<float> yf(256), mf(8), rf(8);
    cpu::layernorm_forward<float>(s, 1e-5f, xf.data(), gf.data(), bf.data(), yf.data(), mf.data(), rf.data());
    for (std::size_t i = 0; i < 256; ++i) CHECK(yf[i] == doctest::Approx(yd[i]).epsilon(1e-5));

    const GemmShape gs{16, 24, 32, 1, false, true, false};
    const Vec a = random_vec(512, -1, 1, 24), b = random_vec(768, -1, 1, 25);
    Vec cd(384);
    cpu::gemm<double>(gs, a.data(), b.data(), cd.data());
    const auto af = to_float(a), bff = to_float(b);
    std::vector<float> cf(384);
    cpu::gemm<float>(gs, af.data(), bff.data(), cf.data());
    for (std::size_t i = 0; i < 384; ++i) CHECK(cf[i] == doctest::Approx(cd[i]).epsilon(1e-5));
}

TEST_CASE("the CPU backend: fp32 host tensors, its kernels, its timer and the collective pattern") {
    auto be = cpu::make_cpu_backend();
    CHECK(be->name() == "cpu");
    CHECK(be->supports(DType::fp32));
    CHECK_FALSE(be->supports(DType::bf16));
    CHECK(be->info().libraries.at("eigen") == "3.4.0");

    Tensor x = be->allocate(6, DType::fp32), y = be->allocate(6, DType::fp32);
    const std::vector<float> in = {-1, 0, 1, 2, 3, 4};
    be->upload(in, x);
    be->gelu_forward(6, x, y);
    std::vector<float> out(6);
    be->download(y, out);
    std::vector<float> want(6);
    cpu::gelu_forward<float>(6, in.data(), want.data());
    for (std::size_t i = 0; i < 6; ++i) CHECK(out[i] == want[i]);

    const Timing timing = be->time([&] { be->gelu_forward(6, x, y); }, 2, 5);
    CHECK(timing.seconds.size() == 5);
    CHECK(timing.runs_per_repetition == 1);
    CHECK(timing.method == "steady-clock");
    for (double t : timing.seconds) CHECK(t >= 0);

    // fill_uniform writes fill.hpp's values; download_samples reads back runs of elements.
    Tensor filled = be->allocate(1000, DType::fp32);
    be->fill_uniform(filled, 77, -2.0f, 3.0f);
    const std::vector<std::int64_t> offsets = {0, 500, 997};
    std::vector<float> samples(9);
    be->download_samples(filled, offsets, 3, samples);
    for (std::size_t i = 0; i < offsets.size(); ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            const float v = samples[i * 3 + j];
            CHECK(v == uniform_value(77, static_cast<std::uint64_t>(offsets[i]) + j, -2.0f, 3.0f));
            CHECK(v >= -2.0f);
            CHECK(v < 3.0f);
        }
    }
    const std::vector<std::int64_t> past_the_end = {998};
    CHECK_THROWS_AS(be->download_samples(filled, past_the_end, 3, std::span<float>(samples).first(3)), std::invalid_argument);

    // fill_pattern and count_mismatches agree with check_pattern.hpp; a zeroed buffer fails.
    Tensor buf = be->allocate(12, DType::fp32);
    be->fill_pattern(buf, 12, 0);
    CHECK(be->count_mismatches(buf, 12, CollectiveKind::broadcast, 2, 1) == 0);  // broadcast receives position 0's data
    be->zero(buf);
    CHECK(be->count_mismatches(buf, 12, CollectiveKind::broadcast, 2, 1) == 12);

    Tensor bf16 = be->allocate(4, DType::bf16);
    CHECK_THROWS_AS(be->gelu_forward(4, bf16, bf16), std::invalid_argument);
}

TEST_CASE("test data: SplitMix64 by index, uniform values, and rounding to fp16 and bf16 as CUDA stores them") {
    // The counter-based form equals the sequential generator (state += golden gamma, then mix).
    std::uint64_t state = 42;
    for (std::uint64_t i = 0; i < 5; ++i) {
        state += 0x9e3779b97f4a7c15ULL;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        CHECK(splitmix64(42, i) == (z ^ (z >> 31)));
    }
    CHECK(splitmix64(0, 0) == 0xe220a8397b1dcdafULL);  // SplitMix64 seeded with 0: its first output
    for (std::uint64_t i = 0; i < 1000; ++i) {
        const float v = uniform_value(9, i, -0.5f, 0.25f);
        CHECK(v >= -0.5f);
        CHECK(v < 0.25f);
    }

    // Round to nearest, ties to even: 1 + 2^-8 lies halfway between bf16's 1 and 1 + 2^-7.
    CHECK(stored_value(DType::bf16, 1.0f + 0x1p-8f) == 1.0f);
    CHECK(stored_value(DType::bf16, 1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f);
    CHECK(stored_value(DType::bf16, -(1.0f + 0x1p-8f + 0x1p-20f)) == -(1.0f + 0x1p-7f));
    CHECK(stored_value(DType::bf16, 0x1.fep127f) == 0x1.fep127f);                 // bf16's largest
    CHECK(std::isinf(stored_value(DType::bf16, 0x1.fffffep127f)));                // rounds past it
    CHECK(stored_value(DType::bf16, 0x1p-133f) == 0x1p-133f);                     // smallest subnormal
    CHECK(stored_value(DType::bf16, 0x1p-134f) == 0.0f);                          // halfway: to even (0)
    CHECK(stored_value(DType::fp16, 1.0f + 0x1p-11f) == 1.0f);
    CHECK(stored_value(DType::fp16, 1.0f + 3 * 0x1p-11f) == 1.0f + 0x1p-9f);
    CHECK(stored_value(DType::fp16, 65504.0f) == 65504.0f);                       // fp16's largest
    CHECK(stored_value(DType::fp16, 65519.0f) == 65504.0f);
    CHECK(std::isinf(stored_value(DType::fp16, 65520.0f)));                       // halfway to 2^16: overflows
    CHECK(stored_value(DType::fp16, 0x1p-25f) == 0.0f);                           // halfway to 2^-24: to even
    CHECK(stored_value(DType::fp16, 3 * 0x1p-25f) == 0x1p-23f);
    CHECK(stored_value(DType::fp16, 0x1.8p-14f) == 0x1.8p-14f);                   // normal, exact
    CHECK(stored_value(DType::fp32, 0.1f) == 0.1f);
}

TEST_CASE("gemm with accumulate adds the product to C (gradient accumulation into main gradients)") {
    const GemmShape s{3, 4, 5, 2, true, false, false, true};
    const Vec a = random_vec(30, -1, 1, 31), b = random_vec(40, -1, 1, 32);
    Vec c0 = random_vec(24, -1, 1, 33);
    Vec c = c0, product(24);
    cpu::gemm<double>(s, a.data(), b.data(), c.data());
    GemmShape plain = s;
    plain.accumulate = false;
    cpu::gemm<double>(plain, a.data(), b.data(), product.data());
    for (std::size_t i = 0; i < c.size(); ++i) CHECK(c[i] == doctest::Approx(c0[i] + product[i]).epsilon(1e-12));
}

TEST_CASE("axpy, bias_add and column_sum: y += a x, y[r] += bias, sum += sum over rows") {
    const Vec x = random_vec(12, -1, 1, 34);
    Vec y = random_vec(12, -1, 1, 35);
    const Vec y0 = y;
    cpu::axpy<double>(12, 0.5, x.data(), y.data());
    for (std::size_t i = 0; i < 12; ++i) CHECK(y[i] == doctest::Approx(y0[i] + 0.5 * x[i]));

    const Rows s{3, 4};
    const Vec bias = random_vec(4, -1, 1, 36);
    Vec z = y0;
    cpu::bias_add<double>(s, bias.data(), z.data());
    for (std::size_t i = 0; i < 12; ++i) CHECK(z[i] == doctest::Approx(y0[i] + bias[i % 4]));

    Vec sums = {1, 2, 3, 4};
    cpu::column_sum<double>(s, x.data(), sums.data());
    for (std::size_t c = 0; c < 4; ++c) CHECK(sums[c] == doctest::Approx(double(c + 1) + x[c] + x[4 + c] + x[8 + c]));
}

TEST_CASE("permute_0213 swaps the middle axes and is undone by the transposed shape") {
    const Dims4 d{2, 3, 4, 5};
    const Vec x = random_vec(120, -1, 1, 37);
    Vec y(120), back(120);
    cpu::permute_0213<double>(d, x.data(), y.data());
    for (std::int64_t a = 0; a < 2; ++a)
        for (std::int64_t b = 0; b < 3; ++b)
            for (std::int64_t c = 0; c < 4; ++c)
                for (std::int64_t e = 0; e < 5; ++e)
                    CHECK(y[static_cast<std::size_t>(((a * 4 + c) * 3 + b) * 5 + e)] ==
                          x[static_cast<std::size_t>(((a * 3 + b) * 4 + c) * 5 + e)]);
    cpu::permute_0213<double>(Dims4{2, 4, 3, 5}, y.data(), back.data());
    CHECK(back == x);
}

TEST_CASE("embedding: a vocabulary shard looks up its rows, zero elsewhere; backward is its adjoint") {
    const Rows s{5, 3};
    const std::vector<std::int32_t> tokens = {0, 4, 2, 5, 4};
    const Vec table = random_vec(9, -1, 1, 38);  // rows 3..5 of a vocabulary of 6
    Vec y(15);
    cpu::embedding_forward<double>(s, tokens.data(), table.data(), 3, 3, y.data());
    for (std::size_t r = 0; r < 5; ++r) {
        const int t = tokens[r] - 3;
        for (std::size_t c = 0; c < 3; ++c) CHECK(y[r * 3 + c] == (t >= 0 ? table[static_cast<std::size_t>(t) * 3 + c] : 0.0));
    }
    // The lookup is linear in the table, E(T), so its gradient is the adjoint: <E(T), g> = <T, E^T(g)>.
    const Vec g = random_vec(15, -1, 1, 39);
    Vec dtable(9, 0.0);
    cpu::embedding_backward<double>(s, tokens.data(), g.data(), 3, 3, dtable.data());
    CHECK(dot(y, g) == doctest::Approx(dot(table, dtable)).epsilon(1e-12));
}

TEST_CASE("vocabulary-parallel cross-entropy over shards equals the whole-vocabulary kernels") {
    const Rows whole{4, 10};
    const Vec logits = random_vec(40, -4, 4, 40);
    const std::vector<std::int32_t> targets = {0, 9, 4, 5};
    Vec loss(4), lse(4);
    cpu::cross_entropy_forward<double>(whole, logits.data(), targets.data(), loss.data(), lse.data());
    // Two shards of 5 columns each, as two tensor-parallel ranks hold them.
    Vec shard_lse(8), target_logit(4, 0.0);
    std::vector<Vec> shards(2, Vec(20));
    for (int p = 0; p < 2; ++p) {
        for (std::size_t r = 0; r < 4; ++r)
            for (std::size_t c = 0; c < 5; ++c) shards[p][r * 5 + c] = logits[r * 10 + static_cast<std::size_t>(p) * 5 + c];
        Vec part_target(4);
        cpu::cross_entropy_shard_forward<double>(Rows{4, 5}, shards[p].data(), targets.data(), p * 5,
                                                 shard_lse.data() + p * 4, part_target.data());
        for (std::size_t r = 0; r < 4; ++r) target_logit[r] += part_target[r];  // the all-reduce
    }
    Vec lse2(4), loss2(4);
    cpu::cross_entropy_combine<double>(4, 2, shard_lse.data(), target_logit.data(), lse2.data(), loss2.data());
    for (std::size_t r = 0; r < 4; ++r) {
        CHECK(lse2[r] == doctest::Approx(lse[r]).epsilon(1e-12));
        CHECK(loss2[r] == doctest::Approx(loss[r]).epsilon(1e-12));
    }
    const Vec dloss(4, 0.25);
    Vec dwhole(40);
    cpu::cross_entropy_backward<double>(whole, logits.data(), targets.data(), lse.data(), dloss.data(), dwhole.data());
    for (int p = 0; p < 2; ++p) {
        Vec d(20);
        cpu::cross_entropy_shard_backward<double>(Rows{4, 5}, shards[p].data(), targets.data(), p * 5, lse2.data(), 0.25,
                                                  d.data());
        for (std::size_t r = 0; r < 4; ++r)
            for (std::size_t c = 0; c < 5; ++c)
                CHECK(d[r * 5 + c] == doctest::Approx(dwhole[r * 10 + static_cast<std::size_t>(p) * 5 + c]).epsilon(1e-12));
    }
}

TEST_CASE("the CPU backend: views lend parts of a tensor, memory is tallied, markers measure time") {
    auto be = cpu::make_cpu_backend();
    const std::size_t before = be->memory().current;
    {
        Tensor t = be->allocate(100, DType::fp32);  // not initialised, as a framework's allocator
        CHECK(be->memory().current == before + 400);
        be->zero(t);
        Tensor v = t.view(10, 20);
        CHECK(be->memory().current == before + 400);  // views own nothing
        const std::vector<float> ones(20, 1.0f);
        be->upload(ones, v);
        std::vector<float> all(100);
        be->download(t, all);
        CHECK(all[9] == 0.0f);
        CHECK(all[10] == 1.0f);
        CHECK(all[29] == 1.0f);
        CHECK(all[30] == 0.0f);
        CHECK_THROWS_AS((void)t.view(90, 11), std::out_of_range);
    }
    CHECK(be->memory().current == before);
    CHECK(be->memory().peak >= before + 400);
    be->reset_peak_memory();
    CHECK(be->memory().peak == be->memory().current);

    const auto a = be->mark();
    const auto b = be->mark();
    CHECK(be->seconds_between(*a, *b) >= 0);
}
