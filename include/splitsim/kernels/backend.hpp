// The kernels of one training step behind one interface, with two backends: CPU (Eigen, fp32, one
// thread per rank) and CUDA (cuBLAS GEMMs and the project's own kernels, fp32/fp16/bf16).
//
// Every kernel is row-major. On the CUDA backend kernels are queued on the backend's stream and
// run asynchronously; download() and synchronize() wait for them. Element-wise kernels compute in
// fp32 whatever the storage type; statistics (mean, rstd, log-sum-exp, loss) are always fp32, as
// are the optimizer's parameters, gradients and moments (mixed-precision master weights).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "splitsim/common/collective.hpp"
#include "splitsim/kernels/tensor.hpp"

namespace splitsim::kernels {

// C = op(A) op(B): C is m x n, op(A) is m x k, op(B) is k x n, all row-major; op transposes the
// stored matrix when its flag is set (A stored k x m, B stored n x k). `batch` independent products
// at strides m k, k n and m n. Accumulation is fp32; `tf32` lets fp32 inputs use TF32 tensor cores.
// With `accumulate`, C += op(A) op(B); C may then be fp32 under fp16/bf16 inputs, as a weight
// gradient summed into fp32 main gradients (Megatron-LM's gradient-accumulation fusion).
struct GemmShape {
    std::int64_t m = 0;
    std::int64_t n = 0;
    std::int64_t k = 0;
    std::int64_t batch = 1;
    bool trans_a = false;
    bool trans_b = false;
    bool tf32 = false;
    bool accumulate = false;
};

// A matrix processed row by row (norms, cross-entropy, SwiGLU's output).
struct Rows {
    std::int64_t rows = 0;
    std::int64_t cols = 0;
};

// Scaled, optionally causal softmax over attention scores: `batch` blocks of `queries` rows of
// `keys` columns. Row q of a block sees keys j <= q + keys - queries under the causal mask (the
// queries are the last ones of the sequence, as with a KV cache or a context-parallel chunk);
// masked probabilities are 0.
struct Softmax {
    std::int64_t batch = 1;
    std::int64_t queries = 0;
    std::int64_t keys = 0;
    float scale = 1.0f;
    bool causal = false;

    [[nodiscard]] std::int64_t rows() const { return batch * queries; }
    // Number of keys row `row` (counted over all blocks) attends to.
    [[nodiscard]] std::int64_t visible_keys(std::int64_t row) const {
        if (!causal) return keys;
        const std::int64_t q = row % queries;
        const std::int64_t v = q + keys - queries + 1;
        return v < 0 ? 0 : (v > keys ? keys : v);
    }
};

// AdamW as PyTorch and Apex's FusedAdam (adam_w_mode) implement it (Loshchilov & Hutter 2019,
// arXiv 1711.05101, Algorithm 2): p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
// p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
struct Adam {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.01f;
    int step = 1;
};

// Shape of a 4-dimensional row-major tensor.
using Dims4 = std::array<std::int64_t, 4>;

// Bytes of tensors a backend has allocated and not yet freed: now and at most since the last reset
// (views are not counted). On CUDA these are the caching allocator's bytes in use, as PyTorch's
// memory_allocated / max_memory_allocated count them.
struct MemoryUse {
    std::size_t current = 0;
    std::size_t peak = 0;
};

// A point in a backend's queue of work (a CUDA event on its stream; the steady clock on the CPU).
class Marker {
public:
    Marker() = default;
    Marker(const Marker&) = delete;
    Marker& operator=(const Marker&) = delete;
    virtual ~Marker() = default;
};

// How long one piece of work takes: seconds per run for each timed repetition, and how they were
// taken (kernels shorter than a launch would otherwise be timed with the launch gaps around them).
struct Timing {
    std::vector<double> seconds;  // one value per repetition: the repetition's time / runs_per_repetition
    int runs_per_repetition = 1;  // back-to-back runs each repetition times
    std::string method;           // "cuda-graph", "cuda-events" or "steady-clock"
};

// Hardware and software a measurement was taken on.
struct DeviceInfo {
    std::string backend;                          // "cpu" | "cuda"
    std::string name;                             // CPU model or GPU name
    std::map<std::string, std::string> details;   // driver, runtime, clocks, memory
    std::map<std::string, std::string> libraries; // name -> version
};

class Backend {
public:
    Backend() = default;
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;
    virtual ~Backend() = default;

    [[nodiscard]] virtual std::string_view name() const = 0;
    [[nodiscard]] virtual DeviceInfo info() const = 0;
    // DTypes the kernels accept for activations on this backend.
    [[nodiscard]] virtual bool supports(DType dtype) const = 0;

