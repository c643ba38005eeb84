// The CUDA backend against the CPU reference: every kernel, forward and backward, in fp32, fp16
// and bf16, on the inputs as the GPU holds them (read back after upload, so rounding to 16 bits
// is the same on both sides), within validate::tolerance / check_gemm. NCCL collectives over all
// local GPUs with the data check of check_pattern.hpp. Without a usable GPU only the host-code
// checks run (test suite "host") and the test reports itself skipped (exit code 77), so CI
// machines with nvcc but no GPU build it and pass.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "splitsim/kernels/cpu.hpp"
#include "splitsim/kernels/cuda.hpp"
#include "splitsim/kernels/fill.hpp"
#include "splitsim/validate/check.hpp"
#if SPLITSIM_HAVE_NCCL
#include "splitsim/kernels/comm.hpp"
#include "splitsim/kernels/nccl.hpp"
#endif

using namespace splitsim;
using namespace splitsim::kernels;
using validate::Check;
using validate::compare;
using validate::tolerance;
using Vec = std::vector<double>;

namespace {

struct Buffer {
    Tensor device;
    std::vector<float> host;  // exactly what the GPU holds
    [[nodiscard]] Vec values() const { return {host.begin(), host.end()}; }
};

class Fixture {
public:
    Fixture() : be_(cuda::make_backend(0)) {}

    Buffer random(std::size_t n, DType t, float lo, float hi) {
        std::uniform_real_distribution<float> dist(lo, hi);
        std::vector<float> v(n);
        for (float& x : v) x = dist(gen_);
        Buffer b{be_->allocate(n, t), std::vector<float>(n)};
        be_->upload(v, b.device);
        be_->download(b.device, b.host);
        return b;
    }
    Vec fetch(const Tensor& t) {
        std::vector<float> v(t.elements());
        be_->download(t, v);
        return {v.begin(), v.end()};
    }
    Backend& be() { return *be_; }

private:
    std::unique_ptr<Backend> be_;
    std::mt19937 gen_{42};
};

constexpr DType kTypes[] = {DType::fp32, DType::fp16, DType::bf16};

void require(const Check& c) {
    INFO(c.detail);
    CHECK(c.passed);
}

}  // namespace

TEST_CASE("cuBLAS GEMMs match double dot products in every transposition and type") {
    Fixture f;
    for (DType t : kTypes) {
        for (bool ta : {false, true}) {
            for (bool tb : {false, true}) {
                const GemmShape s{33, 47, 65, 3, ta, tb, false};
                Buffer a = f.random(static_cast<std::size_t>(s.m * s.k * s.batch), t, -1, 1);
                Buffer b = f.random(static_cast<std::size_t>(s.k * s.n * s.batch), t, -1, 1);
                Tensor c = f.be().allocate(static_cast<std::size_t>(s.m * s.n * s.batch), t);
                f.be().gemm(s, a.device, b.device, c);
                std::vector<validate::GemmEntry> all;
                for (std::int64_t q = 0; q < s.batch; ++q)
                    for (std::int64_t i = 0; i < s.m; ++i)
                        for (std::int64_t j = 0; j < s.n; ++j) all.push_back({q, i, j});
                const Vec got = f.fetch(c);
                CAPTURE(to_string(t));
                CAPTURE(ta);
                CAPTURE(tb);
                const auto at = [](const std::vector<float>& v) {
                    return [&v](std::int64_t i) { return double{v[static_cast<std::size_t>(i)]}; };
                };
                require(validate::check_gemm(s, t, at(a.host), at(b.host), all, std::vector<float>(got.begin(), got.end())));
            }
        }
    }
}

