// The CPU kernels with Eigen. Single-threaded: Eigen parallelises GEMMs only under OpenMP, which the
// build does not enable, and EIGEN_DONT_PARALLELIZE makes that explicit (one rank per core).
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

#include <algorithm>
#include <cassert>
#include <cmath>

#include "splitsim/kernels/cpu.hpp"

namespace splitsim::kernels::cpu {
namespace {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class S>
using Row = Eigen::Array<S, 1, Eigen::Dynamic>;
template <class S>
using RowMap = Eigen::Map<Row<S>>;
template <class S>
using ConstRowMap = Eigen::Map<const Row<S>>;

template <class S>
ConstRowMap<S> row(const S* base, std::int64_t r, std::int64_t cols, std::int64_t offset = 0, std::int64_t stride = -1) {
    if (stride < 0) stride = cols;
    return ConstRowMap<S>(base + r * stride + offset, cols);
}
template <class S>
RowMap<S> row(S* base, std::int64_t r, std::int64_t cols, std::int64_t offset = 0, std::int64_t stride = -1) {
    if (stride < 0) stride = cols;
    return RowMap<S>(base + r * stride + offset, cols);
}

// sqrt(2/pi) and the cubic coefficient of the tanh approximation of GeLU (Hendrycks & Gimpel 2016,
// arXiv 1606.08415, Sec. 2).
constexpr double kGeluScale = 0.7978845608028654;
constexpr double kGeluCubic = 0.044715;

}  // namespace

template <class S>
void gemm(const GemmShape& s, const S* a, const S* b, S* c) {
    const Eigen::Index m = s.m, n = s.n, k = s.k;
    for (std::int64_t i = 0; i < s.batch; ++i) {
        Eigen::Map<const Mat<S>> A(a + i * m * k, s.trans_a ? k : m, s.trans_a ? m : k);
        Eigen::Map<const Mat<S>> B(b + i * k * n, s.trans_b ? n : k, s.trans_b ? k : n);
        Eigen::Map<Mat<S>> C(c + i * m * n, m, n);
        if (s.accumulate) {
            if (!s.trans_a && !s.trans_b) C.noalias() += A * B;
            else if (s.trans_a && !s.trans_b) C.noalias() += A.transpose() * B;
            else if (!s.trans_a && s.trans_b) C.noalias() += A * B.transpose();
            else C.noalias() += A.transpose() * B.transpose();
        } else if (!s.trans_a && !s.trans_b) {
            C.noalias() = A * B;
        } else if (s.trans_a && !s.trans_b) {
            C.noalias() = A.transpose() * B;
        } else if (!s.trans_a && s.trans_b) {
            C.noalias() = A * B.transpose();
        } else {
            C.noalias() = A.transpose() * B.transpose();
        }
    }
}

template <class S>
void layernorm_forward(Rows s, S eps, const S* x, const S* gamma, const S* beta, S* y, S* mean, S* rstd) {
    const auto g = row(gamma, 0, s.cols);
    const auto bt = row(beta, 0, s.cols);
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto xr = row(x, r, s.cols);
        const S mu = xr.mean();
        const S var = (xr - mu).square().mean();
        const S inv = S(1) / std::sqrt(var + eps);
        row(y, r, s.cols) = (xr - mu) * inv * g + bt;
        mean[r] = mu;
        rstd[r] = inv;
    }
}

// With xhat = (x - mean) rstd and g = dy gamma: dx = rstd (g - mean(g) - xhat mean(g xhat)),
// dgamma = sum over rows of dy xhat, dbeta = sum over rows of dy.
template <class S>
void layernorm_backward(Rows s, const S* dy, const S* x, const S* gamma, const S* mean, const S* rstd, S* dx,
                        S* dgamma, S* dbeta) {
    const auto gm = row(gamma, 0, s.cols);
    auto dg = row(dgamma, 0, s.cols);
    auto db = row(dbeta, 0, s.cols);
    dg.setZero();
    db.setZero();
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto dyr = row(dy, r, s.cols);
        const Row<S> xhat = (row(x, r, s.cols) - mean[r]) * rstd[r];
        const Row<S> g = dyr * gm;
        row(dx, r, s.cols) = rstd[r] * (g - g.mean() - xhat * (g * xhat).mean());
        dg += dyr * xhat;
        db += dyr;
    }
}

