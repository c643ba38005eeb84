// The CPU backend: host tensors and the fp32 Eigen kernels of kernels.cpp.
#include <Eigen/Core>

#include <algorithm>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <memory>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "splitsim/kernels/check_pattern.hpp"
#include "splitsim/kernels/cpu.hpp"
#include "splitsim/kernels/fill.hpp"

namespace splitsim::kernels::cpu {
namespace {

// Bytes of live host tensors; the backend and its tensors share it, so a tensor may outlive the backend.
struct Tally {
    MemoryUse use;
    void add(std::size_t bytes) {
        use.current += bytes;
        use.peak = std::max(use.peak, use.current);
    }
};

class HostStorage final : public Storage {
public:
    HostStorage(std::size_t bytes, std::shared_ptr<Tally> tally)
        : bytes_(std::make_unique_for_overwrite<double[]>((bytes + sizeof(double) - 1) / sizeof(double))), counted_(bytes), tally_(std::move(tally)) {
        tally_->add(counted_);
    }
    ~HostStorage() override { tally_->use.current -= counted_; }
    HostStorage(const HostStorage&) = delete;
    HostStorage& operator=(const HostStorage&) = delete;
    void* data() override { return bytes_.get(); }

private:
    std::unique_ptr<double[]> bytes_;  // 8-byte aligned, not initialised (as a framework's allocator)
    std::size_t counted_;
    std::shared_ptr<Tally> tally_;
};

class ClockMarker final : public Marker {
public:
    ClockMarker() : at(std::chrono::steady_clock::now()) {}
    std::chrono::steady_clock::time_point at;
};

// "model name" and "cpu MHz" of the first processor in /proc/cpuinfo (Linux), if present.
std::map<std::string, std::string> cpuinfo() {
    std::map<std::string, std::string> out;
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            if (!out.empty()) break;  // end of the first processor's block
            continue;
        }
        std::string key = line.substr(0, colon);
        while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
        std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
        out.emplace(std::move(key), std::move(value));
    }
    return out;
}

const float* f32(const Tensor& t, const char* what) {
    if (t.dtype() != DType::fp32) throw std::invalid_argument(std::string("cpu backend: ") + what + " must be fp32");
    return t.host<float>();
}
float* f32(Tensor& t, const char* what) {
    if (t.dtype() != DType::fp32) throw std::invalid_argument(std::string("cpu backend: ") + what + " must be fp32");
    return t.host<float>();
}
const std::int32_t* i32(const Tensor& t, const char* what) {
    if (t.dtype() != DType::int32) throw std::invalid_argument(std::string("cpu backend: ") + what + " must be int32");
    return t.host<std::int32_t>();
}

class CpuBackend final : public Backend {
public:
    [[nodiscard]] std::string_view name() const override { return "cpu"; }