    [[nodiscard]] virtual Tensor allocate(std::size_t elements, DType dtype) = 0;
    // Copies host values in, converting fp32 to the tensor's type (round to nearest even).
    virtual void upload(std::span<const float> host, Tensor& dst) = 0;
    virtual void upload(std::span<const std::int32_t> host, Tensor& dst) = 0;
    // Waits for queued work, then copies out, converting to fp32.
    virtual void download(const Tensor& src, std::span<float> host) = 0;
    // Sets every byte to zero.
    virtual void zero(Tensor& t) = 0;
    // Test data made where the tensor lives (fill.hpp): element i becomes
    // stored_value(t.dtype(), uniform_value(seed, i, lo, hi)); fp32, fp16 or bf16 tensors.
    virtual void fill_uniform(Tensor& t, std::uint64_t seed, float lo, float hi) = 0;
    // Waits for queued work, then copies `width` consecutive elements from each of `offsets` into
    // `host` (offsets.size() x width values, converted to fp32): the entries a data check samples.
    virtual void download_samples(const Tensor& src, std::span<const std::int64_t> offsets, std::int64_t width,
                                  std::span<float> host) = 0;
    virtual void synchronize() = 0;

    // Runs `work` warmup times, then times `repetitions` repetitions. CUDA: each repetition launches
    // a CUDA graph of back-to-back runs that lasts about 100 us or more (as nccl-tests' -G and
    // cuBLAS benchmarks time short work), timed with events around the launch, so the time of a
    // few-microsecond kernel holds no launch gaps; where the work cannot be captured, the same
    // runs are launched one by one between the events ("cuda-events"). CPU: each repetition is one
    // run on the steady clock.
    [[nodiscard]] virtual Timing time(const std::function<void()>& work, int warmup, int repetitions) = 0;
    // Marks the point the queued work has reached; seconds_between waits for both marks.
    [[nodiscard]] virtual std::unique_ptr<Marker> mark() = 0;
    [[nodiscard]] virtual double seconds_between(const Marker& from, const Marker& to) = 0;
    [[nodiscard]] virtual MemoryUse memory() const = 0;
    virtual void reset_peak_memory() = 0;

    virtual void gemm(const GemmShape& s, const Tensor& a, const Tensor& b, Tensor& c) = 0;