template <class S>
void rmsnorm_forward(Rows s, S eps, const S* x, const S* gamma, S* y, S* rstd) {
    const auto g = row(gamma, 0, s.cols);
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto xr = row(x, r, s.cols);
        const S inv = S(1) / std::sqrt(xr.square().mean() + eps);
        row(y, r, s.cols) = xr * inv * g;
        rstd[r] = inv;
    }
}

// y = x rstd gamma with rstd = (mean(x^2) + eps)^(-1/2): with g = dy gamma,
// dx = rstd (g - x rstd^2 mean(g x)), dgamma = sum over rows of dy x rstd.
template <class S>
void rmsnorm_backward(Rows s, const S* dy, const S* x, const S* gamma, const S* rstd, S* dx, S* dgamma) {
    const auto gm = row(gamma, 0, s.cols);
    auto dg = row(dgamma, 0, s.cols);
    dg.setZero();
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto dyr = row(dy, r, s.cols);
        const auto xr = row(x, r, s.cols);
        const Row<S> g = dyr * gm;
        const S inv = rstd[r];
        row(dx, r, s.cols) = inv * (g - xr * (inv * inv * (g * xr).mean()));
        dg += dyr * xr * inv;
    }
}

template <class S>
void softmax_forward(const Softmax& s, const S* x, S* y) {
    const S scale = static_cast<S>(s.scale);
    for (std::int64_t r = 0; r < s.rows(); ++r) {
        const std::int64_t visible = s.visible_keys(r);
        auto yr = row(y, r, s.keys);
        yr.setZero();
        if (visible == 0) continue;
        const Row<S> z = row(x, r, visible, 0, s.keys) * scale;
        const Row<S> e = (z - z.maxCoeff()).exp();
        yr.head(visible) = e / e.sum();
    }
}

// y = softmax(scale x): dx = scale y (dy - sum(dy y)); masked entries have y = 0 and get dx = 0.
template <class S>
void softmax_backward(const Softmax& s, const S* y, const S* dy, S* dx) {
    const S scale = static_cast<S>(s.scale);
    for (std::int64_t r = 0; r < s.rows(); ++r) {
        const auto yr = row(y, r, s.keys);
        const auto dyr = row(dy, r, s.keys);
        const S dot = (yr * dyr).sum();
        row(dx, r, s.keys) = scale * yr * (dyr - dot);
    }
}

template <class S>
void gelu_forward(std::int64_t n, const S* x, S* y) {
    const auto xa = row(x, 0, n);
    const Row<S> t = (S(kGeluScale) * (xa + S(kGeluCubic) * xa.cube())).tanh();
    row(y, 0, n) = S(0.5) * xa * (S(1) + t);
}

// d/dx [x/2 (1 + tanh u)] with u = c (x + a x^3): (1 + t)/2 + x/2 (1 - t^2) c (1 + 3 a x^2).
template <class S>
void gelu_backward(std::int64_t n, const S* x, const S* dy, S* dx) {
    const auto xa = row(x, 0, n);
    const Row<S> t = (S(kGeluScale) * (xa + S(kGeluCubic) * xa.cube())).tanh();
    const Row<S> grad = S(0.5) * (S(1) + t) +
                        S(0.5) * xa * (S(1) - t.square()) * S(kGeluScale) * (S(1) + S(3 * kGeluCubic) * xa.square());
    row(dx, 0, n) = row(dy, 0, n) * grad;
}

template <class S>
void swiglu_forward(Rows s, const S* x, S* y) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto gate = row(x, r, s.cols, 0, 2 * s.cols);
        const auto up = row(x, r, s.cols, s.cols, 2 * s.cols);
        row(y, r, s.cols) = gate / (S(1) + (-gate).exp()) * up;
    }
}