    [[nodiscard]] DeviceInfo info() const override {
        DeviceInfo info;
        info.backend = "cpu";
        const auto cpu = cpuinfo();
        const auto model = cpu.find("model name");
        info.name = model != cpu.end() ? model->second : "unknown CPU";
        if (const auto mhz = cpu.find("cpu MHz"); mhz != cpu.end()) info.details["clock_mhz"] = mhz->second;
        info.details["threads_per_rank"] = "1";
        info.libraries["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) +
                                  "." + std::to_string(EIGEN_MINOR_VERSION);
        return info;
    }

    [[nodiscard]] bool supports(DType dtype) const override { return dtype == DType::fp32; }

    [[nodiscard]] Tensor allocate(std::size_t elements, DType dtype) override {
        return Tensor(std::make_unique<HostStorage>(elements * size_of(dtype), tally_), elements, dtype, Location::host, -1);
    }

    void upload(std::span<const float> host, Tensor& dst) override {
        if (host.size() != dst.elements()) throw std::invalid_argument("cpu backend: upload size mismatch");
        std::memcpy(f32(dst, "upload target"), host.data(), host.size_bytes());
    }
    void upload(std::span<const std::int32_t> host, Tensor& dst) override {
        if (host.size() != dst.elements()) throw std::invalid_argument("cpu backend: upload size mismatch");
        if (dst.dtype() != DType::int32) throw std::invalid_argument("cpu backend: index upload needs an int32 tensor");
        std::memcpy(dst.host<std::int32_t>(), host.data(), host.size_bytes());
    }
    void download(const Tensor& src, std::span<float> host) override {
        if (host.size() != src.elements()) throw std::invalid_argument("cpu backend: download size mismatch");
        std::memcpy(host.data(), f32(src, "download source"), host.size_bytes());
    }
    void zero(Tensor& t) override { std::memset(t.data(), 0, t.bytes()); }
    void fill_uniform(Tensor& t, std::uint64_t seed, float lo, float hi) override {
        float* x = f32(t, "filled tensor");
        for (std::size_t i = 0; i < t.elements(); ++i) x[i] = uniform_value(seed, i, lo, hi);
    }
    void download_samples(const Tensor& src, std::span<const std::int64_t> offsets, std::int64_t width,
                          std::span<float> host) override {
        const float* x = f32(src, "sampled tensor");
        require_samples(src, offsets, width, host);
        const auto w = static_cast<std::size_t>(width);
        for (std::size_t i = 0; i < offsets.size(); ++i) {
            std::memcpy(host.data() + i * w, x + offsets[i], w * sizeof(float));
        }
    }
    void synchronize() override {}

    [[nodiscard]] Timing time(const std::function<void()>& work, int warmup, int repetitions) override {
        for (int i = 0; i < warmup; ++i) work();
        Timing out;
        out.method = "steady-clock";
        out.seconds.reserve(static_cast<std::size_t>(repetitions));
        for (int i = 0; i < repetitions; ++i) {
            const auto start = std::chrono::steady_clock::now();
            work();
            const auto stop = std::chrono::steady_clock::now();
            out.seconds.push_back(std::chrono::duration<double>(stop - start).count());
        }
        return out;
    }

    [[nodiscard]] std::unique_ptr<Marker> mark() override { return std::make_unique<ClockMarker>(); }
    [[nodiscard]] double seconds_between(const Marker& from, const Marker& to) override {
        return std::chrono::duration<double>(dynamic_cast<const ClockMarker&>(to).at -
                                             dynamic_cast<const ClockMarker&>(from).at)
            .count();
    }
    [[nodiscard]] MemoryUse memory() const override { return tally_->use; }
    void reset_peak_memory() override { tally_->use.peak = tally_->use.current; }

    void gemm(const GemmShape& s, const Tensor& a, const Tensor& b, Tensor& c) override {
        cpu::gemm<float>(s, f32(a, "A"), f32(b, "B"), f32(c, "C"));
    }
    void layernorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                           Tensor& mean, Tensor& rstd) override {
        cpu::layernorm_forward<float>(s, eps, f32(x, "x"), f32(gamma, "gamma"), f32(beta, "beta"), f32(y, "y"),
                                      f32(mean, "mean"), f32(rstd, "rstd"));
    }
    void layernorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                            const Tensor& rstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta) override {
        cpu::layernorm_backward<float>(s, f32(dy, "dy"), f32(x, "x"), f32(gamma, "gamma"), f32(mean, "mean"),
                                       f32(rstd, "rstd"), f32(dx, "dx"), f32(dgamma, "dgamma"), f32(dbeta, "dbeta"));
    }
    void rmsnorm_forward(Rows s, float eps, const Tensor& x, const Tensor& gamma, Tensor& y, Tensor& rstd) override {
        cpu::rmsnorm_forward<float>(s, eps, f32(x, "x"), f32(gamma, "gamma"), f32(y, "y"), f32(rstd, "rstd"));
    }
    void rmsnorm_backward(Rows s, const Tensor& dy, const Tensor& x, const Tensor& gamma, const Tensor& rstd,
                          Tensor& dx, Tensor& dgamma) override {
        cpu::rmsnorm_backward<float>(s, f32(dy, "dy"), f32(x, "x"), f32(gamma, "gamma"), f32(rstd, "rstd"),
                                     f32(dx, "dx"), f32(dgamma, "dgamma"));
    }
    void softmax_forward(const Softmax& s, const Tensor& x, Tensor& y) override {
        cpu::softmax_forward<float>(s, f32(x, "x"), f32(y, "y"));
    }
    void softmax_backward(const Softmax& s, const Tensor& y, const Tensor& dy, Tensor& dx) override {
        cpu::softmax_backward<float>(s, f32(y, "y"), f32(dy, "dy"), f32(dx, "dx"));
    }
    void gelu_forward(std::int64_t n, const Tensor& x, Tensor& y) override {
        cpu::gelu_forward<float>(n, f32(x, "x"), f32(y, "y"));
    }
    void gelu_backward(std::int64_t n, const Tensor& x, const Tensor& dy, Tensor& dx) override {
        cpu::gelu_backward<float>(n, f32(x, "x"), f32(dy, "dy"), f32(dx, "dx"));
    }
    void swiglu_forward(Rows s, const Tensor& x, Tensor& y) override {
        cpu::swiglu_forward<float>(s, f32(x, "x"), f32(y, "y"));
    }
    void swiglu_backward(Rows s, const Tensor& x, const Tensor& dy, Tensor& dx) override {
        cpu::swiglu_backward<float>(s, f32(x, "x"), f32(dy, "dy"), f32(dx, "dx"));
    }
    void cross_entropy_forward(Rows s, const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) override {
        cpu::cross_entropy_forward<float>(s, f32(logits, "logits"), i32(targets, "targets"), f32(loss, "loss"),
                                          f32(lse, "lse"));
    }
    void cross_entropy_backward(Rows s, const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                const Tensor& dloss, Tensor& dlogits) override {
        cpu::cross_entropy_backward<float>(s, f32(logits, "logits"), i32(targets, "targets"), f32(lse, "lse"),
                                           f32(dloss, "dloss"), f32(dlogits, "dlogits"));
    }
    void adam_step(std::int64_t n, const Adam& a, Tensor& param, const Tensor& grad, Tensor& m, Tensor& v) override {
        cpu::adam_step<float>(n, a, f32(param, "param"), f32(grad, "grad"), f32(m, "m"), f32(v, "v"));
    }

    void convert(std::int64_t n, const Tensor& x, Tensor& y) override {
        if (x.elements() < static_cast<std::size_t>(n) || y.elements() < static_cast<std::size_t>(n)) {
            throw std::invalid_argument("cpu backend: convert past the end of a tensor");
        }
        std::memmove(f32(y, "y"), f32(x, "x"), static_cast<std::size_t>(n) * sizeof(float));
    }
    void axpy(std::int64_t n, float alpha, const Tensor& x, Tensor& y) override {
        cpu::axpy<float>(n, alpha, f32(x, "x"), f32(y, "y"));
    }
    void bias_add(Rows s, const Tensor& bias, Tensor& y) override {
        cpu::bias_add<float>(s, f32(bias, "bias"), f32(y, "y"));
    }
    void column_sum(Rows s, const Tensor& x, Tensor& sum) override {
        cpu::column_sum<float>(s, f32(x, "x"), f32(sum, "sum"));
    }
    void permute_0213(const Dims4& dims, const Tensor& x, Tensor& y) override {
        cpu::permute_0213<float>(dims, f32(x, "x"), f32(y, "y"));
    }
    void embedding_forward(Rows s, const Tensor& tokens, const Tensor& table, std::int64_t first_row,
                           std::int64_t table_rows, Tensor& y) override {
        cpu::embedding_forward<float>(s, i32(tokens, "tokens"), f32(table, "table"), first_row, table_rows, f32(y, "y"));
    }
    void embedding_backward(Rows s, const Tensor& tokens, const Tensor& dy, std::int64_t first_row,
                            std::int64_t table_rows, Tensor& dtable) override {
        cpu::embedding_backward<float>(s, i32(tokens, "tokens"), f32(dy, "dy"), first_row, table_rows,
                                       f32(dtable, "dtable"));
    }
    void cross_entropy_shard_forward(Rows s, const Tensor& logits, const Tensor& targets, std::int64_t first_column,
                                     Tensor& shard_lse, Tensor& target_logit) override {
        cpu::cross_entropy_shard_forward<float>(s, f32(logits, "logits"), i32(targets, "targets"), first_column,
                                                f32(shard_lse, "shard_lse"), f32(target_logit, "target_logit"));
    }
    void cross_entropy_combine(std::int64_t rows, int shards, const Tensor& shard_lse, const Tensor& target_logit,
                               Tensor& lse, Tensor& loss) override {
        cpu::cross_entropy_combine<float>(rows, shards, f32(shard_lse, "shard_lse"), f32(target_logit, "target_logit"),
                                          f32(lse, "lse"), f32(loss, "loss"));
    }
    void cross_entropy_shard_backward(Rows s, const Tensor& logits, const Tensor& targets, std::int64_t first_column,
                                      const Tensor& lse, float dloss, Tensor& dlogits) override {
        cpu::cross_entropy_shard_backward<float>(s, f32(logits, "logits"), i32(targets, "targets"), first_column,
                                                 f32(lse, "lse"), dloss, f32(dlogits, "dlogits"));
    }

    void fill_pattern(Tensor& t, std::size_t n, int position) override {
        float* x = f32(t, "pattern target");
        for (std::size_t i = 0; i < n; ++i) x[i] = pattern_value(position, i);
    }
    [[nodiscard]] std::size_t count_mismatches(const Tensor& t, std::size_t n, CollectiveKind kind, int ranks,
                                               int position) override {
        const float* x = f32(t, "checked tensor");
        std::size_t bad = 0;
        for (std::size_t i = 0; i < n; ++i) bad += x[i] != expected_value(kind, ranks, position, n, i) ? 1 : 0;
        return bad;
    }

private:
    std::shared_ptr<Tally> tally_ = std::make_shared<Tally>();
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() {
#if defined(__GLIBC__)
    // Memory freed by one operator is reused by the next, as a framework's caching allocator reuses
    // it: glibc would otherwise map large tensors afresh and return freed heap to the system, so that
    // every step pays page faults and zeroing for its activations (about a tenth of a CPU training
    // step here). Thresholds of 1 GiB keep such blocks in the heap.
    static const bool tuned = [] {
        mallopt(M_MMAP_THRESHOLD, 1 << 30);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
        return true;
    }();
    (void)tuned;
#endif
    return std::make_unique<CpuBackend>();
}

}  // namespace splitsim::kernels::cpu