TEST_CASE("LayerNorm and RMSNorm, forward and backward, match the CPU reference") {
    Fixture f;
    const Rows s{37, 300};
    const auto n = static_cast<std::size_t>(s.rows * s.cols), cols = static_cast<std::size_t>(s.cols),
               rows = static_cast<std::size_t>(s.rows);
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        Buffer x = f.random(n, t, -2, 2), gamma = f.random(cols, t, 0.5f, 1.5f), beta = f.random(cols, t, -0.5f, 0.5f);
        Buffer dy = f.random(n, t, -1, 1);
        Tensor y = f.be().allocate(n, t), mean = f.be().allocate(rows, DType::fp32), rstd = f.be().allocate(rows, DType::fp32);
        Tensor dx = f.be().allocate(n, t), dgamma = f.be().allocate(cols, DType::fp32), dbeta = f.be().allocate(cols, DType::fp32);
        Vec ry(n), rmean(rows), rrstd(rows), rdx(n), rdg(cols), rdb(cols);

        f.be().layernorm_forward(s, 1e-5f, x.device, gamma.device, beta.device, y, mean, rstd);
        cpu::layernorm_forward<double>(s, 1e-5, x.values().data(), gamma.values().data(), beta.values().data(), ry.data(), rmean.data(), rrstd.data());
        require(compare(f.fetch(y), ry, tolerance(t), "layernorm y"));
        require(compare(f.fetch(mean), rmean, tolerance(DType::fp32), "mean"));
        require(compare(f.fetch(rstd), rrstd, tolerance(DType::fp32), "rstd"));
        f.be().layernorm_backward(s, dy.device, x.device, gamma.device, mean, rstd, dx, dgamma, dbeta);
        const Vec gm = f.fetch(mean), gr = f.fetch(rstd);
        cpu::layernorm_backward<double>(s, dy.values().data(), x.values().data(), gamma.values().data(), gm.data(), gr.data(), rdx.data(), rdg.data(), rdb.data());
        require(compare(f.fetch(dx), rdx, tolerance(t), "layernorm dx"));
        require(compare(f.fetch(dgamma), rdg, tolerance(DType::fp32), "layernorm dgamma"));
        require(compare(f.fetch(dbeta), rdb, tolerance(DType::fp32), "layernorm dbeta"));

        f.be().rmsnorm_forward(s, 1e-6f, x.device, gamma.device, y, rstd);
        cpu::rmsnorm_forward<double>(s, 1e-6, x.values().data(), gamma.values().data(), ry.data(), rrstd.data());
        require(compare(f.fetch(y), ry, tolerance(t), "rmsnorm y"));
        f.be().rmsnorm_backward(s, dy.device, x.device, gamma.device, rstd, dx, dgamma);
        const Vec gr2 = f.fetch(rstd);
        cpu::rmsnorm_backward<double>(s, dy.values().data(), x.values().data(), gamma.values().data(), gr2.data(), rdx.data(), rdg.data());
        require(compare(f.fetch(dx), rdx, tolerance(t), "rmsnorm dx"));
        require(compare(f.fetch(dgamma), rdg, tolerance(DType::fp32), "rmsnorm dgamma"));
    }
}

TEST_CASE("scaled, causal softmax, forward and backward, matches the CPU reference") {
    Fixture f;
    for (DType t : kTypes) {
        for (bool causal : {false, true}) {
            CAPTURE(to_string(t));
            CAPTURE(causal);
            const Softmax s{3, 20, 333, 0.125f, causal};
            const auto n = static_cast<std::size_t>(s.rows() * s.keys);
            Buffer x = f.random(n, t, -24, 24), dy = f.random(n, t, -1, 1);
            Tensor y = f.be().allocate(n, t), dx = f.be().allocate(n, t);
            Vec ry(n), rdx(n);
            f.be().softmax_forward(s, x.device, y);
            cpu::softmax_forward<double>(s, x.values().data(), ry.data());
            require(compare(f.fetch(y), ry, tolerance(t), "softmax y"));
            f.be().softmax_backward(s, y, dy.device, dx);
            const Vec gy = f.fetch(y);
            cpu::softmax_backward<double>(s, gy.data(), dy.values().data(), rdx.data());
            require(compare(f.fetch(dx), rdx, tolerance(t), "softmax dx"));
        }
    }
}

