// splitsim-harness bench, after nccl-tests: for every kernel and collective, warm-up runs, timed
// repetitions (device events on CUDA, the steady clock or MPI_Wtime on the CPU), the time of each
// repetition reduced across ranks with max, a data check of the result, and median, min, max,
// p10 and p90 of the repetitions. A failed check is recorded as "failed" with no time and no
// bandwidth: a number is only reported for a result that was right.
#include "splitsim/validate/bench.hpp"

#include "machine.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <ctime>
#include <iostream>
#include <optional>
#include <span>
#include <sstream>
#include <thread>

#include "splitsim/common/error.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/kernels/cpu.hpp"
#include "splitsim/kernels/fill.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/validate/cases.hpp"
#include "splitsim/validate/check.hpp"
#include "splitsim/validate/stats.hpp"
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
namespace {

using kernels::Backend;
using kernels::DType;
using kernels::Tensor;
using nlohmann::json;

constexpr const char* kCommandLine = "command line";
// What a data check reads back and recomputes in double precision: tensors up to kCheckElements
// whole; larger ones on kSampledRows evenly spaced rows (or columns); element-wise results on
// kSampledElements evenly spaced elements; GEMMs on kGemmSamples random entries and two corners.
constexpr std::int64_t kCheckElements = std::int64_t{1} << 20;
constexpr std::int64_t kSampledRows = 64;
constexpr std::int64_t kSampledElements = std::int64_t{1} << 14;
constexpr int kGemmSamples = 64;

// ---- inputs --------------------------------------------------------------------------------------

// Host memory the CPU backend's kernel cases need at their largest shape (twice the plan's tokens),
// estimated from the elements each forward kernel reads and writes (fp32 tensors; a backward pass
// holds about as many again). On CUDA the tensors live on the GPU and the host holds only samples.
double kernel_case_bytes(const model::ModelSpec& m, const plan::Plan& p) {
    const model::Shard shard = plan::shard_of(p);
    const model::LayerGraph g = model::expand(m, shard);
    double worst = 0;
    for (const auto* ops : {&g.dense, &g.moe, &g.head}) {
        for (const model::Op& op : *ops) worst = std::max(worst, op.forward_bytes.value() / shard.element_bytes);
    }
    return 2.0 * worst * 4.0 * 2.0;
}

DType activation_dtype(const plan::Plan& p, bool cuda) {
    if (!cuda) return DType::fp32;  // the CPU kernels are fp32
    switch (p.precision) {
        case Precision::bf16:
        case Precision::fp8: return DType::bf16;  // no fp8 GEMMs here: fp8 plans are measured in bf16
        case Precision::fp16: return DType::fp16;
        case Precision::fp32:
        case Precision::tf32: return DType::fp32;
    }
    return DType::bf16;
}

DType gradient_dtype(const plan::Plan& p, bool cuda) {
    if (!cuda) return DType::fp32;
    switch (p.grad_precision) {
        case Precision::bf16: return DType::bf16;
        case Precision::fp16: return DType::fp16;
        default: return DType::fp32;
    }
}

// ---- data ------------------------------------------------------------------------------------------

// splitmix64 (Steele, Lea & Flood 2014): the seeds of the inputs, the sampled GEMM entries and the
// cross-entropy targets.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() { return kernels::splitmix64(state_, counter_++); }

private:
    std::uint64_t state_;
    std::uint64_t counter_ = 0;
};

// An input generated where the backend keeps it (Backend::fill_uniform); the host recomputes the
// values a check needs (fill.hpp), rounding to fp16/bf16 included, so no input is made on the host,
// uploaded or read back.
struct Input {
    Tensor device;
    std::uint64_t seed = 0;
    float lo = 0;
    float hi = 0;

    [[nodiscard]] double at(std::int64_t i) const {
        return kernels::stored_value(device.dtype(), kernels::uniform_value(seed, static_cast<std::uint64_t>(i), lo, hi));
    }
    // `width` values from each of `rows` of a row-major matrix of that width.
    [[nodiscard]] std::vector<double> rows(std::span<const std::int64_t> picked, std::int64_t width) const {
        std::vector<double> out;
        out.reserve(picked.size() * static_cast<std::size_t>(width));
        for (std::int64_t r : picked) {
            for (std::int64_t c = 0; c < width; ++c) out.push_back(at(r * width + c));
        }
        return out;
    }
    // Columns `picked` of all `rows` rows of a row-major matrix of `width` columns, row-major.
    [[nodiscard]] std::vector<double> columns(std::int64_t rows, std::int64_t width, std::span<const std::int64_t> picked) const {
        std::vector<double> out;
        out.reserve(static_cast<std::size_t>(rows) * picked.size());
        for (std::int64_t r = 0; r < rows; ++r) {
            for (std::int64_t c : picked) out.push_back(at(r * width + c));
        }
        return out;
    }
    [[nodiscard]] std::vector<double> all() const {
        const std::int64_t n = static_cast<std::int64_t>(device.elements());
        return rows(std::vector<std::int64_t>{0}, n);
    }
};

// `picked` of `count` items, evenly spaced with the first and the last; all of them when `picked`
// is at least `count`.
std::vector<std::int64_t> evenly_spaced(std::int64_t count, std::int64_t picked) {
    std::vector<std::int64_t> out;
    if (count <= picked || count < 2) {
        for (std::int64_t i = 0; i < count; ++i) out.push_back(i);
        return out;
    }
    for (std::int64_t i = 0; i < picked; ++i) out.push_back(i * (count - 1) / (picked - 1));
    return out;
}

// Rows of a row-major matrix a check looks at: all of them up to kCheckElements, else
// kSampledRows evenly spaced ones (fewer for very wide rows, at least two).
std::vector<std::int64_t> check_rows(std::int64_t rows, std::int64_t width) {
    if (rows * width <= kCheckElements) return evenly_spaced(rows, rows);
    return evenly_spaced(rows, std::clamp<std::int64_t>(kCheckElements / std::max<std::int64_t>(width, 1), 2, kSampledRows));
}

std::vector<std::int64_t> check_elements(std::int64_t n) { return evenly_spaced(n, kSampledElements); }

// ---- kernels -----------------------------------------------------------------------------------------

