#include "splitsim/calibrate/calibrate.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <tuple>

#include <Eigen/Dense>

#include "splitsim/calibrate/published.hpp"
#include "splitsim/common/json_reader.hpp"
#include "splitsim/cost/collective.hpp"
#include "splitsim/cost/compute.hpp"
#include "splitsim/hardware/topology.hpp"

namespace splitsim::calibrate {
namespace {

bool compute_bound(const std::string& kind) { return kind == "gemm" || kind == "attention_gemm" || kind == "fused_attention"; }

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string quantity(double v, const char* unit) { return nlohmann::json(v).dump() + " " + unit; }

CollectiveKind collective_kind(JsonObject& o) {
    return o.choice<CollectiveKind>("op", {{"all_reduce", CollectiveKind::all_reduce},
                                           {"all_gather", CollectiveKind::all_gather},
                                           {"reduce_scatter", CollectiveKind::reduce_scatter},
                                           {"all_to_all", CollectiveKind::all_to_all},
                                           {"broadcast", CollectiveKind::broadcast},
                                           {"send_recv", CollectiveKind::send_recv}});
}

// The machine a harness file was measured on, in one line for the calibrated profile and the
// report: device, host, processors and clock, the libraries, and how many ranks ran at once.
std::string describe_machine(const nlohmann::json& harness) {
    auto text = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    std::string out = text(harness.value("device", nlohmann::json("unknown device")));
    if (harness.contains("hostname")) out += " on " + text(harness["hostname"]);
    std::vector<std::string> parts;
    if (harness.contains("processors")) parts.push_back(text(harness["processors"]) + " processors");
    if (const auto d = harness.find("device_details"); d != harness.end() && d->is_object()) {
        if (d->contains("clock_mhz")) parts.push_back(text((*d)["clock_mhz"]) + " MHz");
    }
    if (harness.contains("ranks")) {
        std::string ranks = text(harness["ranks"]) + " ranks";
        if (harness.contains("sustained_ranks")) ranks += ", kernels timed on " + text(harness["sustained_ranks"]) + " at once";
        parts.push_back(ranks);
    }
    if (const auto l = harness.find("libraries"); l != harness.end() && l->is_object()) {
        std::string libs;
        for (const auto& item : l->items()) libs += (libs.empty() ? "" : ", ") + item.key() + " " + text(item.value());
        if (!libs.empty()) parts.push_back(libs);
    }
    if (!parts.empty()) {
        out += " (";
        for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
        out += ")";
    }
    return out;
}

Seconds median_time(JsonObject& o, const char* key = "time_s") {
    JsonObject t = o.object(key);
    const double m = t.required<double>("median", Range<double>{0, 1e6});
    for (const char* k : {"min", "max", "p10", "p90"}) (void)t.optional<double>(k, 0);
    t.finish();
    if (m <= 0) t.fail("median", "must be positive");
    return Seconds(m);
}

struct RelativeFit {
    std::vector<double> coefficients;
    double residual = std::numeric_limits<double>::infinity();  // sum of squared relative errors
};

RelativeFit fit_relative_with_residual(const std::vector<std::vector<double>>& x, const std::vector<double>& t) {
    const std::size_t terms = x.size();
    const auto n = static_cast<Eigen::Index>(t.size());
    std::vector<double> best(terms + 1, 0.0);
    double best_residual = std::numeric_limits<double>::infinity();
    // Every subset of the terms (the constant is term 0): the least-squares solution of the subset,
    // kept if all its coefficients are non-negative and it fits best.
    for (unsigned mask = 1; mask < (1u << (terms + 1)); ++mask) {
        std::vector<std::size_t> cols;
        for (std::size_t j = 0; j <= terms; ++j) {
            if (mask & (1u << j)) cols.push_back(j);
        }
        Eigen::MatrixXd a(n, static_cast<Eigen::Index>(cols.size()));
        for (Eigen::Index i = 0; i < n; ++i) {
            const double ti = t[static_cast<std::size_t>(i)];
            for (std::size_t c = 0; c < cols.size(); ++c) {
                a(i, static_cast<Eigen::Index>(c)) = (cols[c] == 0 ? 1.0 : x[cols[c] - 1][static_cast<std::size_t>(i)]) / ti;
            }
        }
        const Eigen::VectorXd ones = Eigen::VectorXd::Ones(n);
        const Eigen::VectorXd c = a.colPivHouseholderQr().solve(ones);
        bool feasible = true;
        for (Eigen::Index j = 0; j < c.size(); ++j) feasible = feasible && std::isfinite(c(j)) && c(j) >= 0;
        if (!feasible) continue;
        const double residual = (a * c - ones).squaredNorm();
        if (residual < best_residual) {
            best_residual = residual;
            std::fill(best.begin(), best.end(), 0.0);
            for (std::size_t k = 0; k < cols.size(); ++k) best[cols[k]] = c(static_cast<Eigen::Index>(k));
        }
    }
    return {best, best_residual};
}

// Points (bytes, time) sorted by size; [from, to) is one segment.
using Points = std::vector<std::pair<double, double>>;

RelativeFit fit_line(const Points& p, std::size_t from, std::size_t to) {
    std::vector<double> x, t;
    for (std::size_t i = from; i < to; ++i) {
        x.push_back(p[i].first);
        t.push_back(p[i].second);
    }
    return fit_relative_with_residual({x}, t);
}

// Bayesian information criterion of a least-squares fit of n points with k parameters. Relative
// errors below 1e-6 per point (beneath any timer's resolution) count as 1e-6, so that rounding in
// exact data does not pass for structure.
double bic(double residual, std::size_t n, int k) {
    const double dn = static_cast<double>(n);
    return dn * std::log(std::max(residual, dn * 1e-12) / dn) + k * std::log(dn);
}

std::size_t distinct_sizes(const Points& p, std::size_t from, std::size_t to) {
    std::size_t d = 0;
    for (std::size_t i = from; i < to; ++i) d += i == from || p[i].first != p[i - 1].first;
    return d;
}

void split_segment(const Points& p, std::size_t from, std::size_t to, std::vector<Piece>& out) {
    constexpr std::size_t kMinSizes = 3;
    const RelativeFit whole = fit_line(p, from, to);
    const std::size_t n = to - from;
    double best_bic = bic(whole.residual, n, 2);
    std::size_t best_split = 0;
    for (std::size_t s = from + 1; s < to; ++s) {
        if (p[s].first == p[s - 1].first) continue;  // split only between sizes
        if (distinct_sizes(p, from, s) < kMinSizes || distinct_sizes(p, s, to) < kMinSizes) continue;
        const RelativeFit low = fit_line(p, from, s), high = fit_line(p, s, to);
        if (low.coefficients[1] <= 0 || high.coefficients[1] <= 0) continue;
        const double b = bic(low.residual + high.residual, n, 5);
        if (b < best_bic) {
            best_bic = b;
            best_split = s;
        }
    }
    if (best_split == 0) {
        if (whole.coefficients[1] > 0) out.push_back({p[from].first, whole.coefficients[0], whole.coefficients[1]});
        return;
    }
    split_segment(p, from, best_split, out);
    split_segment(p, best_split, to, out);
}

}  // namespace

std::vector<double> fit_relative(const std::vector<std::vector<double>>& x, const std::vector<double>& t) {
    return fit_relative_with_residual(x, t).coefficients;
}

std::vector<Piece> fit_pieces(const std::vector<double>& bytes, const std::vector<double>& t) {
    Points p;
    for (std::size_t i = 0; i < bytes.size(); ++i) p.emplace_back(bytes[i], t[i]);
    std::sort(p.begin(), p.end());
    std::vector<Piece> out;
    if (p.empty()) return out;
    split_segment(p, 0, p.size(), out);
    if (!out.empty()) out.front().min_bytes = 0;  // the first piece also covers smaller sizes
    return out;
}

Measurements load_measurements(const std::string& path) { return parse_measurements(read_json_file(path), path); }

Measurements merge(const std::vector<Measurements>& parts) {
    Measurements out;
    for (const Measurements& m : parts) {
        if (!out.file.empty() && m.backend != out.backend) {
            throw InputError(m.file, "", "measured by the " + m.backend + " backend, but " + out.file + " by the " + out.backend + " backend");
        }
        out.file += (out.file.empty() ? "" : ", ") + m.file;
        out.backend = m.backend;
        if (out.device.empty()) out.device = m.device;
        out.kernels.insert(out.kernels.end(), m.kernels.begin(), m.kernels.end());
        out.collectives.insert(out.collectives.end(), m.collectives.begin(), m.collectives.end());
        out.layers.insert(out.layers.end(), m.layers.begin(), m.layers.end());
        out.overlaps.insert(out.overlaps.end(), m.overlaps.begin(), m.overlaps.end());
        out.ranks = std::max(out.ranks, m.ranks);
        if (!m.machine.empty() && out.machine.find(m.machine) == std::string::npos) {
            out.machine += (out.machine.empty() ? "" : "; ") + m.machine;
        }
    }
    return out;
}

Measurements parse_measurements(const nlohmann::json& json, const std::string& path) {
    // Published calibration data: a file of validate/published/ with a "kind".
    if (json.is_object() && json.contains("kind")) {
        JsonObject o(json, path);
        const PublishedHeader h = read_header(o);
        if (h.role != Role::calibration) {
            o.fail("role", "validation data are never fitted: calibrate reads files whose role is calibration");
        }
        Measurements m;
        m.file = path;
        m.backend = "published";
        if (h.kind == "layer_time") {
            m.layers = read_layer_times(json, path);
        } else if (h.kind == "collective_time") {
            m.collectives = read_collective_times(json, path);
        } else {
            o.fail("kind", "\"" + h.kind + "\": calibration reads layer_time and collective_time data");
        }
        return m;
    }
    JsonObject o(json, path);
    Measurements m;
    m.file = path;
    {
        JsonObject h = o.object("harness");
        m.backend = h.required<std::string>("backend");
        if (m.backend != "cpu" && m.backend != "cuda") h.fail("backend", "\"" + m.backend + "\" is not one of cpu | cuda");
        m.device = h.optional<std::string>("device", "");
        // The rest of the header describes the run for people.
        m.ranks = h.optional<int>("ranks", 0, between(0, 1 << 20));
        for (const char* k : {"version", "device_details", "hostname", "timestamp", "libraries", "processes",
                              "repetitions", "warmup", "processors", "sustained_ranks", "rotating_bytes"}) {
            if (h.has(k)) (void)h.raw(k);
        }
        m.machine = describe_machine(json.at("harness"));
        h.finish();
    }
    for (const char* k : {"model", "plan"}) (void)o.raw(k);
    JsonArray kernels = o.array("kernels");
    for (std::size_t i = 0; i < kernels.size(); ++i) {
        JsonObject k = kernels.object(i);
        const std::string check = k.required<std::string>("check");
        KernelMeasurement e;
        e.op = k.required<std::string>("op");
        e.kind = k.required<std::string>("kind");
        if (!hardware::is_kernel_kind(e.kind)) k.fail("kind", "\"" + e.kind + "\" is not a kernel kind");
        e.pass = k.required<std::string>("pass");
        JsonObject shape = k.object("shape");
        e.shape = {shape.required<double>("m", Range<double>{0, 1e12}), shape.required<double>("n", Range<double>{0, 1e12}),
                   shape.required<double>("k", Range<double>{0, 1e12}), shape.optional<double>("batch", 1, Range<double>{1, 1e12})};
        shape.finish();
        if (auto product = k.maybe_object("product")) {
            e.shape.m = product->required<double>("m", Range<double>{1, 1e12});
            e.shape.n = product->required<double>("n", Range<double>{1, 1e12});
            e.shape.k = product->required<double>("k", Range<double>{1, 1e12});
            (void)product->optional<bool>("trans_a", false);
            (void)product->optional<bool>("trans_b", false);
            product->finish();
        }
        e.flops = Flops(k.required<double>("flops", Range<double>{0, 1e30}));
        e.bytes = Bytes(k.required<double>("bytes", Range<double>{0, 1e30}));
        for (const char* d : {"dtype", "scale", "plan_shape", "elements", "repetitions", "timing", "check_error_ratio", "check_detail",
                              "burst_time_s"}) {
            if (k.has(d)) (void)k.raw(d);  // descriptive
        }
        const bool passed = check == "passed" && k.has("time_s");
        if (passed) e.time = median_time(k);
        k.finish();
        if (!passed) continue;  // a failed data check has no time to fit
        if (compute_bound(e.kind) && e.flops.value() <= 0) k.fail("flops", "a GEMM-like kernel needs its FLOPs");
        if (!compute_bound(e.kind) && e.bytes.value() <= 0) k.fail("bytes", "a memory-bound kernel needs its bytes");
        m.kernels.push_back(e);
    }
    JsonArray collectives = o.array("collectives");
    for (std::size_t i = 0; i < collectives.size(); ++i) {
        JsonObject c = collectives.object(i);
        CollectiveMeasurement e;
        e.op = collective_kind(c);
        e.group = c.required<std::string>("group");
        const int ranks = c.required<int>("ranks", at_least(2));
        const int stride = c.optional<int>("stride", 1, at_least(1));
        const int count = c.optional<int>("groups", 1, at_least(1));
        e.bytes = Bytes(c.required<double>("bytes", Range<double>{1, 1e30}));
        const std::string check = c.required<std::string>("check");
        for (const char* d : {"dtype", "repetitions", "algbw_GBps", "busbw_GBps", "check_error_ratio", "check_detail"}) {
            if (c.has(d)) (void)c.raw(d);  // descriptive
        }
        const bool passed = check == "passed" && c.has("time_s");
        if (passed) e.time = median_time(c);
        c.finish();
        if (!passed) continue;
        // Group g holds ranks base + j stride, as the harness lays them out.
        for (int g = 0; g < count; ++g) {
            std::vector<int> members;
            const int base = (g % stride) + (g / stride) * stride * ranks;
            for (int j = 0; j < ranks; ++j) members.push_back(base + j * stride);
            e.groups.push_back(std::move(members));
        }
        m.collectives.push_back(e);
    }
    if (o.has("overlap")) {
        JsonArray overlap = o.array("overlap");
        for (std::size_t i = 0; i < overlap.size(); ++i) {
            JsonObject e = overlap.object(i);
            const std::string check = e.required<std::string>("check");
            const std::string op = e.required<std::string>("op");
            const std::string collective = e.required<std::string>("collective");
            const std::string group = e.required<std::string>("group");
            const double bytes = e.required<double>("bytes", Range<double>{1, 1e30});
            for (const char* d : {"kind", "pass", "shape", "flops", "ranks", "collectives_run", "repetitions", "check_detail"}) {
                if (e.has(d)) (void)e.raw(d);  // descriptive
            }
            const bool passed = check == "passed" && e.has("time_s") && e.has("alone_time_s");
            OverlapMeasurement x;
            if (passed) {
                x.name = op + " under " + collective + " " + format_bytes(Bytes(bytes)) + " (" + group + ")";
                x.alone = median_time(e, "alone_time_s");
                x.overlapped = median_time(e);
            }
            e.finish();
            if (passed) m.overlaps.push_back(x);
        }
    }
    o.finish();
    if (m.kernels.empty() && m.collectives.empty()) {
        o.fail("no kernel or collective passed its data check: nothing to calibrate");
    }
    return m;
}

namespace {

// A GPU's model in its name: the first letters-then-digits token ("A100" in "A100-SXM4-80GB",
// "H100" in "H100-SXM5-80GB"), as the CUDA device name also carries it ("NVIDIA A100-SXM4-80GB",
// "NVIDIA H100 80GB HBM3"). Empty when the name has none.
std::string gpu_model(const std::string& name) {
    static const std::regex token("[A-Za-z]+[0-9]+");
    std::smatch m;
    return std::regex_search(name, m, token) ? m.str() : std::string();
}

bool contains_word(const std::string& text, const std::string& word) {
    auto lower = [](std::string t) {
        std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return t;
    };
    return !word.empty() && lower(text).find(lower(word)) != std::string::npos;
}

}  // namespace

Calibration calibrate(const Measurements& all, const hardware::ClusterSpec& machine) {
    // A run of more ranks than the machine has devices time-shared them: its collectives ran
    // between that many ranks (the kernels were timed on one rank per device).
    const hardware::ClusterSpec cluster = all.ranks > machine.device_count() ? hardware::fit_to_ranks(machine, all.ranks) : machine;
    // Published data calibrate the cluster they were measured on.
    Measurements ms = all;
    std::erase_if(ms.collectives, [&](const CollectiveMeasurement& c) { return !c.cluster.empty() && c.cluster != cluster.name; });
    std::erase_if(ms.layers, [&](const LayerMeasurement& l) { return l.cluster != cluster.name; });
    if (ms.kernels.empty() && ms.collectives.empty() && ms.layers.empty()) {
        throw InputError(all.file, "", "nothing in it was measured on cluster " + cluster.name);
    }
    // The harness's measurements calibrate the kind of processor they were taken on: the CUDA
    // backend's a GPU, the CPU backend's a CPU.
    if (ms.backend == "cuda" || ms.backend == "cpu") {
        const hardware::DeviceKind measured = ms.backend == "cuda" ? hardware::DeviceKind::gpu : hardware::DeviceKind::cpu;
        if (cluster.device.kind != measured) {
            throw InputError(ms.file, "/harness/backend",
                             "measured by the " + ms.backend + " backend on a " + std::string(hardware::to_string(measured)) +
                                 ", but the cluster's device " + cluster.device.name + " is a " +
                                 std::string(hardware::to_string(cluster.device.kind)) +
                                 " (a device file's \"kind\"); calibrate a cluster of the machine that was measured");
        }
    }
    // GPU measurements calibrate the GPU they were taken on (a CPU run's device is whatever
    // machine ran it, so only the backend is checked there).
    if (ms.backend == "cuda" && !contains_word(ms.device, gpu_model(cluster.device.name))) {
        throw InputError(ms.file, "/harness/device",
                         "measured on \"" + ms.device + "\", not the cluster's device " + cluster.device.name);
    }
    Calibration out;
    out.cluster = cluster;
    const hardware::DeviceSpec& device = cluster.device;
    const Precision precision = device.peak_for(Precision::bf16) ? Precision::bf16 : Precision::fp32;
    const cost::ComputeModel before(device, device.peak_for(Precision::fp32) && ms.backend == "cpu" ? Precision::fp32 : precision);

    // Kernels: per kind, t = launch + (time at the compute peak) / e_c + (time at memory bandwidth) / e_m.
    struct Rows {
        std::vector<std::vector<double>> x{{}, {}};
        std::vector<double> t;
    };
    // Each kind is fitted over all its passes and over each pass alone, since the passes differ (a GEMM's input and weight
    // gradients read transposed operands; a softmax's forward computes exponentials its backward
    // does not), over each pass alone ("gemm.backward_weight"), which the model uses for that pass.
    std::map<std::string, Rows> rows;
    for (const KernelMeasurement& k : ms.kernels) {
        for (const std::string& key : {k.kind, k.kind + "." + k.pass}) {
            Rows& r = rows[key];
            r.x[0].push_back(compute_bound(k.kind) ? (k.flops / (before.peak(k.kind) * before.quantization(k.shape))).value() : 0.0);
            r.x[1].push_back((k.bytes / device.memory_bandwidth).value());
            r.t.push_back(k.time.value());
        }
    }
    for (const auto& [kind, data] : rows) {
        const std::vector<double> c = fit_relative(data.x, data.t);
        hardware::KernelFit f;
        f.launch_overhead = Seconds(c[0]);
        f.compute_efficiency = c[1] > 0 ? std::min(100.0, 1.0 / c[1]) : 0.0;
        f.memory_efficiency = c[2] > 0 ? std::min(100.0, 1.0 / c[2]) : 0.0;
        if (f.compute_efficiency == 0 && f.memory_efficiency == 0) continue;  // nothing but a constant: keep the model
        out.cluster.device.kernels.per_kind[kind] = f;
    }
    const cost::ComputeModel after(out.cluster.device, device.peak_for(Precision::fp32) && ms.backend == "cpu" ? Precision::fp32 : precision);

    // Collectives: per operation, group size and scope, t = latency + S / bandwidth in pieces over S.
    const auto topology = std::make_shared<const hardware::Topology>(cluster);
    std::map<std::tuple<int, int, bool>, std::pair<std::vector<double>, std::vector<double>>> coll;
    std::vector<bool> across(ms.collectives.size());
    for (std::size_t i = 0; i < ms.collectives.size(); ++i) {
        const CollectiveMeasurement& c = ms.collectives[i];
        if (!c.cluster.empty()) continue;  // published curves fit named parameters below
        for (const auto& g : c.groups) {
            for (int r : g) {
                if (r >= topology->devices()) {
                    throw InputError(ms.file, "/collectives/" + std::to_string(i),
                                     "rank " + std::to_string(r) + " is beyond the cluster's " + std::to_string(topology->devices()) + " devices");
                }
            }
        }
        bool spans = false;
        for (int r : c.groups.front()) spans = spans || topology->node_of(r) != topology->node_of(c.groups.front().front());
        across[i] = spans;
        auto& d = coll[{static_cast<int>(c.op), static_cast<int>(c.groups.front().size()), spans}];
        d.first.push_back(c.bytes.value());
        d.second.push_back(c.time.value());
    }
    for (const auto& [key, data] : coll) {
        for (const Piece& piece : fit_pieces(data.first, data.second)) {
            hardware::CalibratedCollective k;
            k.op = static_cast<CollectiveKind>(std::get<0>(key));
            k.ranks = std::get<1>(key);
            k.across_nodes = std::get<2>(key);
            k.min_bytes = Bytes(piece.min_bytes);
            k.latency = Seconds(piece.latency);
            k.bandwidth = Bandwidth(1.0 / piece.seconds_per_byte);
            out.cluster.collectives.push_back(k);
        }
    }
    // Published data: the named device parameters they determine.
    std::vector<CollectiveMeasurement> curves;
    for (const CollectiveMeasurement& c : ms.collectives) {
        if (!c.cluster.empty()) curves.push_back(c);
    }
    out.parameters = fit_device_parameters(curves, ms.layers, out.cluster);
    // The harness's compute under communication: the engine runs compute 1 + s times slower while
    // a collective is in flight on its rank, so a kernel overlapped throughout takes (1 + s) times
    // its time alone; s minimizes the squared relative errors, sum (x_i (1 + s) - 1)^2 with
    // x_i = alone_i / overlapped_i, at 1 + s = sum x_i / sum x_i^2 (s at least 0).
    const double slowdown_before = cluster.device.kernels.overlap_slowdown;
    if (!ms.overlaps.empty()) {
        double sx = 0, sxx = 0;
        for (const OverlapMeasurement& x : ms.overlaps) {
            const double r = x.alone / x.overlapped;
            sx += r;
            sxx += r * r;
        }
        const double s = std::clamp(sx / sxx - 1, 0.0, 10.0);  // the device file's range
        out.cluster.device.kernels.overlap_slowdown = s;
        out.parameters.push_back({"overlap_slowdown", slowdown_before, s});
    }
    const auto calibrated = std::make_shared<const hardware::Topology>(out.cluster);

    // Residuals, and each kind's absolute relative errors before and after.
    std::map<Residual::Kind, std::pair<std::vector<double>, std::vector<double>>> errors;
    auto record = [&](const Residual& r) {
        auto& [before_errors, after_errors] = errors[r.kind];
        before_errors.push_back(std::fabs(r.before / r.measured - 1));
        after_errors.push_back(std::fabs(r.after / r.measured - 1));
        out.residuals.push_back(r);
    };
    for (const KernelMeasurement& k : ms.kernels) {
        Residual r;
        r.name = k.op + " " + k.pass + " " + std::to_string(static_cast<long>(k.shape.m)) + "x" + std::to_string(static_cast<long>(k.shape.n)) +
                 "x" + std::to_string(static_cast<long>(k.shape.k));
        r.measured = k.time;
        r.before = before.kernel_time(k.kind, k.shape, k.flops, k.bytes, k.pass);
        r.after = after.kernel_time(k.kind, k.shape, k.flops, k.bytes, k.pass);
        record(r);
    }
    for (const CollectiveMeasurement& c : ms.collectives) {
        cost::GroupSet set;
        set.groups = c.groups;
        const cost::PlacedGroups pb(*topology, set);
        const cost::PlacedGroups pa(*calibrated, std::move(set));
        Residual r;
        r.kind = Residual::Kind::collective;
        r.name = std::string(to_string(c.op)) + " " + c.group + " x" + std::to_string(c.groups.front().size()) + " " +
                 std::to_string(static_cast<long>(c.bytes.value())) + " B";
        r.measured = c.time;
        r.before = pb.estimate(c.op, c.bytes).time;
        r.after = pa.estimate(c.op, c.bytes).time;
        record(r);
    }
    for (const LayerMeasurement& l : ms.layers) {
        Residual r;
        r.kind = Residual::Kind::layer;
        r.name = l.name;
        r.measured = l.time;
        r.before = predict_layer(l, cluster);
        r.after = predict_layer(l, out.cluster);
        record(r);
    }
    for (const OverlapMeasurement& x : ms.overlaps) {
        Residual r;
        r.kind = Residual::Kind::overlap;
        r.name = x.name;
        r.measured = x.overlapped;
        r.before = x.alone * (1 + slowdown_before);
        r.after = x.alone * (1 + out.cluster.device.kernels.overlap_slowdown);
        record(r);
    }
    out.kernel_error_before = median(errors[Residual::Kind::kernel].first);
    out.kernel_error_after = median(errors[Residual::Kind::kernel].second);
    out.collective_error_before = median(errors[Residual::Kind::collective].first);
    out.collective_error_after = median(errors[Residual::Kind::collective].second);
    out.layer_error_before = median(errors[Residual::Kind::layer].first);
    out.layer_error_after = median(errors[Residual::Kind::layer].second);
    out.overlap_error_before = median(errors[Residual::Kind::overlap].first);
    out.overlap_error_after = median(errors[Residual::Kind::overlap].second);
    return out;
}

nlohmann::json to_json(const Calibration& c, const Measurements& m) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& r : c.residuals) {
        rows.push_back({{"name", r.name},
                        {"kind", to_string(r.kind)},
                        {"measured_s", r.measured.value()},
                        {"predicted_before_s", r.before.value()},
                        {"predicted_after_s", r.after.value()}});
    }
    nlohmann::json fitted = nlohmann::json::array();
    for (const auto& p : c.parameters) fitted.push_back({{"name", p.name}, {"before", p.before}, {"after", p.after}});
    return {{"residuals", rows},
            {"parameters", fitted},
            {"layer_median_error_before", c.layer_error_before},
            {"layer_median_error_after", c.layer_error_after},
            {"kernel_median_error_before", c.kernel_error_before},
            {"kernel_median_error_after", c.kernel_error_after},
            {"collective_median_error_before", c.collective_error_before},
            {"collective_median_error_after", c.collective_error_after},
            {"overlap_median_error_before", c.overlap_error_before},
            {"overlap_median_error_after", c.overlap_error_after},
            {"machine", m.machine}};
}

