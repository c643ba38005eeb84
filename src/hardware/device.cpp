#include "splitsim/hardware/device.hpp"

#include "splitsim/common/json_reader.hpp"

#include <nlohmann/json.hpp>

namespace splitsim::hardware {
namespace {

// Defaults of the kernel model, used where a device file gives no "kernels" section. They are nominal
// values, not fitted to any published run; a device file's own profile (topologies/devices/*.json,
// each value with its source) or calibration (splitsim calibrate) replaces them.
//  - launch_overhead 4 us: a CUDA kernel launch plus framework dispatch is a few microseconds.
//  - one 128x128 tile: a CTA tile cuBLAS/CUTLASS use for large half-precision GEMMs; tile and wave
//    quantization follow NVIDIA's Deep Learning Performance Guide, "Matrix Multiplication Background".
//    No L2 operand limit and no per-tile overhead unless the device states them.
//  - gemm_workspace 32 MiB: the cuBLAS workspace recommended for Hopper (cuBLAS documentation,
//    cublasSetWorkspace); earlier architectures need 4 MiB, the larger figure is the safe bound.
//  - attention_efficiency 0.60: FlashAttention-2 reaches 50-73% of A100 peak in the forward pass
//    (Dao 2023, arXiv 2307.08691, abstract and Fig. 4).
//  - gemm_efficiency 0.80, memory_efficiency 0.85: nominal fractions of datasheet peak for large
//    GEMMs and streaming kernels.
//  - overlap_slowdown 0: compute is not slowed by concurrent communication unless the device file says so.
KernelModel default_kernels() {
    KernelModel k;
    k.gemm_efficiency = 0.80;
    k.attention_efficiency = 0.60;
    k.memory_efficiency = 0.85;
    k.launch_overhead = us(4);
    k.gemm_tiles = {GemmTile{128, 128}};
    k.gemm_workspace = MiB(32);
    return k;
}

GemmTile parse_tile(const JsonArray& tile) {
    if (tile.size() != 2) tile.fail("expected [rows, columns]");
    GemmTile t{tile.get<int>(0), tile.get<int>(1)};
    // GEMM libraries' tiles are at most a few hundred rows or columns; the bound keeps tile
    // arithmetic far from overflow.
    if (t.m < 1 || t.m > 65536) tile.fail(0, "must be between 1 and 65536");
    if (t.n < 1 || t.n > 65536) tile.fail(1, "must be between 1 and 65536");
    return t;
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

double parse_watts(std::string_view text) {
    const std::string s(text);
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(s, &used);
    } catch (const std::exception&) {
        throw std::invalid_argument("\"" + s + "\" is not a power such as \"400 W\"");
    }
    std::string unit = s.substr(used);
    unit.erase(0, unit.find_first_not_of(' '));
    if (unit == "kW") {
        value *= 1000.0;
    } else if (unit != "W") {
        throw std::invalid_argument("\"" + s + "\" is not a power such as \"400 W\" (units: W, kW)");
    }
    if (!(value > 0 && value <= 1e9)) throw std::invalid_argument("\"" + s + "\" must be positive and at most 1 GW");
    return value;
}

DeviceSpec parse_device(const nlohmann::json& json, const std::string& file, const std::string& pointer) {
    JsonObject o(json, file, pointer);
    DeviceSpec d;
    d.name = o.required<std::string>("name");
    d.kind = o.choice<DeviceKind>("kind", {{"gpu", DeviceKind::gpu}, {"cpu", DeviceKind::cpu}, {"tpu", DeviceKind::tpu}},
                                  DeviceKind::gpu);
    (void)o.optional<std::string>("source", "");
    d.memory = o.required<Bytes>("memory");
    if (d.memory.value() <= 0) o.fail("memory", "must be positive");
    if (d.memory.value() > 1e18) o.fail("memory", "must be at most 1e18 B");
    d.memory_bandwidth = rate_of<Bandwidth>(o, "memory_bandwidth");
    d.compute_units = o.required<int>("compute_units", at_least(1));
    for (auto [key, field] : {std::pair{"context_memory", &d.context_memory}, std::pair{"communicator_memory", &d.communicator_memory}}) {
        *field = o.optional<Bytes>(key, Bytes(0));
        if (field->value() < 0 || *field > d.memory) o.fail(key, "must be between 0 and the device's memory");
    }

    if (auto tdp = o.maybe<std::string>("tdp")) {
        try {
            d.tdp_watts = parse_watts(*tdp);
        } catch (const std::invalid_argument& e) {
            o.fail("tdp", e.what());
        }
    }

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
        if (auto tile = k->maybe_array("gemm_tile")) d.kernels.gemm_tiles = {parse_tile(*tile)};
        if (auto tiles = k->maybe_array("gemm_tiles")) {
            if (k->has("gemm_tile")) tiles->fail("give either gemm_tile or gemm_tiles");
            if (tiles->size() == 0) tiles->fail("lists no tile");
            d.kernels.gemm_tiles.clear();
            for (std::size_t i = 0; i < tiles->size(); ++i) {
                d.kernels.gemm_tiles.push_back(parse_tile(JsonArray(tiles->raw(i), tiles->file(), tiles->pointer_to(i))));
            }
        }
        d.kernels.l2_bandwidth = k->optional<Bandwidth>("l2_bandwidth", d.kernels.l2_bandwidth);
        if (d.kernels.l2_bandwidth.value() < 0) k->fail("l2_bandwidth", "must not be negative");
        if (d.kernels.l2_bandwidth.value() > 1e30) k->fail("l2_bandwidth", "must be at most 1e30 B/s");
        d.kernels.gemm_tile_overhead = k->optional<Seconds>("gemm_tile_overhead", d.kernels.gemm_tile_overhead);
        if (d.kernels.gemm_tile_overhead.value() < 0) k->fail("gemm_tile_overhead", "must not be negative");
        if (d.kernels.gemm_tile_overhead.value() > 1) k->fail("gemm_tile_overhead", "must be at most 1 s");
        d.kernels.gemm_workspace = k->optional<Bytes>("gemm_workspace", d.kernels.gemm_workspace);
        if (d.kernels.gemm_workspace > d.memory) k->fail("gemm_workspace", "must be at most the device's memory");
        d.kernels.overlap_slowdown = k->optional<double>("overlap_slowdown", d.kernels.overlap_slowdown, between(0.0, 10.0));
        if (auto kinds = k->maybe_object("per_kind")) {
            for (const auto& item : kinds->raw_items().items()) {
                const std::string name = item.key();
                if (!is_fitted_kernel(name)) {
                    kinds->fail(name, "not a kernel kind (gemm, attention_gemm, fused_attention, softmax, dropout, norm, activation, "
                                      "rotary, embedding, cross_entropy, optimizer), optionally with a pass (gemm.backward_weight: "
                                      "forward, backward, backward_input, backward_weight, step)");
                }
                JsonObject fit = kinds->object(name);
                KernelFit f;
                f.compute_efficiency = fit.optional<double>("compute_efficiency", 0.0, between(1e-4, 100.0));
                f.memory_efficiency = fit.optional<double>("memory_efficiency", 0.0, between(1e-4, 100.0));
                if (f.compute_efficiency == 0 && f.memory_efficiency == 0) fit.fail("needs compute_efficiency or memory_efficiency");
                f.launch_overhead = fit.required<Seconds>("launch_overhead");
                if (f.launch_overhead.value() < 0) fit.fail("launch_overhead", "must not be negative");
                if (f.launch_overhead.value() > 1) fit.fail("launch_overhead", "must be at most 1 s");
                fit.finish();
                d.kernels.per_kind[name] = f;
            }
            kinds->finish();
        }
        k->finish();
    }
    o.finish();
    return d;
}

DeviceSpec load_device(const std::string& path) {
    const nlohmann::json json = read_json_file(path);
    expect_file_kind(json, path, FileKind::device);
    return parse_device(json, path);
}

bool is_fitted_kernel(std::string_view name) {
    const std::size_t dot = name.find('.');
    if (dot == std::string_view::npos) return is_kernel_kind(name);
    const std::string_view pass = name.substr(dot + 1);
    return is_kernel_kind(name.substr(0, dot)) &&
           (pass == "forward" || pass == "backward" || pass == "backward_input" || pass == "backward_weight" || pass == "step");
}

bool is_kernel_kind(std::string_view name) {
    for (const char* k : {"gemm", "attention_gemm", "fused_attention", "softmax", "dropout", "norm", "activation", "rotary",
                          "embedding", "cross_entropy", "optimizer"}) {
        if (name == k) return true;
    }
    return false;
}

namespace {
std::string quantity(double v, const char* unit) {
    return nlohmann::json(v).dump() + " " + unit;
}
}  // namespace

std::string_view to_string(DeviceKind kind) {
    switch (kind) {
        case DeviceKind::gpu: return "gpu";
        case DeviceKind::cpu: return "cpu";
        case DeviceKind::tpu: return "tpu";
    }
    return "?";
}

nlohmann::json to_json(const DeviceSpec& d) {
    nlohmann::json j;
    j["name"] = d.name;
    j["kind"] = to_string(d.kind);
    j["memory"] = quantity(d.memory.value(), "B");
    j["memory_bandwidth"] = quantity(d.memory_bandwidth.value(), "B/s");
    nlohmann::json peak = nlohmann::json::object();
    for (Precision p : kAllPrecisions) {
        if (auto r = d.peak_for(p)) peak[std::string(to_string(p))] = quantity(r->value(), "FLOP/s");
    }
    j["peak"] = peak;
    j["compute_units"] = d.compute_units;
    if (d.context_memory.value() > 0) j["context_memory"] = quantity(d.context_memory.value(), "B");
    if (d.communicator_memory.value() > 0) j["communicator_memory"] = quantity(d.communicator_memory.value(), "B");
    if (d.tdp_watts) j["tdp"] = quantity(*d.tdp_watts, "W");
    if (d.interconnect) {
        const Interconnect& i = *d.interconnect;
        j["interconnect"] = {{"name", i.name},
                             {"links", i.links},
                             {"link_bandwidth", quantity(i.link_bandwidth.value(), "B/s")},
                             {"effective_link_bandwidth", quantity(i.effective_link_bandwidth.value(), "B/s")}};
        if (i.in_switch_reduction_efficiency > 0) j["interconnect"]["in_switch_reduction_efficiency"] = i.in_switch_reduction_efficiency;
    }
    const KernelModel& k = d.kernels;
    nlohmann::json kernels{{"gemm_efficiency", k.gemm_efficiency},
                           {"attention_efficiency", k.attention_efficiency},
                           {"memory_efficiency", k.memory_efficiency},
                           {"launch_overhead", quantity(k.launch_overhead.value(), "s")},
                           {"gemm_workspace", quantity(k.gemm_workspace.value(), "B")},
                           {"overlap_slowdown", k.overlap_slowdown}};
    nlohmann::json tiles = nlohmann::json::array();
    for (const GemmTile& t : k.gemm_tiles) tiles.push_back({t.m, t.n});
    kernels["gemm_tiles"] = tiles;
    if (k.l2_bandwidth.value() > 0) kernels["l2_bandwidth"] = quantity(k.l2_bandwidth.value(), "B/s");
    if (k.gemm_tile_overhead.value() > 0) kernels["gemm_tile_overhead"] = quantity(k.gemm_tile_overhead.value(), "s");
    if (!k.per_kind.empty()) {
        nlohmann::json kinds = nlohmann::json::object();
        for (const auto& [name, f] : k.per_kind) {
            nlohmann::json e{{"launch_overhead", quantity(f.launch_overhead.value(), "s")}};
            if (f.compute_efficiency > 0) e["compute_efficiency"] = f.compute_efficiency;
            if (f.memory_efficiency > 0) e["memory_efficiency"] = f.memory_efficiency;
            kinds[name] = e;
        }
        kernels["per_kind"] = kinds;
    }
    j["kernels"] = kernels;
    return j;
}

}  // namespace splitsim::hardware