    // LayerNorm (Ba et al. 2016, arXiv 1607.06450): y = (x - mean) rstd gamma + beta.
    virtual void layernorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                   Tensor& y, Tensor& mean, Tensor& rstd) = 0;
    // dgamma and dbeta are fp32 and overwritten (not accumulated).
    virtual void layernorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                    const Tensor& mean, const Tensor& rstd, Tensor& dx, Tensor& dgamma,
                                    Tensor& dbeta) = 0;
    // RMSNorm (Zhang & Sennrich 2019, arXiv 1910.07467): y = x rstd gamma, rstd = 1/sqrt(mean(x^2) + eps).
    virtual void rmsnorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, Tensor& y,
                                 Tensor& rstd) = 0;
    virtual void rmsnorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma,
                                  const Tensor& rstd, Tensor& dx, Tensor& dgamma) = 0;

    virtual void softmax_forward(const Softmax& s, const Tensor& x, Tensor& y) = 0;
    virtual void softmax_backward(const Softmax& s, const Tensor& y, const Tensor& dy, Tensor& dx) = 0;

    // GeLU, tanh approximation (Hendrycks & Gimpel 2016, arXiv 1606.08415, Sec. 2; Megatron-LM's
    // fused bias_gelu uses the same form).
    virtual void gelu_forward(std::int64_t n, const Tensor& x, Tensor& y) = 0;
    virtual void gelu_backward(std::int64_t n, const Tensor& x, const Tensor& dy, Tensor& dx) = 0;
    // SwiGLU (Shazeer 2020, arXiv 2002.05202): x is rows x 2 cols, [gate | up]; y = silu(gate) up is
    // rows x cols.
    virtual void swiglu_forward(Rows s, const Tensor& x, Tensor& y) = 0;
    virtual void swiglu_backward(Rows s, const Tensor& x, const Tensor& dy, Tensor& dx) = 0;

    // Softmax cross-entropy over rows x vocabulary logits with int32 targets: loss and log-sum-exp
    // per row (fp32). The backward writes dlogits = (softmax - onehot) dloss.
    virtual void cross_entropy_forward(Rows s, const Tensor& logits, const Tensor& targets, Tensor& loss,
                                       Tensor& lse) = 0;
    virtual void cross_entropy_backward(Rows s, const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                        const Tensor& dloss, Tensor& dlogits) = 0;

    // y = x over n elements, converting between fp32, fp16 and bf16 (round to nearest even); a copy
    // when the types match.
    virtual void convert(std::int64_t n, const Tensor& x, Tensor& y) = 0;
    // y += alpha x over n elements; x and y may differ in type (bf16 gradients into fp32 sums).
    virtual void axpy(std::int64_t n, float alpha, const Tensor& x, Tensor& y) = 0;
    // y[r][c] += bias[c] over s.rows rows of s.cols (a linear layer's bias; a position table added to
    // every sequence); bias has y's type.
    virtual void bias_add(Rows s, const Tensor& bias, Tensor& y) = 0;
    // sum[c] += sum over rows r of x[r][c]; sum is fp32 (bias and position-table gradients).
    virtual void column_sum(Rows s, const Tensor& x, Tensor& sum) = 0;
    // y[a][c][b][e] = x[a][b][c][e] for x of shape `dims` (y is d0 x d2 x d1 x d3): the transposition
    // between token-major [b, s, heads, d] and head-major [b, heads, s, d] activations, and between
    // batch-major tokens and the rank-major chunks of sequence parallelism.
    virtual void permute_0213(const Dims4& dims, const Tensor& x, Tensor& y) = 0;

    // Embedding lookup from a table holding rows [first_row, first_row + table_rows) of the vocabulary
    // (Megatron-LM's vocabulary-parallel embedding): y[r] = table[tokens[r] - first_row] for tokens in
    // that range, zero for the others (summed over the tensor-parallel ranks afterwards). s.rows
    // tokens (int32), s.cols = hidden.
    virtual void embedding_forward(Rows s, const Tensor& tokens, const Tensor& table, std::int64_t first_row,
                                   std::int64_t table_rows, Tensor& y) = 0;
    // dtable[tokens[r] - first_row] += dy[r] for the tokens in range; dtable is fp32.
    virtual void embedding_backward(Rows s, const Tensor& tokens, const Tensor& dy, std::int64_t first_row,
                                    std::int64_t table_rows, Tensor& dtable) = 0;

    // Vocabulary-parallel cross-entropy (Megatron-LM, cross_entropy.py) over logits holding columns
    // [first_column, first_column + s.cols) of the vocabulary. Forward, per row: the log-sum-exp of
    // the local columns and the target's logit where the target is local, else 0 (both fp32).
    virtual void cross_entropy_shard_forward(Rows s, const Tensor& logits, const Tensor& targets,
                                             std::int64_t first_column, Tensor& shard_lse, Tensor& target_logit) = 0;
    // Combines `shards` log-sum-exps per row (shard_lse is shards x rows) with the summed target
    // logits: lse[r] = log sum_p exp(shard_lse[p][r]), loss[r] = lse[r] - target_logit[r] (fp32).
    virtual void cross_entropy_combine(std::int64_t rows, int shards, const Tensor& shard_lse,
                                       const Tensor& target_logit, Tensor& lse, Tensor& loss) = 0;
    // dlogits = (softmax - onehot(target)) dloss on the local columns, with the full rows' lse.
    virtual void cross_entropy_shard_backward(Rows s, const Tensor& logits, const Tensor& targets,
                                              std::int64_t first_column, const Tensor& lse, float dloss,
                                              Tensor& dlogits) = 0;

    // One AdamW step over n fp32 parameters, in place.
    virtual void adam_step(std::int64_t n, const Adam& a, Tensor& param, const Tensor& grad, Tensor& m,
                           Tensor& v) = 0;

    // The data check of collectives (check_pattern.hpp), where the data lives: fill the first `n`
    // elements with pattern_value(position, i); count the first `n` elements that differ from
    // expected_value(kind, ranks, position, n, i).
    virtual void fill_pattern(Tensor& t, std::size_t n, int position) = 0;
    [[nodiscard]] virtual std::size_t count_mismatches(const Tensor& t, std::size_t n, CollectiveKind kind, int ranks,
                                                       int position) = 0;
};

// Checks the arguments of Backend::download_samples: every run [offset, offset + width) inside
// `src`, and room for all of them in `host`. Throws std::invalid_argument.
inline void require_samples(const Tensor& src, std::span<const std::int64_t> offsets, std::int64_t width,
                            std::span<const float> host) {
    if (width < 0 || host.size() != offsets.size() * static_cast<std::size_t>(width)) {
        throw std::invalid_argument("download_samples: the host span must hold offsets x width values");
    }
    for (const std::int64_t offset : offsets) {
        if (offset < 0 || static_cast<std::size_t>(offset + width) > src.elements()) {
            throw std::invalid_argument("download_samples: elements [" + std::to_string(offset) + ", " +
                                        std::to_string(offset + width) + ") of a tensor of " +
                                        std::to_string(src.elements()));
        }
    }
}

}  // namespace splitsim::kernels