const char* to_string(Residual::Kind k) {
    switch (k) {
        case Residual::Kind::kernel: return "kernel";
        case Residual::Kind::collective: return "collective";
        case Residual::Kind::layer: return "layer";
        case Residual::Kind::overlap: return "overlap";
    }
    return "kernel";
}

nlohmann::json calibrated_cluster_file(const nlohmann::json& file, const Calibration& c, const Measurements& m) {
    const std::string& measurements_file = m.file;
    nlohmann::json j = file;
    j["device"] = hardware::to_json(c.cluster.device);
    std::string fitted;
    for (const FittedParameter& p : c.parameters) fitted += (fitted.empty() ? "" : ", ") + p.name + " " + nlohmann::json(p.after).dump();
    j["device"]["source"] = "calibrated by splitsim calibrate from " + measurements_file +
                            (m.machine.empty() ? "" : ", measured on " + m.machine) +
                            (c.cluster.device.kernels.per_kind.empty() ? "" : " (kernels.per_kind)") +
                            (fitted.empty() ? "" : " (fitted: " + fitted + ")");
    nlohmann::json list = nlohmann::json::array();
    for (const auto& k : c.cluster.collectives) {
        list.push_back({{"op", to_string(k.op)},
                        {"ranks", k.ranks},
                        {"scope", k.across_nodes ? "network" : "node"},
                        {"min_bytes", quantity(k.min_bytes.value(), "B")},
                        {"latency", quantity(k.latency.value(), "s")},
                        {"bandwidth", quantity(k.bandwidth.value(), "B/s")},
                        {"source", "fitted by splitsim calibrate from " + measurements_file}});
    }
    j["collectives"] = list;
    for (const FittedParameter& p : c.parameters) {
        if (p.name == "node.gpu_bandwidth") j["node"]["gpu_bandwidth"] = quantity(p.after, "B/s");
    }
    const std::string source = j.contains("source") && j["source"].is_string() ? j["source"].get<std::string>() + " " : "";
    j["source"] = source + "Calibrated by splitsim calibrate from " + measurements_file + ".";
    return j;
}

}  // namespace splitsim::calibrate