TEST_CASE("GeLU and SwiGLU, forward and backward, match the CPU reference") {
    Fixture f;
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        const std::int64_t n = 1000;
        Buffer x = f.random(n, t, -4, 4), dy = f.random(n, t, -1, 1);
        Tensor y = f.be().allocate(n, t), dx = f.be().allocate(n, t);
        Vec ry(n), rdx(n);
        f.be().gelu_forward(n, x.device, y);
        cpu::gelu_forward<double>(n, x.values().data(), ry.data());
        require(compare(f.fetch(y), ry, tolerance(t), "gelu y"));
        f.be().gelu_backward(n, x.device, dy.device, dx);
        cpu::gelu_backward<double>(n, x.values().data(), dy.values().data(), rdx.data());
        require(compare(f.fetch(dx), rdx, tolerance(t), "gelu dx"));

        const Rows s{17, 50};
        Buffer xs = f.random(17 * 100, t, -4, 4), dys = f.random(17 * 50, t, -1, 1);
        Tensor ys = f.be().allocate(17 * 50, t), dxs = f.be().allocate(17 * 100, t);
        Vec rys(17 * 50), rdxs(17 * 100);
        f.be().swiglu_forward(s, xs.device, ys);
        cpu::swiglu_forward<double>(s, xs.values().data(), rys.data());
        require(compare(f.fetch(ys), rys, tolerance(t), "swiglu y"));
        f.be().swiglu_backward(s, xs.device, dys.device, dxs);
        cpu::swiglu_backward<double>(s, xs.values().data(), dys.values().data(), rdxs.data());
        require(compare(f.fetch(dxs), rdxs, tolerance(t), "swiglu dx"));
    }
}

TEST_CASE("cross-entropy, forward and backward, matches the CPU reference") {
    Fixture f;
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        const Rows s{9, 1000};
        Buffer logits = f.random(9000, t, -8, 8), dloss = f.random(9, DType::fp32, 0.5f, 1.5f);
        std::vector<std::int32_t> targets = {0, 999, 5, 17, 500, 3, 998, 1, 250};
        Tensor tg = f.be().allocate(9, DType::int32);
        f.be().upload(targets, tg);
        Tensor loss = f.be().allocate(9, DType::fp32), lse = f.be().allocate(9, DType::fp32), dl = f.be().allocate(9000, t);
        Vec rloss(9), rlse(9), rdl(9000);
        f.be().cross_entropy_forward(s, logits.device, tg, loss, lse);
        cpu::cross_entropy_forward<double>(s, logits.values().data(), targets.data(), rloss.data(), rlse.data());
        require(compare(f.fetch(loss), rloss, tolerance(DType::fp32), "loss"));
        require(compare(f.fetch(lse), rlse, tolerance(DType::fp32), "lse"));
        f.be().cross_entropy_backward(s, logits.device, tg, lse, dloss.device, dl);
        const Vec glse = f.fetch(lse);
        cpu::cross_entropy_backward<double>(s, logits.values().data(), targets.data(), glse.data(), dloss.values().data(), rdl.data());
        require(compare(f.fetch(dl), rdl, tolerance(t), "dlogits"));
    }
}

TEST_CASE("AdamW matches the CPU reference") {
    Fixture f;
    const std::int64_t n = 4099;
    Adam a;
    a.step = 7;
    Buffer p = f.random(n, DType::fp32, -1, 1), g = f.random(n, DType::fp32, -0.01f, 0.01f);
    Buffer m = f.random(n, DType::fp32, -1e-3f, 1e-3f), v = f.random(n, DType::fp32, 0, 1e-4f);
    Vec rp = p.values(), rm = m.values(), rv = v.values();
    f.be().adam_step(n, a, p.device, g.device, m.device, v.device);
    cpu::adam_step<double>(n, a, rp.data(), g.values().data(), rm.data(), rv.data());
    require(compare(f.fetch(p.device), rp, tolerance(DType::fp32), "param"));
    require(compare(f.fetch(m.device), rm, tolerance(DType::fp32), "m"));
    require(compare(f.fetch(v.device), rv, tolerance(DType::fp32), "v"));
}