// silu(g) = g sigma(g), silu'(g) = sigma(g) (1 + g (1 - sigma(g))): dgate = dy up silu'(gate),
// dup = dy silu(gate).
template <class S>
void swiglu_backward(Rows s, const S* x, const S* dy, S* dx) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto gate = row(x, r, s.cols, 0, 2 * s.cols);
        const auto up = row(x, r, s.cols, s.cols, 2 * s.cols);
        const auto dyr = row(dy, r, s.cols);
        const Row<S> sig = S(1) / (S(1) + (-gate).exp());
        row(dx, r, s.cols, 0, 2 * s.cols) = dyr * up * sig * (S(1) + gate * (S(1) - sig));
        row(dx, r, s.cols, s.cols, 2 * s.cols) = dyr * gate * sig;
    }
}

template <class S>
void cross_entropy_forward(Rows s, const S* logits, const std::int32_t* targets, S* loss, S* lse) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto l = row(logits, r, s.cols);
        assert(targets[r] >= 0 && targets[r] < s.cols);
        const S mx = l.maxCoeff();
        const S log_sum = mx + std::log((l - mx).exp().sum());
        lse[r] = log_sum;
        loss[r] = log_sum - l(targets[r]);
    }
}

template <class S>
void cross_entropy_backward(Rows s, const S* logits, const std::int32_t* targets, const S* lse, const S* dloss,
                            S* dlogits) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        auto d = row(dlogits, r, s.cols);
        d = (row(logits, r, s.cols) - lse[r]).exp() * dloss[r];
        d(targets[r]) -= dloss[r];
    }
}

template <class S>
void adam_step(std::int64_t n, const Adam& a, S* param, const S* grad, S* m, S* v) {
    const S b1 = a.beta1, b2 = a.beta2, lr = a.lr, eps = a.eps;
    const S bc1 = S(1) - std::pow(b1, static_cast<S>(a.step));
    const S bc2 = S(1) - std::pow(b2, static_cast<S>(a.step));
    auto p = row(param, 0, n);
    auto ma = row(m, 0, n);
    auto va = row(v, 0, n);
    const auto g = row(grad, 0, n);
    p *= S(1) - lr * static_cast<S>(a.weight_decay);
    ma = b1 * ma + (S(1) - b1) * g;
    va = b2 * va + (S(1) - b2) * g.square();
    p -= lr * (ma / bc1) / ((va / bc2).sqrt() + eps);
}

template <class S>
void axpy(std::int64_t n, S alpha, const S* x, S* y) {
    row(y, 0, n) += alpha * row(x, 0, n);
}

template <class S>
void bias_add(Rows s, const S* bias, S* y) {
    const auto b = row(bias, 0, s.cols);
    for (std::int64_t r = 0; r < s.rows; ++r) row(y, r, s.cols) += b;
}

template <class S>
void column_sum(Rows s, const S* x, S* sum) {
    auto out = row(sum, 0, s.cols);
    for (std::int64_t r = 0; r < s.rows; ++r) out += row(x, r, s.cols);
}

template <class S>
void permute_0213(const Dims4& d, const S* x, S* y) {
    const std::int64_t inner = d[3];
    for (std::int64_t a = 0; a < d[0]; ++a) {
        for (std::int64_t b = 0; b < d[1]; ++b) {
            for (std::int64_t c = 0; c < d[2]; ++c) {
                const S* from = x + ((a * d[1] + b) * d[2] + c) * inner;
                S* to = y + ((a * d[2] + c) * d[1] + b) * inner;
                std::copy(from, from + inner, to);
            }
        }
    }
}

template <class S>
void embedding_forward(Rows s, const std::int32_t* tokens, const S* table, std::int64_t first_row,
                       std::int64_t table_rows, S* y) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const std::int64_t t = static_cast<std::int64_t>(tokens[r]) - first_row;
        if (t >= 0 && t < table_rows) row(y, r, s.cols) = row(table, t, s.cols);
        else row(y, r, s.cols).setZero();
    }
}

template <class S>
void embedding_backward(Rows s, const std::int32_t* tokens, const S* dy, std::int64_t first_row,
                        std::int64_t table_rows, S* dtable) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const std::int64_t t = static_cast<std::int64_t>(tokens[r]) - first_row;
        if (t >= 0 && t < table_rows) row(dtable, t, s.cols) += row(dy, r, s.cols);
    }
}

