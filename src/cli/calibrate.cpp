// splitsim calibrate: fit the cost model to the harness's measurements, write a calibrated cluster.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/common/json_reader.hpp"

namespace splitsim::cli {
namespace {

struct CalibrateOptions {
    std::vector<std::string> measurements;
    std::string cluster;
    std::optional<int> nodes;
    std::string out;
    std::string format = "table";
    std::string report = "-";
};

std::string percent(double before, double measured) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.1f%%", 100.0 * (before / measured - 1));
    return buf;
}

}  // namespace

Subcommand add_calibrate(CLI::App& app) {
    auto opts = std::make_shared<CalibrateOptions>();
    CLI::App* sub = app.add_subcommand("calibrate", "Fit kernel efficiencies and collective latency/bandwidth to measurements");
    sub->add_option("--measurements", opts->measurements,
                    "measurements.json written by splitsim-harness bench, or published calibration data "
                    "(validate/published/*.json of role calibration); several files are fitted together")
        ->required();
    sub->add_option("--cluster", opts->cluster, "the cluster the measurements ran on")->required();
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--out", opts->out, "the calibrated cluster file to write")->required();
    sub->add_option("--format", opts->format, "table | json (the residuals)")->check(CLI::IsMember({"table", "json"}));
    sub->add_option("--residuals", opts->report, "write the residuals here instead of standard output");
    return {sub, [opts] {
        std::vector<calibrate::Measurements> parts;
        for (const std::string& f : opts->measurements) {
            // An execution record or a plan given as measurements is named for what it is.
            expect_file_kind(read_json_file(f), f, FileKind::measurements);
            parts.push_back(calibrate::load_measurements(f));
        }
        const calibrate::Measurements m = calibrate::merge(parts);
        const hardware::ClusterSpec cluster = hardware::load_cluster(opts->cluster, opts->nodes);
        const calibrate::Calibration c = calibrate::calibrate(m, cluster);
        nlohmann::json file = read_json_file(opts->cluster);
        if (opts->nodes) file["nodes"] = *opts->nodes;
        // A device named in the cluster file lives next to it; the calibrated file carries it inline.
        const std::string profile = calibrate::calibrated_cluster_file(file, c, m).dump(2) + "\n";

        if (opts->format == "json") {
            nlohmann::json j = calibrate::to_json(c, m);
            j["calibrated_cluster"] = opts->out;
            write_outputs({{opts->out, profile}, {opts->report, j.dump(2) + "\n"}});
            return;
        }
        std::ostringstream t;
        char line[256];
        std::snprintf(line, sizeof line, "%-44s %12s %12s %9s %12s %9s\n", "measurement", "measured", "before", "error", "after", "error");
        t << line;
        for (const auto& r : c.residuals) {
            std::snprintf(line, sizeof line, "%-44s %12s %12s %9s %12s %9s\n", r.name.c_str(), format_seconds(r.measured).c_str(),
                          format_seconds(r.before).c_str(), percent(r.before.value(), r.measured.value()).c_str(),
                          format_seconds(r.after).c_str(), percent(r.after.value(), r.measured.value()).c_str());
            t << line;
        }
        std::snprintf(line, sizeof line, "\nmedian |error|: kernels %.1f%% before, %.1f%% after; collectives %.1f%% before, %.1f%% after\n",
                      100 * c.kernel_error_before, 100 * c.kernel_error_after, 100 * c.collective_error_before,
                      100 * c.collective_error_after);
        t << line;
        if (!m.layers.empty()) {
            std::snprintf(line, sizeof line, "layers %.1f%% before, %.1f%% after\n", 100 * c.layer_error_before, 100 * c.layer_error_after);
            t << line;
        }
        if (!m.overlaps.empty()) {
            std::snprintf(line, sizeof line, "kernels under collectives %.1f%% before, %.1f%% after\n", 100 * c.overlap_error_before,
                          100 * c.overlap_error_after);
            t << line;
        }
        if (!c.parameters.empty()) {
            t << "fitted device parameters:\n";
            for (const auto& p : c.parameters) {
                std::snprintf(line, sizeof line, "  %-20s %.4f -> %.4f\n", p.name.c_str(), p.before, p.after);
                t << line;
            }
        }
        if (!m.machine.empty()) t << "measured on " << m.machine << "\n";
        t << "calibrated cluster written to " << opts->out << "\n";
        write_outputs({{opts->out, profile}, {opts->report, t.str()}});
    }};
}

}  // namespace splitsim::cli