TEST_CASE("GEMMs accumulate into fp32 outputs under 16-bit inputs (gradient-accumulation fusion)") {
    Fixture f;
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        const GemmShape s{40, 24, 56, 1, true, false, false, true};
        Buffer a = f.random(static_cast<std::size_t>(s.m * s.k), t, -1, 1);
        Buffer b = f.random(static_cast<std::size_t>(s.k * s.n), t, -1, 1);
        Buffer c = f.random(static_cast<std::size_t>(s.m * s.n), DType::fp32, -1, 1);
        const Vec c0 = c.values();
        f.be().gemm(s, a.device, b.device, c.device);
        Vec want(c0.size());
        GemmShape plain = s;
        plain.accumulate = false;
        cpu::gemm<double>(plain, a.values().data(), b.values().data(), want.data());
        for (std::size_t i = 0; i < want.size(); ++i) want[i] += c0[i];
        // fp32 accumulation over k = 56 products of values below 1: |error| <= k u_fp32 sum |a b|.
        require(compare(f.fetch(c.device), want, 56 * tolerance(DType::fp32), "accumulated C"));
    }
}

TEST_CASE("convert, axpy, bias_add, column_sum and permute_0213 match the CPU reference") {
    Fixture f;
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        const Rows s{37, 70};
        const std::int64_t n = s.rows * s.cols;
        Buffer x = f.random(static_cast<std::size_t>(n), t, -2, 2);
        Tensor wide = f.be().allocate(static_cast<std::size_t>(n), DType::fp32);
        f.be().convert(n, x.device, wide);
        require(compare(f.fetch(wide), x.values(), 0.0, "convert to fp32 is exact"));

        Buffer y = f.random(static_cast<std::size_t>(n), DType::fp32, -1, 1);
        Vec ry = y.values();
        f.be().axpy(n, -0.5f, x.device, y.device);
        cpu::axpy<double>(n, -0.5, x.values().data(), ry.data());
        require(compare(f.fetch(y.device), ry, tolerance(DType::fp32), "axpy"));

        Buffer bias = f.random(static_cast<std::size_t>(s.cols), t, -1, 1);
        Buffer z = f.random(static_cast<std::size_t>(n), t, -1, 1);
        Vec rz = z.values();
        f.be().bias_add(s, bias.device, z.device);
        cpu::bias_add<double>(s, bias.values().data(), rz.data());
        require(compare(f.fetch(z.device), rz, tolerance(t), "bias_add"));

        Buffer sums = f.random(static_cast<std::size_t>(s.cols), DType::fp32, -1, 1);
        Vec rsums = sums.values();
        f.be().column_sum(s, x.device, sums.device);
        cpu::column_sum<double>(s, x.values().data(), rsums.data());
        require(compare(f.fetch(sums.device), rsums, s.rows * tolerance(DType::fp32), "column_sum"));

        const Dims4 d{2, 5, 7, 37};
        Tensor p = f.be().allocate(static_cast<std::size_t>(n * 2), t);
        Buffer big = f.random(static_cast<std::size_t>(n * 2), t, -1, 1);
        Vec rp(static_cast<std::size_t>(n * 2));
        f.be().permute_0213(d, big.device, p);
        cpu::permute_0213<double>(d, big.values().data(), rp.data());
        require(compare(f.fetch(p), rp, 0.0, "permute_0213"));
    }
}