template <class S>
void cross_entropy_shard_forward(Rows s, const S* logits, const std::int32_t* targets, std::int64_t first_column,
                                 S* shard_lse, S* target_logit) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        const auto l = row(logits, r, s.cols);
        const S mx = l.maxCoeff();
        shard_lse[r] = mx + std::log((l - mx).exp().sum());
        const std::int64_t t = static_cast<std::int64_t>(targets[r]) - first_column;
        target_logit[r] = t >= 0 && t < s.cols ? l(t) : S(0);
    }
}

// log sum_p exp(l_p) = m + log sum_p exp(l_p - m) with m the largest, so no term overflows.
template <class S>
void cross_entropy_combine(std::int64_t rows, int shards, const S* shard_lse, const S* target_logit, S* lse, S* loss) {
    for (std::int64_t r = 0; r < rows; ++r) {
        S mx = shard_lse[r];
        for (int p = 1; p < shards; ++p) mx = std::max(mx, shard_lse[p * rows + r]);
        S sum = 0;
        for (int p = 0; p < shards; ++p) sum += std::exp(shard_lse[p * rows + r] - mx);
        lse[r] = mx + std::log(sum);
        loss[r] = lse[r] - target_logit[r];
    }
}

template <class S>
void cross_entropy_shard_backward(Rows s, const S* logits, const std::int32_t* targets, std::int64_t first_column,
                                  const S* lse, S dloss, S* dlogits) {
    for (std::int64_t r = 0; r < s.rows; ++r) {
        auto d = row(dlogits, r, s.cols);
        d = (row(logits, r, s.cols) - lse[r]).exp() * dloss;
        const std::int64_t t = static_cast<std::int64_t>(targets[r]) - first_column;
        if (t >= 0 && t < s.cols) d(t) -= dloss;
    }
}

#define SPLITSIM_INSTANTIATE(S)                                                                                    \
    template void gemm<S>(const GemmShape&, const S*, const S*, S*);                                               \
    template void layernorm_forward<S>(Rows, S, const S*, const S*, const S*, S*, S*, S*);                         \
    template void layernorm_backward<S>(Rows, const S*, const S*, const S*, const S*, const S*, S*, S*, S*);       \
    template void rmsnorm_forward<S>(Rows, S, const S*, const S*, S*, S*);                                         \
    template void rmsnorm_backward<S>(Rows, const S*, const S*, const S*, const S*, S*, S*);                       \
    template void softmax_forward<S>(const Softmax&, const S*, S*);                                                \
    template void softmax_backward<S>(const Softmax&, const S*, const S*, S*);                                     \
    template void gelu_forward<S>(std::int64_t, const S*, S*);                                                     \
    template void gelu_backward<S>(std::int64_t, const S*, const S*, S*);                                          \
    template void swiglu_forward<S>(Rows, const S*, S*);                                                           \
    template void swiglu_backward<S>(Rows, const S*, const S*, S*);                                                \
    template void cross_entropy_forward<S>(Rows, const S*, const std::int32_t*, S*, S*);                           \
    template void cross_entropy_backward<S>(Rows, const S*, const std::int32_t*, const S*, const S*, S*);          \
    template void adam_step<S>(std::int64_t, const Adam&, S*, const S*, S*, S*);                                  \
    template void axpy<S>(std::int64_t, S, const S*, S*);                                                          \
    template void bias_add<S>(Rows, const S*, S*);                                                                 \
    template void column_sum<S>(Rows, const S*, S*);                                                               \
    template void permute_0213<S>(const Dims4&, const S*, S*);                                                     \
    template void embedding_forward<S>(Rows, const std::int32_t*, const S*, std::int64_t, std::int64_t, S*);       \
    template void embedding_backward<S>(Rows, const std::int32_t*, const S*, std::int64_t, std::int64_t, S*);      \
    template void cross_entropy_shard_forward<S>(Rows, const S*, const std::int32_t*, std::int64_t, S*, S*);       \
    template void cross_entropy_combine<S>(std::int64_t, int, const S*, const S*, S*, S*);                         \
    template void cross_entropy_shard_backward<S>(Rows, const S*, const std::int32_t*, std::int64_t, const S*, S, S*);

SPLITSIM_INSTANTIATE(float)
SPLITSIM_INSTANTIATE(double)
#undef SPLITSIM_INSTANTIATE

}  // namespace splitsim::kernels::cpu