struct PassResult {
    kernels::GemmShape product;  // GEMMs: the product this pass computes
    kernels::Timing timing;
    Check check;
    double bytes = 0;
    double flops = 0;
    DType dtype = DType::fp32;
};

// The largest data cache of this machine (sysconf), 32 MiB where the system does not say.
double last_level_cache_bytes() {
    for (int name : {_SC_LEVEL4_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
        if (const long bytes = sysconf(name); bytes > 0) return static_cast<double>(bytes);
    }
    return 32.0 * 1024 * 1024;
}

// What a linear layer's operands rotate through: on the CPU the bytes one rank's step touches (its
// layers' and the head's operands for one micro-batch), at most twice the largest cache: a small
// model's step fits the shared L3 but not a core's L2, a large one's nothing. None on CUDA, where a
// training-size GEMM streams its operands from HBM through a 50 MB L2 anyway.
double rotating_bytes(const model::ModelSpec& m, const plan::Plan& p, bool cuda) {
    if (cuda) return 0;
    const model::Shard shard = plan::shard_of(p);
    const model::LayerGraph g = model::expand(m, shard);
    double layer = 0, head = 0;
    for (const model::Op& op : g.dense) layer += op.forward_bytes.value();
    for (const model::Op& op : g.head) head += op.forward_bytes.value();
    const double step = layer * static_cast<double>(m.layers) / p.pp + head;
    return std::min(step, 2.0 * last_level_cache_bytes());
}

class KernelBench {
public:
    // `before_timing` runs before each pass is timed (the sustained sweep's barrier); GEMM operands
    // rotate through `rotating_bytes` (0: none).
    KernelBench(Backend& backend, DType dtype, bool tf32, int warmup, int repetitions, double rotating_bytes,
                std::function<void()> before_timing = {})
        : be_(backend), dt_(dtype), tf32_(tf32), warmup_(warmup), reps_(repetitions), before_timing_(std::move(before_timing)),
          rotating_bytes_(rotating_bytes) {}

    std::vector<std::pair<Pass, PassResult>> run(const KernelCase& c) {
        std::vector<std::pair<Pass, PassResult>> out;
        for (Pass p : passes_of(c.kernel)) out.emplace_back(p, run(c, p));
        return out;
    }

    PassResult run(const KernelCase& c, Pass p) {
        switch (c.kernel) {
            case Kernel::gemm: return gemm(c, p);
            case Kernel::layernorm:
            case Kernel::rmsnorm: return norm(c, p);
            case Kernel::softmax: return softmax(c, p);
            case Kernel::gelu: return gelu(c, p);
            case Kernel::swiglu: return swiglu(c, p);
            case Kernel::cross_entropy: return cross_entropy(c, p);
            case Kernel::adam: return adam(c);
        }
        throw std::logic_error("unknown kernel");
    }

private:
    Input input(std::int64_t n, DType t, float lo, float hi) {
        Input in{be_.allocate(static_cast<std::size_t>(n), t), rng_.next(), lo, hi};
        be_.fill_uniform(in.device, in.seed, lo, hi);
        return in;
    }
    Tensor empty(std::int64_t n, DType t) { return be_.allocate(static_cast<std::size_t>(n), t); }
    // The whole of a small tensor (per-row statistics).
    std::vector<double> fetch(const Tensor& t) {
        std::vector<float> v(t.elements());
        be_.download(t, v);
        return {v.begin(), v.end()};
    }
    // `width` elements from each of `rows` of a row-major matrix of that width.
    std::vector<double> fetch(const Tensor& t, std::span<const std::int64_t> rows, std::int64_t width) {
        std::vector<std::int64_t> offsets;
        offsets.reserve(rows.size());
        for (std::int64_t r : rows) offsets.push_back(r * width);
        std::vector<float> v(rows.size() * static_cast<std::size_t>(width));
        be_.download_samples(t, offsets, width, v);
        return {v.begin(), v.end()};
    }

    // Out-of-place kernels are checked on the output of the last timed run; in-place ones (the
    // optimizer) on a first run from known inputs, before they are timed.
    PassResult measure(const std::function<void()>& work, const std::function<Check()>& check, bool in_place) {
        PassResult r;
        if (in_place) {
            work();
            be_.synchronize();
            r.check = check();
            if (before_timing_) before_timing_();
            r.timing = be_.time(work, warmup_, reps_);
        } else {
            if (before_timing_) before_timing_();
            r.timing = be_.time(work, warmup_, reps_);
            r.check = check();
        }
        return r;
    }

    PassResult gemm(const KernelCase& c, Pass p) {
        kernels::GemmShape s = gemm_product(c, p);
        s.tf32 = tf32_;
        const auto m = s.m, n = s.n, k = s.k, batch = s.batch;
        const Input a = input(m * k * batch, dt_, -1, 1);
        const Input b = input(k * n * batch, dt_, -1, 1);
        // A linear layer's operands that a training step does not hand over from the operator
        // before (the weight in the forward and input-gradient products; the saved input and the
        // weight gradient in the weight-gradient product) rotate through copies (as
        // hipBLASLt-bench's --rotating rotates operands) that span the bytes the rank's step
        // touches, so that a timed run finds them in the cache level a step leaves them in. The
        // incoming activation or gradient stays where the previous run left it, as a step's comes
        // from the operator before; so do attention's operands, all produced just before.
        const bool linear = c.kind == "gemm";
        const bool rotate_b = linear, rotate_out = linear && p == Pass::backward_weight;
        const double rotated_bytes = static_cast<double>(kernels::size_of(dt_)) * static_cast<double>(batch) *
                                     static_cast<double>((rotate_b ? k * n : 0) + (rotate_out ? m * n : 0));
        const int sets = linear ? static_cast<int>(std::clamp(std::ceil(rotating_bytes_ / rotated_bytes), 1.0, 64.0)) : 1;
        std::vector<Tensor> bs, outs;
        for (int i = 0; i < sets; ++i) {
            if (i == 0 || rotate_b) {
                bs.push_back(empty(k * n * batch, dt_));
                be_.fill_uniform(bs.back(), b.seed, b.lo, b.hi);
            }
            if (i == 0 || rotate_out) outs.push_back(empty(m * n * batch, dt_));
        }
        std::size_t run = 0, last = 0;
        auto check = [&] {
            const Tensor& out = outs[last];
            std::vector<GemmEntry> entries{{0, 0, 0}, {batch - 1, m - 1, n - 1}};
            for (int i = 0; i < kGemmSamples; ++i) {
                entries.push_back({static_cast<std::int64_t>(rng_.next() % static_cast<std::uint64_t>(batch)),
                                   static_cast<std::int64_t>(rng_.next() % static_cast<std::uint64_t>(m)),
                                   static_cast<std::int64_t>(rng_.next() % static_cast<std::uint64_t>(n))});
            }
            std::vector<std::int64_t> offsets;
            for (const GemmEntry& e : entries) offsets.push_back(e.batch * m * n + e.row * n + e.col);
            std::vector<float> got(entries.size());
            be_.download_samples(out, offsets, 1, got);
            return check_gemm(s, dt_, [&](std::int64_t i) { return a.at(i); }, [&](std::int64_t i) { return b.at(i); },
                              entries, got);
        };
        auto work = [&] {
            const std::size_t i = run++ % static_cast<std::size_t>(sets);
            last = rotate_out ? i : 0;
            be_.gemm(s, a.device, bs[rotate_b ? i : 0], outs[last]);
        };
        PassResult r = measure(work, check, false);
        r.product = s;
        r.dtype = dt_;
        r.flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * static_cast<double>(batch);
        r.bytes = static_cast<double>(kernels::size_of(dt_)) * static_cast<double>(batch) *
                  static_cast<double>(m * k + k * n + m * n);
        return r;
    }

    PassResult norm(const KernelCase& c, Pass p) {
        const bool ln = c.kernel == Kernel::layernorm;
        const kernels::Rows s = c.rows;
        const auto rows = static_cast<double>(s.rows), cols = static_cast<double>(s.cols);
        constexpr float eps = 1e-5f;
        const Input x = input(s.rows * s.cols, dt_, -2, 2);
        const Input gamma = input(s.cols, dt_, 0.5f, 1.5f);
        const Input beta = input(s.cols, dt_, -0.5f, 0.5f);
        Tensor mean = empty(s.rows, DType::fp32), rstd = empty(s.rows, DType::fp32), y = empty(s.rows * s.cols, dt_);
        const std::vector<std::int64_t> picked = check_rows(s.rows, s.cols);
        const kernels::Rows sub{static_cast<std::int64_t>(picked.size()), s.cols};
        const auto sub_n = picked.size() * static_cast<std::size_t>(s.cols);
        const double e = static_cast<double>(kernels::size_of(dt_));
        const double stats = ln ? 8.0 : 4.0;  // fp32 mean and rstd per row
        const auto forward = [&] {
            if (ln) be_.layernorm_forward(s, eps, x.device, gamma.device, beta.device, y, mean, rstd);
            else be_.rmsnorm_forward(s, eps, x.device, gamma.device, y, rstd);
        };
        PassResult r;
        if (p == Pass::forward) {
            auto check = [&] {
                std::vector<double> want_y(sub_n), want_mean(picked.size()), want_rstd(picked.size());
                const auto xd = x.rows(picked, s.cols), gd = gamma.all(), bd = beta.all();
                if (ln) kernels::cpu::layernorm_forward<double>(sub, eps, xd.data(), gd.data(), bd.data(), want_y.data(), want_mean.data(), want_rstd.data());
                else kernels::cpu::rmsnorm_forward<double>(sub, eps, xd.data(), gd.data(), want_y.data(), want_rstd.data());
                Check ck = compare(fetch(y, picked, s.cols), want_y, tolerance(dt_), "y");
                ck.merge(compare(fetch(rstd, picked, 1), want_rstd, tolerance(DType::fp32), "rstd"));
                if (ln) ck.merge(compare(fetch(mean, picked, 1), want_mean, tolerance(DType::fp32), "mean"));
                return ck;
            };
            r = measure(forward, check, false);
            r.bytes = e * (2.0 * rows * cols + (ln ? 2.0 : 1.0) * cols) + stats * rows;
        } else {
            forward();  // the saved statistics come from a forward run on the backend
            const Input dy = input(s.rows * s.cols, dt_, -1, 1);
            Tensor dx = empty(s.rows * s.cols, dt_), dgamma = empty(s.cols, DType::fp32), dbeta = empty(s.cols, DType::fp32);
            auto work = [&] {
                if (ln) be_.layernorm_backward(s, dy.device, x.device, gamma.device, mean, rstd, dx, dgamma, dbeta);
                else be_.rmsnorm_backward(s, dy.device, x.device, gamma.device, rstd, dx, dgamma);
            };
            auto check = [&] {
                const auto gd = gamma.all();
                // dx on the sampled rows, each with its saved statistics.
                std::vector<double> want_dx(sub_n), unused_dg(static_cast<std::size_t>(s.cols)), unused_db(unused_dg.size());
                {
                    const auto xd = x.rows(picked, s.cols), dyd = dy.rows(picked, s.cols);
                    const auto rd = fetch(rstd, picked, 1);
                    const auto md = ln ? fetch(mean, picked, 1) : std::vector<double>(picked.size(), 0.0);
                    if (ln) kernels::cpu::layernorm_backward<double>(sub, dyd.data(), xd.data(), gd.data(), md.data(), rd.data(), want_dx.data(), unused_dg.data(), unused_db.data());
                    else kernels::cpu::rmsnorm_backward<double>(sub, dyd.data(), xd.data(), gd.data(), rd.data(), want_dx.data(), unused_dg.data());
                }
                Check ck = compare(fetch(dx, picked, s.cols), want_dx, tolerance(dt_), "dx");
                // dgamma and dbeta on sampled columns: each a sum over every row, so the reference
                // takes those columns of every row (and every row's statistics).
                const std::vector<std::int64_t> columns = check_rows(s.cols, s.rows);
                const kernels::Rows narrow{s.rows, static_cast<std::int64_t>(columns.size())};
                const auto xc = x.columns(s.rows, s.cols, columns), dyc = dy.columns(s.rows, s.cols, columns);
                std::vector<double> gc;
                for (std::int64_t col : columns) gc.push_back(gd[static_cast<std::size_t>(col)]);
                const auto rd = fetch(rstd);
                const auto md = ln ? fetch(mean) : std::vector<double>(static_cast<std::size_t>(s.rows), 0.0);
                std::vector<double> unused_dx(xc.size()), want_dg(columns.size()), want_db(columns.size());
                if (ln) kernels::cpu::layernorm_backward<double>(narrow, dyc.data(), xc.data(), gc.data(), md.data(), rd.data(), unused_dx.data(), want_dg.data(), want_db.data());
                else kernels::cpu::rmsnorm_backward<double>(narrow, dyc.data(), xc.data(), gc.data(), rd.data(), unused_dx.data(), want_dg.data());
                ck.merge(compare(fetch(dgamma, columns, 1), want_dg, tolerance(DType::fp32) + 1e-4, "dgamma"));
                if (ln) ck.merge(compare(fetch(dbeta, columns, 1), want_db, tolerance(DType::fp32) + 1e-4, "dbeta"));
                return ck;
            };
            r = measure(work, check, false);
            // Compulsory traffic: read dy, x, gamma and the statistics; write dx and the fp32 weight gradients.
            r.bytes = e * (3.0 * rows * cols + cols) + stats * rows + (ln ? 8.0 : 4.0) * cols;
        }
        r.dtype = dt_;
        return r;
    }

    PassResult softmax(const KernelCase& c, Pass p) {
        const kernels::Softmax& s = c.softmax;
        const std::int64_t keys = s.keys;
        const std::int64_t n = s.rows() * keys;
        const Input x = input(n, dt_, -3.0f / s.scale, 3.0f / s.scale);
        Tensor y = empty(n, dt_);
        const std::vector<std::int64_t> picked = check_rows(s.rows(), keys);
        const double e = static_cast<double>(kernels::size_of(dt_));
        PassResult r;
        if (p == Pass::forward) {
            // A row that sees v keys is an unmasked softmax over its first v scores, then zeros.
            auto check = [&] {
                std::vector<double> want(picked.size() * static_cast<std::size_t>(keys), 0.0);
                for (std::size_t i = 0; i < picked.size(); ++i) {
                    const std::int64_t visible = s.visible_keys(picked[i]);
                    if (visible == 0) continue;
                    const auto xd = x.rows(std::vector<std::int64_t>{picked[i]}, keys);
                    const kernels::Softmax row{1, 1, visible, s.scale, false};
                    kernels::cpu::softmax_forward<double>(row, xd.data(), want.data() + i * static_cast<std::size_t>(keys));
                }
                return compare(fetch(y, picked, keys), want, tolerance(dt_), "y");
            };
            r = measure([&] { be_.softmax_forward(s, x.device, y); }, check, false);
            r.bytes = 2 * e * static_cast<double>(n);
        } else {
            be_.softmax_forward(s, x.device, y);
            const Input dy = input(n, dt_, -1, 1);
            Tensor dx = empty(n, dt_);
            // The backward reads the probabilities the backend wrote (0 where masked) and needs no mask.
            auto check = [&] {
                const auto yd = fetch(y, picked, keys), dyd = dy.rows(picked, keys);
                std::vector<double> want(yd.size());
                const kernels::Softmax rows{static_cast<std::int64_t>(picked.size()), 1, keys, s.scale, false};
                kernels::cpu::softmax_backward<double>(rows, yd.data(), dyd.data(), want.data());
                return compare(fetch(dx, picked, keys), want, tolerance(dt_), "dx");
            };
            r = measure([&] { be_.softmax_backward(s, y, dy.device, dx); }, check, false);
            r.bytes = 3 * e * static_cast<double>(n);
        }
        r.dtype = dt_;
        return r;
    }

    PassResult gelu(const KernelCase& c, Pass p) {
        const std::int64_t n = c.elements;
        const Input x = input(n, dt_, -4, 4);
        const std::vector<std::int64_t> picked = check_elements(n);
        const auto m = static_cast<std::int64_t>(picked.size());
        const double e = static_cast<double>(kernels::size_of(dt_));
        PassResult r;
        if (p == Pass::forward) {
            Tensor y = empty(n, dt_);
            auto check = [&] {
                const auto xd = x.rows(picked, 1);
                std::vector<double> want(xd.size());
                kernels::cpu::gelu_forward<double>(m, xd.data(), want.data());
                return compare(fetch(y, picked, 1), want, tolerance(dt_), "y");
            };
            r = measure([&] { be_.gelu_forward(n, x.device, y); }, check, false);
            r.bytes = 2 * e * static_cast<double>(n);
        } else {
            const Input dy = input(n, dt_, -1, 1);
            Tensor dx = empty(n, dt_);
            auto check = [&] {
                const auto xd = x.rows(picked, 1), dyd = dy.rows(picked, 1);
                std::vector<double> want(xd.size());
                kernels::cpu::gelu_backward<double>(m, xd.data(), dyd.data(), want.data());
                return compare(fetch(dx, picked, 1), want, tolerance(dt_), "dx");
            };
            r = measure([&] { be_.gelu_backward(n, x.device, dy.device, dx); }, check, false);
            r.bytes = 3 * e * static_cast<double>(n);
        }
        r.dtype = dt_;
        return r;
    }

    PassResult swiglu(const KernelCase& c, Pass p) {
        const kernels::Rows s = c.rows;
        const std::int64_t out_n = s.rows * s.cols;
        const Input x = input(2 * out_n, dt_, -4, 4);
        const std::vector<std::int64_t> picked = check_rows(s.rows, 3 * s.cols);
        const kernels::Rows sub{static_cast<std::int64_t>(picked.size()), s.cols};
        const double e = static_cast<double>(kernels::size_of(dt_));
        PassResult r;
        if (p == Pass::forward) {
            Tensor y = empty(out_n, dt_);
            auto check = [&] {
                const auto xd = x.rows(picked, 2 * s.cols);
                std::vector<double> want(picked.size() * static_cast<std::size_t>(s.cols));
                kernels::cpu::swiglu_forward<double>(sub, xd.data(), want.data());
                return compare(fetch(y, picked, s.cols), want, tolerance(dt_), "y");
            };
            r = measure([&] { be_.swiglu_forward(s, x.device, y); }, check, false);
            r.bytes = 3 * e * static_cast<double>(out_n);
        } else {
            const Input dy = input(out_n, dt_, -1, 1);
            Tensor dx = empty(2 * out_n, dt_);
            auto check = [&] {
                const auto xd = x.rows(picked, 2 * s.cols), dyd = dy.rows(picked, s.cols);
                std::vector<double> want(xd.size());
                kernels::cpu::swiglu_backward<double>(sub, xd.data(), dyd.data(), want.data());
                return compare(fetch(dx, picked, 2 * s.cols), want, tolerance(dt_), "dx");
            };
            r = measure([&] { be_.swiglu_backward(s, x.device, dy.device, dx); }, check, false);
            r.bytes = 5 * e * static_cast<double>(out_n);
        }
        r.dtype = dt_;
        return r;
    }

    // Cross-entropy reads fp32 logits (the model's convention: the loss is computed in fp32).
    PassResult cross_entropy(const KernelCase& c, Pass p) {
        const kernels::Rows s = c.rows;
        const std::int64_t n = s.rows * s.cols;
        const Input logits = input(n, DType::fp32, -8, 8);
        std::vector<std::int32_t> targets(static_cast<std::size_t>(s.rows));
        for (auto& t : targets) t = static_cast<std::int32_t>(rng_.next() % static_cast<std::uint64_t>(s.cols));
        Tensor targets_d = empty(s.rows, DType::int32);
        be_.upload(targets, targets_d);
        Tensor loss = empty(s.rows, DType::fp32), lse = empty(s.rows, DType::fp32);
        const std::vector<std::int64_t> picked = check_rows(s.rows, s.cols);
        const kernels::Rows sub{static_cast<std::int64_t>(picked.size()), s.cols};
        std::vector<std::int32_t> picked_targets;
        for (std::int64_t r : picked) picked_targets.push_back(targets[static_cast<std::size_t>(r)]);
        const double rows = static_cast<double>(s.rows);
        PassResult r;
        if (p == Pass::forward) {
            auto check = [&] {
                const auto ld = logits.rows(picked, s.cols);
                std::vector<double> want_loss(picked.size()), want_lse(picked.size());
                kernels::cpu::cross_entropy_forward<double>(sub, ld.data(), picked_targets.data(), want_loss.data(), want_lse.data());
                Check ck = compare(fetch(loss, picked, 1), want_loss, tolerance(DType::fp32), "loss");
                ck.merge(compare(fetch(lse, picked, 1), want_lse, tolerance(DType::fp32), "lse"));
                return ck;
            };
            r = measure([&] { be_.cross_entropy_forward(s, logits.device, targets_d, loss, lse); }, check, false);
            r.bytes = 4.0 * static_cast<double>(n) + 12.0 * rows;
        } else {
            be_.cross_entropy_forward(s, logits.device, targets_d, loss, lse);
            const Input dloss = input(s.rows, DType::fp32, 0.5f, 1.5f);
            Tensor dlogits = empty(n, DType::fp32);
            auto check = [&] {
                const auto ld = logits.rows(picked, s.cols);
                const auto lsed = fetch(lse, picked, 1), dld = dloss.rows(picked, 1);
                std::vector<double> want(ld.size());
                kernels::cpu::cross_entropy_backward<double>(sub, ld.data(), picked_targets.data(), lsed.data(), dld.data(), want.data());
                return compare(fetch(dlogits, picked, s.cols), want, tolerance(DType::fp32), "dlogits");
            };
            r = measure([&] { be_.cross_entropy_backward(s, logits.device, targets_d, lse, dloss.device, dlogits); },
                        check, false);
            r.bytes = 8.0 * static_cast<double>(n) + 16.0 * rows;
        }
        r.dtype = DType::fp32;
        return r;
    }

    PassResult adam(const KernelCase& c) {
        const std::int64_t n = c.elements;
        kernels::Adam a;
        a.step = 10;
        Input param = input(n, DType::fp32, -1, 1);
        const Input grad = input(n, DType::fp32, -1e-2f, 1e-2f);
        Input m = input(n, DType::fp32, -1e-3f, 1e-3f);
        Input v = input(n, DType::fp32, 0, 1e-4f);
        const std::vector<std::int64_t> picked = check_elements(n);
        auto check = [&] {
            auto pd = param.rows(picked, 1), gd = grad.rows(picked, 1), md = m.rows(picked, 1), vd = v.rows(picked, 1);
            kernels::cpu::adam_step<double>(static_cast<std::int64_t>(picked.size()), a, pd.data(), gd.data(), md.data(), vd.data());
            Check ck = compare(fetch(param.device, picked, 1), pd, tolerance(DType::fp32), "param");
            ck.merge(compare(fetch(m.device, picked, 1), md, tolerance(DType::fp32), "m"));
            ck.merge(compare(fetch(v.device, picked, 1), vd, tolerance(DType::fp32), "v"));
            return ck;
        };
        PassResult r = measure([&] { be_.adam_step(n, a, param.device, grad.device, m.device, v.device); }, check, true);
        r.bytes = 28.0 * static_cast<double>(n);  // read p, g, m, v; write p, m, v (fp32)
        r.dtype = DType::fp32;
        return r;
    }

    Backend& be_;
    DType dt_;
    bool tf32_;
    int warmup_;
    int reps_;
    std::function<void()> before_timing_;
    double rotating_bytes_;
    Rng rng_{0x5eed};
};

json time_json(const Summary& s) {
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"p10", s.p10}, {"p90", s.p90}};
}