TEST_CASE("vocabulary-parallel embedding and cross-entropy match the CPU reference") {
    Fixture f;
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        const Rows s{11, 64};
        const std::vector<std::int32_t> tokens = {0, 7, 3, 5, 5, 6, 1, 4, 7, 2, 5};
        Tensor tok = f.be().allocate(tokens.size(), DType::int32);
        f.be().upload(tokens, tok);
        Buffer table = f.random(4 * 64, t, -1, 1);  // rows 4..7 of a vocabulary of 8
        Tensor y = f.be().allocate(11 * 64, t);
        Vec ry(11 * 64);
        f.be().embedding_forward(s, tok, table.device, 4, 4, y);
        cpu::embedding_forward<double>(s, tokens.data(), table.values().data(), 4, 4, ry.data());
        require(compare(f.fetch(y), ry, 0.0, "embedding"));
        Buffer dy = f.random(11 * 64, t, -1, 1);
        Tensor dtable = f.be().allocate(4 * 64, DType::fp32);
        f.be().zero(dtable);
        Vec rdt(4 * 64, 0.0);
        f.be().embedding_backward(s, tok, dy.device, 4, 4, dtable);
        cpu::embedding_backward<double>(s, tokens.data(), dy.values().data(), 4, 4, rdt.data());
        require(compare(f.fetch(dtable), rdt, 4 * tolerance(DType::fp32), "embedding gradient"));

        const Rows ls{9, 500};
        Buffer logits = f.random(9 * 500, t, -8, 8);
        const std::vector<std::int32_t> targets = {0, 999, 505, 17, 500, 3, 998, 1, 499};
        Tensor tg = f.be().allocate(9, DType::int32);
        f.be().upload(targets, tg);
        Tensor shard_lse = f.be().allocate(9, DType::fp32), target = f.be().allocate(9, DType::fp32);
        Vec rshard(9), rtarget(9);
        f.be().cross_entropy_shard_forward(ls, logits.device, tg, 500, shard_lse, target);
        cpu::cross_entropy_shard_forward<double>(ls, logits.values().data(), targets.data(), 500, rshard.data(),
                                                 rtarget.data());
        require(compare(f.fetch(shard_lse), rshard, tolerance(DType::fp32), "shard lse"));
        require(compare(f.fetch(target), rtarget, 0.0, "target logit"));
        Tensor lse = f.be().allocate(9, DType::fp32), loss = f.be().allocate(9, DType::fp32);
        Vec rlse(9), rloss(9);
        f.be().cross_entropy_combine(9, 1, shard_lse, target, lse, loss);
        const Vec glse = f.fetch(shard_lse), gtarget = f.fetch(target);
        cpu::cross_entropy_combine<double>(9, 1, glse.data(), gtarget.data(), rlse.data(), rloss.data());
        require(compare(f.fetch(loss), rloss, tolerance(DType::fp32), "loss"));
        Tensor dl = f.be().allocate(9 * 500, t);
        Vec rdl(9 * 500);
        f.be().cross_entropy_shard_backward(ls, logits.device, tg, 500, lse, 0.125f, dl);
        const Vec gl = f.fetch(lse);
        cpu::cross_entropy_shard_backward<double>(ls, logits.values().data(), targets.data(), 500, gl.data(), 0.125,
                                                  rdl.data());
        require(compare(f.fetch(dl), rdl, tolerance(t), "dlogits"));
    }
}

TEST_CASE("the caching allocator reuses freed blocks and counts the bytes in use; markers time the stream") {
    Fixture f;
    f.be().reset_peak_memory();
    const std::size_t before = f.be().memory().current;
    {
        Tensor a = f.be().allocate(1000, DType::fp32);  // 4000 bytes, rounded to 4096
        CHECK(f.be().memory().current == before + 4096);
        Tensor v = a.view(10, 100);
        CHECK(f.be().memory().current == before + 4096);
    }
    CHECK(f.be().memory().current == before);
    CHECK(f.be().memory().peak == before + 4096);
    Tensor x = f.be().allocate(1 << 20, DType::bf16), y = f.be().allocate(1 << 20, DType::bf16);
    const auto start = f.be().mark();
    f.be().gelu_forward(1 << 20, x, y);
    const auto stop = f.be().mark();
    CHECK(f.be().seconds_between(*start, *stop) > 0);
}

TEST_CASE("CUDA graphs of back-to-back runs time kernels; fill, zero and check of collective buffers") {
    Fixture f;
    Tensor x = f.be().allocate(1 << 20, DType::bf16), y = f.be().allocate(1 << 20, DType::bf16);
    const Timing big = f.be().time([&] { f.be().gelu_forward(1 << 20, x, y); }, 2, 5);
    CHECK(big.seconds.size() == 5);
    CHECK(big.method == "cuda-graph");
    for (double s : big.seconds) CHECK(s > 0);
    // A kernel of a few microseconds is timed over many runs per repetition, cuBLAS included.
    Tensor a = f.be().allocate(64 * 64, DType::bf16), c = f.be().allocate(64 * 64, DType::bf16);
    f.be().fill_uniform(a, 5, -1, 1);
    const Timing small = f.be().time([&] { f.be().gemm(GemmShape{64, 64, 64, 1, false, true, false}, a, a, c); }, 2, 5);
    CHECK(small.method == "cuda-graph");
    CHECK(small.runs_per_repetition > 1);
    for (double s : small.seconds) CHECK(s > 0);
    CHECK(f.be().info().details.at("cublas_math_mode").find("reduced-precision reductions disallowed") != std::string::npos);
    f.be().fill_pattern(x, 1 << 20, 0);
    CHECK(f.be().count_mismatches(x, 1 << 20, CollectiveKind::broadcast, 4, 2) == 0);
    f.be().zero(x);
    CHECK(f.be().count_mismatches(x, 1 << 20, CollectiveKind::broadcast, 4, 2) == std::size_t{1} << 20);
}

