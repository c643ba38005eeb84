#include "splitsim/report/simulation.hpp"

#include "splitsim/report/search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "splitsim/common/error.hpp"

namespace splitsim::report {
namespace {

using plan::Dim;

constexpr Dim kDims[] = {Dim::tensor, Dim::context, Dim::expert, Dim::data, Dim::pipeline};

std::int64_t whole(Bytes b) { return static_cast<std::int64_t>(std::llround(b.value())); }

// Byte counts are reported as integers: a prediction must keep them below 2^62 (4 EiB), far above
// any machine, and every time and ratio finite. A prediction outside that range comes from inputs
// out of proportion with each other (a batch of 10^9 sequences on one GPU); it is reported as bad
// input rather than as numbers that would read "null" or wrap around.
void check_reportable(const sim::Scenario& sc, const sim::Prediction& r) {
    auto fail = [&](const std::string& what, double value) {
        char text[64];
        std::snprintf(text, sizeof text, "%g", value);
        throw InputError(sc.plan().origin, "",
                         "the prediction leaves the range a report can state (" + what + " = " + text +
                             "); the model, batch or hardware figures are out of range");
    };
    auto time = [&](const std::string& what, double value) {
        if (!std::isfinite(value) || value < 0) fail(what, value);
    };
    auto bytes = [&](const std::string& what, Bytes b) {
        if (!(b.value() >= 0 && b.value() <= 0x1p62)) fail(what, b.value());
    };
    time("iteration_time_s", r.iteration_time.value());
    time("tokens_per_s", r.tokens_per_s);
    time("model_tflops_per_gpu", r.model_tflops_per_gpu);
    time("mfu", r.mfu);
    time("hfu", r.hfu);
    time("bubble_fraction", r.bubble_fraction);
    time("compute_s", r.compute.value());
    time("bubble_s", r.bubble.value());
    time("optimizer_s", r.optimizer.value());
    for (Dim d : kDims) {
        const auto i = static_cast<std::size_t>(d);
        time("exposed_communication_s", r.exposed_comm[i].value());
        bytes("communication", r.comm_bytes[i]);
    }
    bytes("peak_bytes", r.memory.peak);
    bytes("reserved_bytes", r.memory.reserved);
    bytes("required_bytes", r.memory.required());
    bytes("capacity_bytes", r.memory.capacity);
    for (const auto& s : r.memory.stages) {
        for (Bytes b : {s.bytes.weights, s.bytes.gradients, s.bytes.optimizer, s.bytes.activations, s.bytes.temporary,
                        s.bytes.other, s.reserved}) {
            bytes("memory of stage " + std::to_string(s.stage), b);
        }
        bytes("memory of stage " + std::to_string(s.stage), s.bytes.total());
    }
    for (const auto& t : r.stages) {
        for (Seconds x : {t.forward, t.backward, t.exposed_comm, t.data_parallel, t.optimizer}) {
            time("time of stage " + std::to_string(t.stage), x.value());
        }
    }
    for (const auto& l : r.links) bytes("link bytes", l.bytes);
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string percent(double v) { return fixed(100.0 * v, 1) + "%"; }

}  // namespace

std::string plan_summary(const plan::Plan& p) {
    std::ostringstream s;
    s << "tp=" << p.tp << " pp=" << p.pp << " dp=" << p.dp;
    if (p.cp > 1) s << " cp=" << p.cp;
    if (p.ep > 1) s << " ep=" << p.ep;
    if (p.vpp > 1) s << " vpp=" << p.vpp;
    if (p.first_stage_layers) s << " first=" << p.first_stage_layers;
    if (p.last_stage_layers) s << " last=" << p.last_stage_layers;
    s << " mb=" << p.micro_batch << " gb=" << p.global_batch << " " << plan::to_string(p.schedule);
    if (p.sequence_parallel) s << " sp";
    if (p.zero) s << " zero=" << p.zero;
    if (p.recompute != model::Recompute::none) s << " recompute=" << plan::to_string(p.recompute);
    s << " " << to_string(p.precision);
    if (p.flash_attention) s << " flash";
    if (p.order[3] == plan::Dim::pipeline) s << " order=tp-cp-ep-pp-dp";
    return s.str();
}

namespace {

// Rows of label and value shared by the table and Markdown renderings.
std::vector<std::pair<std::string, std::string>> summary_rows(const sim::Prediction& r) {
    std::vector<std::pair<std::string, std::string>> rows{
        {"iteration time", format_seconds(r.iteration_time)},
        {"throughput", fixed(r.tokens_per_s, 0) + " tokens/s"},
        {"model TFLOP/s per GPU", fixed(r.model_tflops_per_gpu, 1)},
        {"MFU / HFU", percent(r.mfu) + " / " + percent(r.hfu)},
        // One measure, the breakdown's bubble time, as a share of the iteration and of the ideal
        // (bubble_fraction; its definition is in prediction.hpp and simulate --help).
        {"pipeline bubble", format_seconds(r.bubble) + ": " + percent(r.bubble / r.iteration_time) + " of the iteration, " +
                                percent(r.bubble_fraction) + " of ideal (bubble_fraction)"},
        {"peak memory per GPU",
         format_bytes(r.memory.peak) + " allocated, " + format_bytes(r.memory.reserved) + " reserved (stage " +
             std::to_string(r.memory.reserved_stage) + ")"},
        {"memory needed per GPU",
         format_bytes(r.memory.required()) + " of " + format_bytes(r.memory.capacity) + " (+ " +
             format_bytes(r.memory.context + r.memory.communication) + " context and communication buffers, " +
             (r.memory.fits() ? "fits" : "DOES NOT FIT") + ")"},
    };
    return rows;
}

std::vector<std::pair<std::string, Seconds>> breakdown_rows(const sim::Prediction& r) {
    std::vector<std::pair<std::string, Seconds>> rows{{"compute", r.compute}};
    for (Dim d : kDims) {
        const Seconds t = r.exposed_comm[static_cast<std::size_t>(d)];
        if (t.value() > 0) rows.emplace_back(std::string(plan::to_string(d)) + " communication (exposed)", t);
    }
    rows.emplace_back("pipeline bubble", r.bubble);
    rows.emplace_back("optimizer step", r.optimizer);
    return rows;
}

std::string render_table(const sim::Scenario& sc, const sim::Prediction& r) {
    std::ostringstream out;
    const auto& c = sc.cluster();
    out << "splitsim: " << sc.model().name << " on " << c.name << " (" << c.device_count() << " x " << c.device.name
        << ")\nplan: " << plan_summary(sc.plan()) << "\ntier: " << (r.tier == sim::Tier::event ? "event" : "analytical");
    if (r.tier == sim::Tier::event) out << " (" << r.tasks << " tasks, " << r.events << " events)";
    out << "\n\n";
    char line[256];
    for (const auto& [label, value] : summary_rows(r)) {
        std::snprintf(line, sizeof line, "  %-24s %s\n", label.c_str(), value.c_str());
        out << line;
    }
    out << "\ntime per iteration, critical stage\n";
    for (const auto& [label, t] : breakdown_rows(r)) {
        std::snprintf(line, sizeof line, "  %-36s %12s %6.1f%%\n", label.c_str(), format_seconds(t).c_str(),
                      100.0 * (t / r.iteration_time));
        out << line;
    }
    out << "\nmemory per GPU\n";
    std::snprintf(line, sizeof line, "  %5s %11s %11s %11s %11s %11s %11s %11s %11s  %s\n", "stage", "weights",
                  "gradients", "optimizer", "activations", "(temporary)", "other", "total", "reserved", "peak at");
    out << line;
    for (const auto& s : r.memory.stages) {
        std::snprintf(line, sizeof line, "  %5d %11s %11s %11s %11s %11s %11s %11s %11s  %s\n", s.stage,
                      format_bytes(s.bytes.weights).c_str(), format_bytes(s.bytes.gradients).c_str(),
                      format_bytes(s.bytes.optimizer).c_str(), format_bytes(s.bytes.activations).c_str(),
                      format_bytes(s.bytes.temporary).c_str(), format_bytes(s.bytes.other).c_str(),
                      format_bytes(s.bytes.total()).c_str(), format_bytes(s.reserved).c_str(),
                      std::string(s.peak_at).c_str());
        out << line;
    }
    if (!r.links.empty()) {
        out << "\nbusiest links (event tier)\n";
        for (std::size_t i = 0; i < std::min<std::size_t>(r.links.size(), 5); ++i) {
            const auto& l = r.links[i];
            std::snprintf(line, sizeof line, "  %-48s %11s %6.1f%%\n", sc.topology().link_name(l.link).c_str(),
                          format_bytes(l.bytes).c_str(), 100.0 * l.utilization);
            out << line;
        }
    }
    if (!r.utilization.empty()) {
        out << "\nutilization of each stage's compute stream (event tier, share of the iteration)\n";
        std::snprintf(line, sizeof line, "  %-8s %8s %8s", "rank", "compute", "bubble");
        out << line;
        for (Dim d : kDims) {
            std::snprintf(line, sizeof line, " %10s", ("wait " + std::string(plan::to_string(d)).substr(0, 5)).c_str());
            out << line;
        }
        out << "\n";
        const std::size_t shown = std::min<std::size_t>(r.utilization.size(), 16);
        for (std::size_t i = 0; i < shown; ++i) {
            const auto& u = r.utilization[i];
            std::snprintf(line, sizeof line, "  %-8d %7.1f%% %7.1f%%", u.rank, 100 * u.compute, 100 * u.bubble);
            out << line;
            for (Dim d : kDims) {
                std::snprintf(line, sizeof line, " %9.1f%%", 100 * u.waiting[static_cast<std::size_t>(d)]);
                out << line;
            }
            out << "\n";
        }
        if (shown < r.utilization.size()) out << "  (" << r.utilization.size() - shown << " more in --format json)\n";
    }
    out << "\ncommunication per GPU per iteration (bytes sent)\n";
    for (Dim d : kDims) {
        const Bytes b = r.comm_bytes[static_cast<std::size_t>(d)];
        if (b.value() <= 0) continue;
        std::snprintf(line, sizeof line, "  %-10s %s\n", std::string(plan::to_string(d)).c_str(), format_bytes(b).c_str());
        out << line;
    }
    return out.str();
}

std::string render_markdown(const sim::Scenario& sc, const sim::Prediction& r) {
    std::ostringstream out;
    const auto& c = sc.cluster();
    out << "## " << sc.model().name << " on " << c.name << " (" << c.device_count() << " x " << c.device.name << ")\n\n"
        << "Plan: `" << plan_summary(sc.plan()) << "`\n\n| metric | value |\n|---|---|\n";
    for (const auto& [label, value] : summary_rows(r)) out << "| " << label << " | " << value << " |\n";
    out << "\n| time (critical stage) | seconds | share |\n|---|---:|---:|\n";
    for (const auto& [label, t] : breakdown_rows(r)) {
        out << "| " << label << " | " << fixed(t.value(), 6) << " | " << percent(t / r.iteration_time) << " |\n";
    }
    out << "\n| stage | weights | gradients | optimizer | activations | (of which temporary) | other | total | reserved |\n"
        << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& s : r.memory.stages) {
        out << "| " << s.stage << " | " << format_bytes(s.bytes.weights) << " | " << format_bytes(s.bytes.gradients)
            << " | " << format_bytes(s.bytes.optimizer) << " | " << format_bytes(s.bytes.activations) << " | "
            << format_bytes(s.bytes.temporary) << " | " << format_bytes(s.bytes.other) << " | "
            << format_bytes(s.bytes.total()) << " | " << format_bytes(s.reserved) << " |\n";
    }
    return out.str();
}

std::string render_csv(const sim::Scenario& sc, const sim::Prediction& r) {
    const auto& p = sc.plan();
    std::ostringstream head, row;
    auto col = [&](const std::string& name, const std::string& value) {
        head << (head.tellp() > 0 ? "," : "") << name;
        row << (row.tellp() > 0 ? "," : "") << value;
    };
    col("model", sc.model().name);
    col("cluster", sc.cluster().name);
    col("gpus", std::to_string(p.gpus()));
    col("tp", std::to_string(p.tp));
    col("pp", std::to_string(p.pp));
    col("dp", std::to_string(p.dp));
    col("cp", std::to_string(p.cp));
    col("ep", std::to_string(p.ep));
    col("vpp", std::to_string(p.vpp));
    col("micro_batch", std::to_string(p.micro_batch));
    col("global_batch", std::to_string(p.global_batch));
    col("schedule", std::string(plan::to_string(p.schedule)));
    col("iteration_time_s", fixed(r.iteration_time.value(), 9));
    col("tokens_per_s", fixed(r.tokens_per_s, 3));
    col("model_tflops_per_gpu", fixed(r.model_tflops_per_gpu, 6));
    col("mfu", fixed(r.mfu, 6));
    col("hfu", fixed(r.hfu, 6));
    col("bubble_fraction", fixed(r.bubble_fraction, 6));
    col("peak_memory_bytes", std::to_string(whole(r.memory.peak)));
    col("reserved_memory_bytes", std::to_string(whole(r.memory.reserved)));
    col("memory_fits", r.memory.fits() ? "true" : "false");
    for (Dim d : kDims) col(std::string(plan::to_string(d)) + "_bytes", std::to_string(whole(r.comm_bytes[static_cast<std::size_t>(d)])));
    return head.str() + "\n" + row.str() + "\n";
}

}  // namespace

nlohmann::json to_json(const sim::Scenario& sc, const sim::Prediction& r) {
    check_reportable(sc, r);
    nlohmann::json j;
    j["model"] = sc.model().name;
    j["cluster"] = sc.cluster().name;
    j["device"] = sc.cluster().device.name;
    j["gpus"] = sc.plan().gpus();
    j["plan"] = plan::to_json(sc.plan());
    j["iteration_time_s"] = r.iteration_time.value();
    j["tokens_per_s"] = r.tokens_per_s;
    j["model_tflops_per_gpu"] = r.model_tflops_per_gpu;
    j["mfu"] = r.mfu;
    j["hfu"] = r.hfu;
    j["bubble_fraction"] = r.bubble_fraction;
    j["model_flops_per_iteration"] = r.model_flops.value();
    j["hardware_flops_per_iteration"] = r.hardware_flops.value();

    nlohmann::json breakdown;
    breakdown["compute_s"] = r.compute.value();
    breakdown["bubble_s"] = r.bubble.value();
    breakdown["optimizer_s"] = r.optimizer.value();
    nlohmann::json exposed = nlohmann::json::object();
    nlohmann::json comm = nlohmann::json::object();
    for (Dim d : kDims) {
        const auto i = static_cast<std::size_t>(d);
        exposed[std::string(plan::to_string(d))] = r.exposed_comm[i].value();
        comm[std::string(plan::to_string(d))] = whole(r.comm_bytes[i]);
    }
    j["exposed_communication_s"] = exposed;
    j["time_breakdown"] = breakdown;
    j["communication"] = comm;

    nlohmann::json stages = nlohmann::json::array();
    for (const auto& s : r.memory.stages) {
        stages.push_back({{"stage", s.stage},
                          {"in_flight_micro_batches", s.in_flight},
                          {"weights", whole(s.bytes.weights)},
                          {"gradients", whole(s.bytes.gradients)},
                          {"optimizer", whole(s.bytes.optimizer)},
                          {"activations", whole(s.bytes.activations)},
                          {"temporary", whole(s.bytes.temporary)},
                          {"other", whole(s.bytes.other)},
                          {"total", whole(s.bytes.total())},
                          {"reserved", whole(s.reserved)},
                          {"peak_at", s.peak_at}});
    }
    j["memory"] = {{"peak_bytes", whole(r.memory.peak)},
                   {"peak_stage", r.memory.peak_stage},
                   {"reserved_bytes", whole(r.memory.reserved)},
                   {"reserved_stage", r.memory.reserved_stage},
                   {"context_bytes", whole(r.memory.context)},
                   {"communication_buffer_bytes", whole(r.memory.communication)},
                   {"required_bytes", whole(r.memory.required())},
                   {"capacity_bytes", whole(r.memory.capacity)},
                   {"fits", r.memory.fits()},
                   {"stages", stages}};

    nlohmann::json times = nlohmann::json::array();
    for (const auto& t : r.stages) {
        times.push_back({{"stage", t.stage},
                         {"forward_s", t.forward.value()},
                         {"backward_s", t.backward.value()},
                         {"exposed_communication_s", t.exposed_comm.value()},
                         {"data_parallel_s", t.data_parallel.value()},
                         {"optimizer_s", t.optimizer.value()}});
    }
    j["stage_times_per_micro_batch"] = times;
    j["tier"] = r.tier == sim::Tier::event ? "event" : "analytical";
    if (r.tier == sim::Tier::event) {
        nlohmann::json links = nlohmann::json::array();
        for (const auto& l : r.links) {
            links.push_back({{"link", sc.topology().link_name(l.link)},
                             {"bytes", whole(l.bytes)},
                             {"utilization", l.utilization}});
        }
        j["links"] = links;
        // Every simulated rank's compute stream: computing, waiting on each dimension's
        // communication, or waiting with none in flight (bubble); and its streams' busy shares.
        nlohmann::json utilization = nlohmann::json::array();
        for (const auto& u : r.utilization) {
            nlohmann::json waiting = nlohmann::json::object(), busy = nlohmann::json::object();
            for (Dim d : kDims) {
                waiting[std::string(plan::to_string(d))] = u.waiting[static_cast<std::size_t>(d)];
                busy[std::string(plan::to_string(d))] = u.comm_busy[static_cast<std::size_t>(d)];
            }
            utilization.push_back({{"rank", u.rank},
                                   {"stage", u.rank % sc.plan().pp},
                                   {"compute", u.compute},
                                   {"waiting", waiting},
                                   {"bubble", u.bubble},
                                   {"comm_busy", busy}});
        }
        j["utilization"] = utilization;
        j["events"] = r.events;
        j["tasks"] = r.tasks;
    }
    return j;
}

std::string render(const sim::Scenario& sc, const sim::Prediction& r, Format format) {
    check_reportable(sc, r);
    switch (format) {
        case Format::table: return render_table(sc, r);
        case Format::json: return to_json(sc, r).dump(2) + "\n";
        case Format::csv: return render_csv(sc, r);
        case Format::markdown: return render_markdown(sc, r);
    }
    return {};
}

}  // namespace splitsim::report