json shape_json(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t batch) {
    return {{"m", m}, {"n", n}, {"k", k}, {"batch", batch}};
}

// The op's shape as the model states it: GEMMs their forward (m, n, k, batch); row-wise kernels
// (rows, columns); softmax (queries, keys) per block; element-wise ones (elements, 1).
json case_shape(const KernelCase& c) {
    switch (c.kernel) {
        case Kernel::gemm: return shape_json(c.gemm.m, c.gemm.n, c.gemm.k, c.gemm.batch);
        case Kernel::softmax: return shape_json(c.softmax.queries, c.softmax.keys, 0, c.softmax.batch);
        case Kernel::gelu:
        case Kernel::adam: return shape_json(c.elements, 1, 0, 1);
        default: return shape_json(c.rows.rows, c.rows.cols, 0, 1);
    }
}

// ---- collectives ---------------------------------------------------------------------------------

struct CollectiveRun {
    std::vector<double> times;
    bool passed = false;
};

}  // namespace

BenchResult run_bench(const BenchOptions& o, kernels::ProcessGroup& world) {
    const bool rank0 = world.rank() == 0;
    auto note = [&](const std::string& text) {
        if (rank0) std::cerr << "splitsim-harness: " << text << "\n";
    };

    model::ModelSpec model = model::load_model(o.model);
    plan::Plan plan = plan::load_plan(o.plan);
    validate_plan(plan, model);
    const bool cuda = o.backend == "cuda";
    if (o.min_bytes < 1) throw InputError(kCommandLine, "--min-bytes", "must be at least 1 B");
    const std::int64_t max_bytes = o.max_bytes > 0 ? o.max_bytes : (cuda ? (std::int64_t{1} << 30) : (std::int64_t{4} << 20));
    if (o.collectives && o.min_bytes > max_bytes) {
        throw InputError(kCommandLine, "--min-bytes", std::to_string(o.min_bytes) + " B exceeds the largest size, " +
                                                          std::to_string(max_bytes) + " B (--max-bytes)");
    }
    // Refuse shapes this machine cannot hold before allocating any of them.
    if (o.kernels && !cuda) {
        require_memory(kernel_case_bytes(model, plan), "the kernels at this plan's shapes",
                       "lower micro_batch, raise tp, or --no-kernels", plan.origin, "/micro_batch");
    }

    // Backends: one per rank this process drives.
    std::vector<std::unique_ptr<Backend>> backends;
    if (!cuda) {
        if (o.devices > 1) throw InputError(kCommandLine, "--devices", "the CPU backend runs one rank per process");
        backends.push_back(kernels::cpu::make_cpu_backend());
    } else {
#if SPLITSIM_HAVE_CUDA
        std::string reason;
        const int visible = kernels::cuda::device_count(&reason);
        if (visible == 0) throw std::runtime_error("no usable CUDA device: " + reason);
        if (world.size() > 1) {
            if (o.devices > 1) throw InputError(kCommandLine, "--devices", "under mpirun each process drives one GPU");
            backends.push_back(kernels::cuda::make_backend(local_rank_from_environment(world.rank()) % visible));
        } else {
            const int count = o.devices > 0 ? o.devices : visible;
            if (count > visible) {
                throw InputError(kCommandLine, "--devices", std::to_string(count) + " GPUs asked, " + std::to_string(visible) + " visible");
            }
            for (int d = 0; d < count; ++d) backends.push_back(kernels::cuda::make_backend(d));
        }
#else
        throw InputError(kCommandLine, "--backend", "this build has no CUDA backend (nvcc and cuBLAS were not found; -Dcuda=enabled)");
#endif
    }
    const int locals = static_cast<int>(backends.size());
    const int ranks = world.size() * locals;
    const DType act = activation_dtype(plan, cuda);
    const DType grad = gradient_dtype(plan, cuda);
    const bool tf32 = cuda && plan.precision == Precision::tf32;
    if (cuda && plan.precision == Precision::fp8) note("fp8 plan: GEMMs and kernels are measured in bf16");
    if (ranks != plan.gpus()) {
        note("the plan has " + std::to_string(plan.gpus()) + " ranks, this run " + std::to_string(ranks) +
             ": kernels are timed at the plan's shapes, collectives in the groups that fit");
    }

    const kernels::DeviceInfo info = backends.front()->info();
    json doc;
    json libraries = info.libraries;
    // The data checks' reference is the CPU (Eigen) code on every backend.
    for (const auto& [name, version] : kernels::cpu::make_cpu_backend()->info().libraries) libraries[name] = version;
    if (const std::string mpi = world.library_version(); !mpi.empty()) libraries["mpi"] = mpi;
    doc["harness"] = {{"version", SPLITSIM_VERSION},
                      {"backend", o.backend},
                      {"device", info.name},
                      {"device_details", info.details},
                      {"hostname", hostname()},
                      {"timestamp", utc_timestamp()},
                      {"libraries", libraries},
                      {"ranks", ranks},
                      {"processes", world.size()},
                      {"warmup", o.warmup},
                      {"repetitions", o.repetitions}};
    doc["model"] = model.name;
    doc["plan"] = plan::to_json(plan);
    doc["kernels"] = json::array();
    doc["collectives"] = json::array();
    int failed = 0;

    // Kernels are timed twice. Burst: on rank 0's device while the other ranks wait without
    // spinning, the time of an isolated kernel. Sustained: the same sweep on every processor at once
    // (the first min(ranks, processors) ranks, started together by a barrier before each timed
    // pass, each repetition's time the maximum over them), as a plan's ranks compute: they share the
    // memory bandwidth, the caches and the power budget, which is why sustained matmul rates sit
    // below burst ones. `time_s` is the sustained figure, the one calibration fits; `burst_time_s`
    // the isolated one. Processors: the machine's cores on the CPU (ranks beyond them would
    // time-share a core, which the cluster's ranks_per_device describes, not the device's rates);
    // on CUDA the GPUs of the run's processes (a process driving several GPUs times the first).
    const int processors = cuda ? world.size() : validate::processors();
    const int sustained_ranks = std::min(world.size(), processors);
    doc["harness"]["processors"] = processors;
    doc["harness"]["sustained_ranks"] = sustained_ranks;
    const double rotating = rotating_bytes(model, plan, cuda);
    doc["harness"]["rotating_bytes"] = rotating;
    if (o.kernels) {
        const double scales[] = {0.5, 1.0, 2.0};
        const std::vector<KernelCase> cases = kernel_cases(model, plan, scales);
        if (rank0) {
            KernelBench bench(*backends.front(), act, tf32, o.warmup, o.repetitions, rotating);
            // Progress on standard error: a sweep takes tens of seconds.
            note("kernels: " + std::to_string(cases.size()) + " shapes (each pass, " + std::to_string(o.warmup) + " warm-up and " +
                 std::to_string(o.repetitions) + " timed runs) on rank 0's device");
            for (const KernelCase& c : cases) {
                for (auto& [pass, r] : bench.run(c)) {
                    json e = {{"op", c.op},
                              {"kind", c.kind},
                              {"pass", to_string(pass)},
                              {"dtype", kernels::to_string(r.dtype)},
                              {"shape", case_shape(c)},
                              {"scale", c.scale},
                              {"plan_shape", c.at_plan_shape()},
                              {"elements", c.kernel == Kernel::gemm ? 0 : c.elements},
                              {"flops", r.flops},
                              {"bytes", r.bytes},
                              {"repetitions", o.repetitions}};
                    if (c.kernel == Kernel::gemm) {
                        e["product"] = {{"m", r.product.m}, {"n", r.product.n}, {"k", r.product.k},
                                        {"trans_a", r.product.trans_a}, {"trans_b", r.product.trans_b}};
                    }
                    e["timing"] = {{"method", r.timing.method}, {"runs_per_repetition", r.timing.runs_per_repetition}};
                    if (r.check.passed) {
                        e["time_s"] = time_json(summarize(r.timing.seconds));
                        e["burst_time_s"] = e["time_s"];
                        e["check"] = "passed";
                    } else {
                        e["time_s"] = nullptr;
                        e["burst_time_s"] = nullptr;
                        e["check"] = "failed";
                        e["check_detail"] = r.check.detail;
                        ++failed;
                        note("data check failed: " + c.op + " " + std::string(to_string(pass)) + ": " + r.check.detail);
                    }
                    e["check_error_ratio"] = r.check.max_error;
                    doc["kernels"].push_back(std::move(e));
                }
            }
        }
        world.quiet_barrier();
        if (sustained_ranks > 1) {
            note("kernels: the same shapes on " + std::to_string(sustained_ranks) + " ranks at once (sustained)");
            const bool busy = world.rank() < sustained_ranks;
            const std::unique_ptr<kernels::ProcessGroup> together = world.split(busy ? 0 : 1, world.rank());
            if (busy) {
                KernelBench bench(*backends.front(), act, tf32, o.warmup, o.repetitions, rotating, [&] { together->quiet_barrier(); });
                std::size_t entry = 0;
                for (const KernelCase& c : cases) {
                    for (auto& [pass, r] : bench.run(c)) {
                        const std::vector<double> times = together->max(r.timing.seconds);
                        const bool passed = together->all(r.check.passed);
                        if (!rank0) continue;
                        json& e = doc["kernels"][entry++];
                        if (e["check"] != "passed") continue;  // failed when timed alone: no time either way
                        if (passed) {
                            e["time_s"] = time_json(summarize(times));
                        } else {
                            e["time_s"] = nullptr;
                            e["burst_time_s"] = nullptr;
                            e["check"] = "failed";
                            e["check_detail"] = "failed on a rank when timed on " + std::to_string(sustained_ranks) + " ranks at once";
                            ++failed;
                            note("data check failed: " + c.op + " " + std::string(to_string(pass)) + " (sustained)");
                        }
                    }
                }
            }
            world.quiet_barrier();
        }
    }

    // Collectives: nccl-tests' sweep of sizes in each group of the plan's parallel dimensions,
    // out of place, every group of a dimension at once (as in training).
    if (o.collectives) {
        std::vector<std::string> skipped;
        const std::vector<GroupCase> groups = group_cases(plan, ranks, &skipped);
        for (const std::string& s : skipped) note("skipped " + s);
        if (groups.empty()) note("no collective group of more than one rank fits this run; collectives not measured");
        const std::vector<std::int64_t> sizes = size_sweep(o.min_bytes, max_bytes);
        std::vector<Backend*> local;
        for (auto& b : backends) local.push_back(b.get());
        for (const GroupCase& g : groups) {
            // Gradients in their reduction format, the whole world in fp32, activations elsewhere.
            const DType dtype = g.name == "data" ? grad : (g.name == "world" ? DType::fp32 : act);
            const auto esize = static_cast<std::int64_t>(kernels::size_of(dtype));
            std::unique_ptr<kernels::Communicator> comm;
            if (!cuda) {
#if SPLITSIM_HAVE_MPI
                // Waiting as execute's collectives wait, so that the calibrated times are those a
                // training step sees.
                comm = kernels::mpi::make_communicator(world, g.layout, o.timeout_s, cpu_waiting(ranks));
#else
                throw std::logic_error("groups of several ranks without MPI");
#endif
            } else {
#if SPLITSIM_HAVE_NCCL
                comm = kernels::nccl::make_communicator(world, local, g.layout, o.timeout_s);
#else
                note("this build has no NCCL: collectives not measured");
                break;
#endif
            }
            if (!libraries.contains("nccl") && cuda) {
                libraries["nccl"] = comm->library_version();
                doc["harness"]["libraries"] = libraries;
            }
            const int n = g.layout.size;
            note("collectives: " + g.name + " groups of " + std::to_string(n) + " ranks, " + std::to_string(sizes.size()) +
                 " sizes of each collective");
            // Buffers for the largest message, reused for every size (nccl-tests does the same).
            const std::int64_t max_elements = max_bytes / esize;
            std::vector<Tensor> send, recv;
            for (Backend* b : local) {
                send.push_back(b->allocate(static_cast<std::size_t>(max_elements), dtype));
                recv.push_back(b->allocate(static_cast<std::size_t>(max_elements), dtype));
            }
            std::vector<const Tensor*> send_ptrs;
            std::vector<Tensor*> recv_ptrs;
            for (int i = 0; i < locals; ++i) {
                send_ptrs.push_back(&send[static_cast<std::size_t>(i)]);
                recv_ptrs.push_back(&recv[static_cast<std::size_t>(i)]);
            }
            for (CollectiveKind kind : kAllCollectives) {
                for (std::int64_t bytes : sizes) {
                    // Whole elements, divisible among the group's ranks.
                    const std::int64_t elements = bytes / esize / n * n;
                    if (elements == 0) continue;
                    const auto count = static_cast<std::size_t>(elements);
                    const std::size_t in_n = kernels::send_elements(kind, count, n);
                    const std::size_t out_n = kernels::recv_elements(kind, count, n);
                    for (int i = 0; i < locals; ++i) {
                        const int position = g.layout.position_of(comm->rank(i));
                        local[static_cast<std::size_t>(i)]->fill_pattern(send[static_cast<std::size_t>(i)], in_n, position);
                        local[static_cast<std::size_t>(i)]->zero(recv[static_cast<std::size_t>(i)]);
                    }
                    std::vector<double> times =
                        comm->time([&] { comm->run(kind, count, send_ptrs, recv_ptrs); }, o.warmup, o.repetitions);
                    comm->synchronize();
                    bool ok = true;
                    for (int i = 0; i < locals; ++i) {
                        const int position = g.layout.position_of(comm->rank(i));
                        ok = ok && local[static_cast<std::size_t>(i)]->count_mismatches(recv[static_cast<std::size_t>(i)], out_n, kind, n, position) == 0;
                    }
                    times = world.max(times);
                    ok = world.all(ok);
                    const double s_bytes = static_cast<double>(elements * esize);
                    json e = {{"op", to_string(kind)},
                              {"ranks", n},
                              {"group", g.name},
                              {"stride", g.layout.stride},
                              {"groups", ranks / n},
                              {"bytes", elements * esize},
                              {"dtype", kernels::to_string(dtype)},
                              {"repetitions", o.repetitions}};
                    if (ok) {
                        const Summary s = summarize(times);
                        const double algbw = s_bytes / s.median / 1e9;  // nccl-tests: GB/s = 1e9 B/s
                        e["time_s"] = time_json(s);
                        e["algbw_GBps"] = algbw;
                        e["busbw_GBps"] = algbw * bus_bandwidth_factor(kind, n);
                        e["check"] = "passed";
                    } else {
                        e["time_s"] = nullptr;
                        e["algbw_GBps"] = nullptr;
                        e["busbw_GBps"] = nullptr;
                        e["check"] = "failed";
                        ++failed;
                        note("data check failed: " + std::string(to_string(kind)) + " of " + std::to_string(elements * esize) +
                             " B in " + g.name + " groups");
                    }
                    doc["collectives"].push_back(std::move(e));
                }
            }
        }
    }

    // Compute under communication: each forward GEMM at the plan's shape timed on every rank at
    // once, alone and again while the rank's main thread runs all-reduces in its tensor-parallel
    // group (else the first group measured) until every rank's GEMMs are done, as a collective
    // overlaps a layer's compute in training. The ratio fits the device's overlap_slowdown. On the
    // CPU the GEMMs run on a second thread of the rank and the collectives wait as `execute`'s do;
    // the CUDA backend has no second stream here yet, so it is not measured.
    doc["overlap"] = json::array();
#if SPLITSIM_HAVE_MPI
    if (o.kernels && o.collectives && !cuda && ranks > 1) {
        std::vector<std::string> unused;
        const std::vector<GroupCase> groups = group_cases(plan, ranks, &unused);
        const auto tensor = std::find_if(groups.begin(), groups.end(), [](const GroupCase& g) { return g.name == "tensor"; });
        if (!groups.empty()) {
            const GroupCase& g = tensor != groups.end() ? *tensor : groups.front();
            const std::unique_ptr<kernels::Communicator> comm =
                kernels::mpi::make_communicator(world, g.layout, o.timeout_s, cpu_waiting(ranks));
            const std::int64_t bytes = std::max<std::int64_t>(4 * g.layout.size, max_bytes / 4);
            const auto count = static_cast<std::size_t>(bytes / 4 / g.layout.size * g.layout.size);
            Tensor send = backends.front()->allocate(count, DType::fp32);
            Tensor recv = backends.front()->allocate(count, DType::fp32);
            backends.front()->fill_pattern(send, count, g.layout.position_of(world.rank()));
            const Tensor* send_ptrs[] = {&send};
            Tensor* recv_ptrs[] = {&recv};
            const double scales[] = {1.0};
            std::vector<KernelCase> gemms = kernel_cases(model, plan, scales);
            std::erase_if(gemms, [](const KernelCase& c) { return c.kernel != Kernel::gemm; });
            note("overlap: " + std::to_string(gemms.size()) + " GEMMs alone and under all-reduces of " + std::to_string(count * 4) +
                 " B in " + g.name + " groups");
            KernelBench bench(*backends.front(), act, tf32, o.warmup, o.repetitions, rotating, [&] { world.quiet_barrier(); });
            KernelBench beside(*backends.front(), act, tf32, o.warmup, o.repetitions, rotating);  // its thread makes no MPI call
            for (const KernelCase& c : gemms) {
                const PassResult alone = bench.run(c, Pass::forward);
                PassResult overlapped;
                std::atomic<bool> done = false;
                world.quiet_barrier();
                std::exception_ptr error;
                std::thread compute([&] {
                    try {
                        overlapped = beside.run(c, Pass::forward);
                    } catch (...) {
                        error = std::current_exception();
                    }
                    done = true;
                });
                // Collectives until every rank's GEMMs are done (the flag is agreed on after each one,
                // so every rank runs the same number of collectives).
                int collectives = 0;
                do {
                    comm->run(CollectiveKind::all_reduce, count, send_ptrs, recv_ptrs);
                    ++collectives;
                } while (!world.all(done.load()));
                compute.join();
                if (error) std::rethrow_exception(error);
                const std::vector<double> alone_times = world.max(alone.timing.seconds);
                const std::vector<double> overlapped_times = world.max(overlapped.timing.seconds);
                const bool passed = world.all(alone.check.passed && overlapped.check.passed);
                if (!passed) {
                    ++failed;
                    note("data check failed: " + c.op + " forward (overlap)");
                    continue;
                }
                if (!rank0) continue;
                doc["overlap"].push_back({{"op", c.op},
                                          {"kind", c.kind},
                                          {"pass", "forward"},
                                          {"shape", case_shape(c)},
                                          {"flops", alone.flops},
                                          {"collective", "all_reduce"},
                                          {"group", g.name},
                                          {"ranks", g.layout.size},
                                          {"bytes", count * 4},
                                          {"collectives_run", collectives},
                                          {"repetitions", o.repetitions},
                                          {"alone_time_s", time_json(summarize(alone_times))},
                                          {"time_s", time_json(summarize(overlapped_times))},
                                          {"check", "passed"}});
            }
        }
    }
#endif

    // Every rank learns whether any check failed (kernel checks run on rank 0 only).
    std::vector<double> failures = world.max(std::vector<double>{static_cast<double>(failed)});
    return {std::move(doc), static_cast<int>(failures.front())};
}

}  // namespace splitsim::validate