TEST_CASE("fill_uniform writes on the GPU what the host recomputes; download_samples reads runs of elements") {
    Fixture f;
    const std::size_t n = (std::size_t{1} << 20) + 3;
    for (DType t : kTypes) {
        CAPTURE(to_string(t));
        Tensor x = f.be().allocate(n, t);
        f.be().fill_uniform(x, 1234, -3.0f, 5.0f);
        const Vec all = f.fetch(x);
        std::size_t differ = 0;
        for (std::size_t i = 0; i < n; ++i) {
            differ += all[i] != stored_value(t, uniform_value(1234, i, -3.0f, 5.0f)) ? 1 : 0;
        }
        CHECK(differ == 0);  // bit for bit, 16-bit rounding included
        const std::vector<std::int64_t> offsets = {0, 77, static_cast<std::int64_t>(n) - 5};
        std::vector<float> samples(offsets.size() * 5);
        f.be().download_samples(x, offsets, 5, samples);
        for (std::size_t i = 0; i < offsets.size(); ++i) {
            for (std::size_t j = 0; j < 5; ++j) CHECK(samples[i * 5 + j] == all[static_cast<std::size_t>(offsets[i]) + j]);
        }
        const std::vector<std::int64_t> past_the_end = {static_cast<std::int64_t>(n) - 4};
        CHECK_THROWS_AS(f.be().download_samples(x, past_the_end, 5, std::span<float>(samples).first(5)), std::invalid_argument);
    }
}

TEST_CASE("row-wise kernels over no rows write nothing; the norms' weight gradients over no rows are zero") {
    Fixture f;
    const Rows none{0, 64};
    Tensor sentinel = f.be().allocate(64, DType::fp32);
    f.be().fill_uniform(sentinel, 3, 1, 2);
    const Vec before = f.fetch(sentinel);
    Tensor stats = f.be().allocate(1, DType::fp32), gamma = f.be().allocate(64, DType::fp32);
    Tensor dgamma = f.be().allocate(64, DType::fp32), dbeta = f.be().allocate(64, DType::fp32);
    f.be().fill_uniform(dgamma, 4, 1, 2);
    f.be().fill_uniform(dbeta, 5, 1, 2);
    f.be().layernorm_forward(none, 1e-5f, sentinel, gamma, gamma, sentinel, stats, stats);
    f.be().rmsnorm_forward(none, 1e-5f, sentinel, gamma, sentinel, stats);
    f.be().softmax_forward(Softmax{0, 4, 4, 1.0f, true}, sentinel, sentinel);
    f.be().softmax_backward(Softmax{0, 4, 4, 1.0f, true}, sentinel, sentinel, sentinel);
    f.be().layernorm_backward(none, sentinel, sentinel, gamma, stats, stats, sentinel, dgamma, dbeta);
    f.be().synchronize();
    CHECK(f.fetch(sentinel) == before);
    CHECK(f.fetch(dgamma) == Vec(64, 0.0));
    CHECK(f.fetch(dbeta) == Vec(64, 0.0));
}

TEST_CASE("backends on every local GPU are made and destroyed with another GPU current") {
    const int gpus = cuda::device_count();
    std::vector<std::unique_ptr<Backend>> owned;
    for (int d = 0; d < gpus; ++d) owned.push_back(cuda::make_backend(d));
    for (auto& b : owned) {
        Tensor x = b->allocate(1024, DType::fp32);
        b->fill_uniform(x, 1, 0, 1);
        b->synchronize();
    }
    owned.clear();  // the last backend made leaves its GPU current; the others are released on theirs
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
}

