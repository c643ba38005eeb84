#include "splitsim/hardware/device.hpp"

#include "splitsim/common/json_reader.hpp"

namespace splitsim::hardware {
namespace {

// Defaults of the kernel model, used where a device file gives no "kernels" section. They are nominal
// values, not fitted to any published run; calibration (splitsim calibrate) replaces them.
//  - launch_overhead 4 us: a CUDA kernel launch plus framework dispatch is a few microseconds.
//  - tile 128x128: a CTA tile cuBLAS/CUTLASS use for large half-precision GEMMs; tile and wave
//    quantization follow NVIDIA's Deep Learning Performance Guide, "Matrix Multiplication Background".
//  - gemm_workspace 32 MiB: the cuBLAS workspace recommended for Hopper (cuBLAS documentation,
//    cublasSetWorkspace); earlier architectures need 4 MiB, the larger figure is the safe bound.
//  - attention_efficiency 0.60: FlashAttention-2 reaches 50-73% of A100 peak in the forward pass
//    (Dao 2023, arXiv 2307.08691, abstract and Fig. 4).
//  - gemm_efficiency 0.80, memory_efficiency 0.85: nominal fractions of datasheet peak for large
//    GEMMs and streaming kernels.
//  - overlap_slowdown 0: compute is not slowed by concurrent communication until calibrated.
KernelModel default_kernels() {
    KernelModel k;
    k.gemm_efficiency = 0.80;
    k.attention_efficiency = 0.60;
    k.memory_efficiency = 0.85;
    k.launch_overhead = us(4);
    k.tile_m = 128;
    k.tile_n = 128;
    k.gemm_workspace = MiB(32);
    return k;
}

// Rates between one unit per second and 10^30 per second keep every time and sum derived from
// them finite; real devices lie many orders of magnitude inside both bounds.
template <class Rate>
Rate rate_of(JsonObject& o, std::string_view key);
template <>
Bandwidth rate_of<Bandwidth>(JsonObject& o, std::string_view key) {
    const Bandwidth r = o.required<Bandwidth>(key);
    if (r.value() <= 0) o.fail(key, "must be positive");
    if (r.value() < 1 || r.value() > 1e30) o.fail(key, "must be between 1 B/s and 1e30 B/s");
    return r;
}
template <>
FlopRate rate_of<FlopRate>(JsonObject& o, std::string_view key) {
    const FlopRate r = o.required<FlopRate>(key);
    if (r.value() <= 0) o.fail(key, "must be positive");
    if (r.value() < 1 || r.value() > 1e30) o.fail(key, "must be between 1 FLOP/s and 1e30 FLOP/s");
    return r;
}

}  // namespace

DeviceSpec parse_device(const nlohmann::json& json, const std::string& file, const std::string& pointer) {
    JsonObject o(json, file, pointer);
    DeviceSpec d;
    d.name = o.required<std::string>("name");
    (void)o.optional<std::string>("source", "");
    d.memory = o.required<Bytes>("memory");
    if (d.memory.value() <= 0) o.fail("memory", "must be positive");
    if (d.memory.value() > 1e18) o.fail("memory", "must be at most 1e18 B");
    d.memory_bandwidth = rate_of<Bandwidth>(o, "memory_bandwidth");
    d.compute_units = o.required<int>("compute_units", at_least(1));

    JsonObject peak = o.object("peak");
    for (Precision p : kAllPrecisions) {
        if (peak.has(to_string(p))) d.peak[static_cast<int>(p)] = rate_of<FlopRate>(peak, to_string(p));
    }
    peak.finish();
    bool any_peak = false;
    for (const auto& p : d.peak) any_peak = any_peak || p.has_value();
    if (!any_peak) o.fail("peak", "names no precision (fp32, tf32, bf16, fp16, fp8)");

    if (auto ic = o.maybe_object("interconnect")) {
        Interconnect i;
        i.name = ic->optional<std::string>("name", "");
        i.links = ic->required<int>("links", between(1, 1 << 16));
        i.link_bandwidth = rate_of<Bandwidth>(*ic, "link_bandwidth");
        i.effective_link_bandwidth = i.link_bandwidth;
        if (ic->has("effective_link_bandwidth")) {
            i.effective_link_bandwidth = rate_of<Bandwidth>(*ic, "effective_link_bandwidth");
            if (i.effective_link_bandwidth > i.link_bandwidth) {
                ic->fail("effective_link_bandwidth", "must be at most link_bandwidth");
            }
        }
        i.in_switch_reduction_efficiency = ic->optional<double>("in_switch_reduction_efficiency", 0.0, between(0.01, 1.0));
        ic->finish();
        d.interconnect = i;
    }

    d.kernels = default_kernels();
    if (auto k = o.maybe_object("kernels")) {
        (void)k->optional<std::string>("source", "");
        d.kernels.gemm_efficiency = k->optional<double>("gemm_efficiency", d.kernels.gemm_efficiency, between(0.01, 1.0));
        d.kernels.attention_efficiency =
            k->optional<double>("attention_efficiency", d.kernels.attention_efficiency, between(0.01, 1.0));
        d.kernels.memory_efficiency =
            k->optional<double>("memory_efficiency", d.kernels.memory_efficiency, between(0.01, 1.0));
        d.kernels.launch_overhead = k->optional<Seconds>("launch_overhead", d.kernels.launch_overhead);
        if (d.kernels.launch_overhead.value() < 0) k->fail("launch_overhead", "must not be negative");
        if (d.kernels.launch_overhead.value() > 1) k->fail("launch_overhead", "must be at most 1 s");
        if (auto tile = k->maybe_array("gemm_tile")) {
            if (tile->size() != 2) tile->fail("expected [rows, columns]");
            d.kernels.tile_m = tile->get<int>(0);
            d.kernels.tile_n = tile->get<int>(1);
            if (d.kernels.tile_m < 1) tile->fail(0, "must be at least 1");
            if (d.kernels.tile_n < 1) tile->fail(1, "must be at least 1");
        }
        d.kernels.gemm_workspace = k->optional<Bytes>("gemm_workspace", d.kernels.gemm_workspace);
        if (d.kernels.gemm_workspace > d.memory) k->fail("gemm_workspace", "must be at most the device's memory");
        d.kernels.overlap_slowdown = k->optional<double>("overlap_slowdown", d.kernels.overlap_slowdown, between(0.0, 10.0));
        k->finish();
    }
    o.finish();
    return d;
}

DeviceSpec load_device(const std::string& path) { return parse_device(read_json_file(path), path); }

}  // namespace splitsim::hardware