#if SPLITSIM_HAVE_NCCL
TEST_CASE("NCCL collectives over every local GPU deliver the expected data") {
    const int gpus = cuda::device_count();
    auto world = make_self_process_group();
    std::vector<std::unique_ptr<Backend>> owned;
    std::vector<Backend*> local;
    for (int d = 0; d < gpus; ++d) {
        owned.push_back(cuda::make_backend(d));
        local.push_back(owned.back().get());
    }
    const GroupLayout layout{gpus, 1};
    auto comm = nccl::make_communicator(*world, local, layout, 60.0);
    const std::size_t S = std::size_t{3} << 20;  // elements, divisible by up to 8 ranks
    for (DType t : kTypes) {
        std::vector<Tensor> send, recv;
        std::vector<const Tensor*> sp;
        std::vector<Tensor*> rp;
        for (Backend* b : local) {
            send.push_back(b->allocate(S, t));
            recv.push_back(b->allocate(S, t));
        }
        for (std::size_t i = 0; i < local.size(); ++i) {
            sp.push_back(&send[i]);
            rp.push_back(&recv[i]);
        }
        for (CollectiveKind kind : kAllCollectives) {
            const std::size_t elements = S / static_cast<std::size_t>(gpus) * static_cast<std::size_t>(gpus);
            for (std::size_t i = 0; i < local.size(); ++i) {
                local[i]->fill_pattern(send[i], send_elements(kind, elements, gpus), layout.position_of(static_cast<int>(i)));
                local[i]->zero(recv[i]);
            }
            comm->run(kind, elements, sp, rp);
            comm->synchronize();
            for (std::size_t i = 0; i < local.size(); ++i) {
                CAPTURE(to_string(kind));
                CAPTURE(to_string(t));
                CHECK(local[i]->count_mismatches(recv[i], recv_elements(kind, elements, gpus), kind, gpus,
                                                 layout.position_of(static_cast<int>(i))) == 0);
            }
        }
    }
}
#endif

// Host code only: fill.hpp's rounding against cuda_fp16.h's and cuda_bf16.h's host conversions,
// which the GPU's conversions match (the fill test above checks the GPU bit for bit).
TEST_CASE("stored_value rounds as __float2half_rn and __float2bfloat16_rn do" * doctest::test_suite("host")) {
    std::size_t checked = 0;
    for (std::uint64_t i = 0; i < 200000; ++i) {
        // Bit patterns over every exponent (NaN and infinity left out), and values around the
        // 16-bit formats' ties, subnormals and largest values.
        std::uint32_t bits = static_cast<std::uint32_t>(splitmix64(99, i));
        float x = 0;
        std::memcpy(&x, &bits, sizeof x);
        if (!std::isfinite(x)) continue;
        if (i % 2 == 1) x = std::ldexp(uniform_value(7, i, -1.0f, 1.0f), static_cast<int>(i % 48) - 30);
        CAPTURE(x);
        CHECK(stored_value(DType::bf16, x) == __bfloat162float(__float2bfloat16_rn(x)));
        const float half = __half2float(__float2half_rn(x));
        if (std::isinf(half)) CHECK(std::isinf(stored_value(DType::fp16, x)));
        else CHECK(stored_value(DType::fp16, x) == half);
        ++checked;
    }
    CHECK(checked > 150000);
}

int main(int argc, char** argv) {
    std::string reason;
    if (cuda::device_count(&reason) == 0) {
        // Without a GPU the host-only checks still run; the rest is skipped.
        doctest::Context context(argc, argv);
        context.addFilter("test-suite", "host");
        const int failed = context.run();
        if (failed != 0 || context.shouldExit()) return failed;
        std::printf("no usable CUDA device (%s): GPU tests skipped\n", reason.c_str());
        return 77;  // meson's exit code for a skipped test
    }
    doctest::Context context(argc, argv);
    return context.run();
}
