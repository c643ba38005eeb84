// check-execution: checks execution.json files written by splitsim-harness execute and prints their
// measured-vs-predicted tables. Used by the CI execute test and by validate/gpu-check.sh.
//   check-execution FILE... [--steps N] [--loss-tolerance X] [--grad-tolerance Y] [--require-prediction]
//                   [--reference unsharded|cpu] [--memory-tolerance Z] [--iteration-tolerance T]
//                   [--component-tolerance C] [--component-floor SECONDS] [--median-tolerance M] [--summary]
// For every file: the schema; every step's loss and gradient norm against the reference run,
// recomputed from the numbers in the file and held to the given tolerances (default: the file's
// own, which follow the precision); each rank's phases adding up to its iteration time; positive
// times and memory; with --memory-tolerance, the predicted peak memory within Z (relative) of the
// measured one; with --iteration-tolerance, the predicted iteration within T of the measured one;
// with --component-tolerance, every time component measured at --component-floor (1 ms) or more
// within C; with --median-tolerance, each file's median absolute error at most M. Prints each
// residual table and the median absolute error over all files' rows; --summary prints instead, per
// plan, each component's medians over the files and the spread of its error (runs of a closed loop).
// Exit code 0 when every check passes, 1 otherwise, 2 for unreadable input.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

int failures = 0;

void fail(const std::string& file, const std::string& what) {
    std::cerr << "check-execution: " << file << ": " << what << "\n";
    ++failures;
}

bool number(const json& j) { return j.is_number() && std::isfinite(j.get<double>()); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string show(double v, const std::string& unit) {
    char text[64];
    if (unit == "bytes") std::snprintf(text, sizeof text, "%.2f MiB", v / (1024.0 * 1024.0));
    else if (v >= 1) std::snprintf(text, sizeof text, "%.3f s", v);
    else std::snprintf(text, sizeof text, "%.2f ms", v * 1e3);
    return text;
}

struct Options {
    int steps = 0;
    double loss_tol = 0;
    double grad_tol = 0;
    bool require_prediction = false;
    std::string reference;  // the reference kind every file must have been checked against; empty: any
    double memory_tol = 0;  // predicted against measured peak memory, relative; 0: not checked
    double iteration_tol = 0;     // predicted against measured iteration, relative; 0: not checked
    double component_tol = 0;     // every time component of at least component_floor; 0: not checked
    double component_floor = 1e-3;
    double median_tol = 0;        // each file's median absolute error, relative; 0: not checked
    bool summary = false;
};

// One row of one run, for --summary.
struct Row {
    std::string plan;
    std::string component;
    std::string unit;
    double measured = 0;
    double predicted = 0;
};
std::vector<Row> summary_rows;
bool quiet = false;  // --summary: no per-file tables

template <typename... Args>
void table(const char* format, Args... args) {
    if (!quiet) std::printf(format, args...);
}

void check_file(const std::string& file, const json& d, const Options& o, std::vector<double>& errors) {
    const int steps = o.steps;
    double loss_tol = o.loss_tol, grad_tol = o.grad_tol;
    for (const char* key : {"harness", "model", "plan", "execution", "steps", "check", "prediction", "residuals",
                            "median_absolute_error_percent"}) {
        if (!d.contains(key)) {
            fail(file, std::string("missing \"") + key + "\"");
            return;
        }
    }
    if (d["harness"].value("command", "") != "execute") fail(file, "/harness/command is not \"execute\"");
    const json reference = d["execution"].is_object() ? d["execution"].value("reference", json()) : json();
    const std::string kind = reference.is_object() ? reference.value("kind", "") : "";
    if (!o.reference.empty() && kind != o.reference) {
        fail(file, "/execution/reference/kind is not \"" + o.reference + "\"");
    }
    const json& tolerance = d["check"]["tolerance"];
    if (loss_tol <= 0) loss_tol = tolerance.value("loss_relative", 0.0);
    if (grad_tol <= 0) grad_tol = tolerance.value("grad_checksum_relative", 0.0);
    const json& all = d["steps"];
    if (!all.is_array() || all.empty()) return fail(file, "/steps is empty");
    if (steps > 0 && static_cast<int>(all.size()) != steps) {
        fail(file, "/steps has " + std::to_string(all.size()) + " entries, expected " + std::to_string(steps));
    }
    double worst_loss = 0, worst_grad = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const json& s = all[i];
        const std::string at = "/steps/" + std::to_string(i);
        for (const char* key : {"loss", "reference_loss", "grad_checksum", "reference_grad_checksum", "peak_memory_bytes"}) {
            if (!s.contains(key) || !number(s[key])) fail(file, at + "/" + key + " is not a finite number");
        }
        if (failures) return;
        const double loss = s["loss"], ref = s["reference_loss"];
        const double grad = s["grad_checksum"], ref_grad = s["reference_grad_checksum"];
        if (!(ref > 0) || !(ref_grad > 0)) fail(file, at + ": the reference loss and gradient norm must be positive");
        const double dl = std::fabs(loss - ref) / std::fabs(ref), dg = std::fabs(grad - ref_grad) / std::fabs(ref_grad);
        worst_loss = std::max(worst_loss, dl);
        worst_grad = std::max(worst_grad, dg);
        if (!(dl <= loss_tol)) fail(file, at + ": loss " + std::to_string(loss) + " differs from the reference " + std::to_string(ref) +
                                              " by " + std::to_string(dl) + " relative (tolerance " + std::to_string(loss_tol) + ")");
        if (!(dg <= grad_tol)) fail(file, at + ": gradient norm differs from the reference run by " + std::to_string(dg) +
                                              " relative (tolerance " + std::to_string(grad_tol) + ")");
        if (!(s["peak_memory_bytes"].get<double>() > 0)) fail(file, at + "/peak_memory_bytes is not positive");
        if (!s.contains("ranks") || !s["ranks"].is_array() || s["ranks"].empty()) {
            fail(file, at + "/ranks is empty");
            continue;
        }
        // The phases split each rank's iteration: they add up to it.
        for (const json& r : s["ranks"]) {
            const json& t = r["time_s"];
            double sum = 0;
            bool ok = number(t["iteration"]) && t["iteration"].get<double>() > 0;
            for (auto it = t.begin(); it != t.end(); ++it) {
                if (!number(it.value()) || it.value().get<double>() < 0) ok = false;
                else if (it.key() != "iteration") sum += it.value().get<double>();
            }
            if (!ok) fail(file, at + "/ranks: rank " + std::to_string(r.value("rank", -1)) + " has a negative or missing time");
            else if (std::fabs(sum - t["iteration"].get<double>()) > 1e-6 * t["iteration"].get<double>() + 1e-9) {
                fail(file, at + "/ranks: rank " + std::to_string(r.value("rank", -1)) + "'s phases do not add up to its iteration");
            }
        }
    }
    if (!d["check"].value("passed", false)) fail(file, "/check/passed is false");

    const json& plan = d["plan"];
    table("%s: tp %d x pp %d x dp %d, %s, %zu steps: loss within %.1e (tolerance %.0e), gradient norm within %.1e (tolerance %.0e) of the reference (%s)\n",
                file.c_str(), plan.value("tp", 1), plan.value("pp", 1), plan.value("dp", 1),
                plan.value("schedule", std::string("1f1b")).c_str(), all.size(), worst_loss, loss_tol, worst_grad, grad_tol,
                reference.dump().c_str());
    if (d["prediction"].is_null()) {
        if (o.require_prediction) fail(file, "/prediction is null");
        return;
    }
    const json& rows = d["residuals"];
    if (!rows.is_array() || rows.empty()) return fail(file, "/residuals is empty");
    table("  %-38s %12s %12s %9s\n", "component", "measured", "predicted", "error %");
    for (const json& r : rows) {
        const std::string unit = r.value("unit", "s");
        if (!number(r["measured"]) || !number(r["predicted"])) {
            fail(file, "/residuals: " + r.value("component", std::string("?")) + " lacks a measured or predicted value");
            continue;
        }
        const double m = r["measured"], p = r["predicted"];
        const std::string component = r.value("component", std::string());
        summary_rows.push_back({plan.value("name", plan.dump()), component, unit, m, p});
        if (o.iteration_tol > 0 && component == "iteration time" && !(std::fabs(p - m) <= o.iteration_tol * m)) {
            fail(file, "/residuals: iteration predicted " + show(p, unit) + " against " + show(m, unit) + " measured, beyond the tolerance " +
                           std::to_string(o.iteration_tol));
        }
        if (o.component_tol > 0 && unit == "s" && m >= o.component_floor && !(std::fabs(p - m) <= o.component_tol * m)) {
            fail(file, "/residuals: " + component + " predicted " + show(p, unit) + " against " + show(m, unit) +
                           " measured, beyond the tolerance " + std::to_string(o.component_tol));
        }
        if (o.memory_tol > 0 && r.value("component", std::string()) == "peak memory" && !(std::fabs(p - m) <= o.memory_tol * m)) {
            fail(file, "/residuals: peak memory predicted " + std::to_string(p) + " B against " + std::to_string(m) +
                           " B measured, beyond the tolerance " + std::to_string(o.memory_tol));
        }
        if (number(r["error_percent"])) {
            const double e = r["error_percent"];
            if (std::fabs(e - (p - m) / m * 100.0) > 1e-6 * std::max(1.0, std::fabs(e))) fail(file, "/residuals: error_percent is not (predicted - measured) / measured");
            errors.push_back(std::fabs(e));
            table("  %-38s %12s %12s %+9.1f\n", r.value("component", std::string("?")).c_str(), show(m, unit).c_str(),
                        show(p, unit).c_str(), e);
        } else {
            table("  %-38s %12s %12s %9s\n", r.value("component", std::string("?")).c_str(), show(m, unit).c_str(),
                        show(p, unit).c_str(), "n/a");
        }
    }
    if (number(d["median_absolute_error_percent"])) {
        const double median_error = d["median_absolute_error_percent"].get<double>();
        table("  median absolute error: %.1f %%\n", median_error);
        if (o.median_tol > 0 && !(median_error <= 100 * o.median_tol)) {
            fail(file, "/median_absolute_error_percent: " + std::to_string(median_error) + " beyond the tolerance " +
                           std::to_string(100 * o.median_tol));
        }
    }
}

// Per plan and component, in the order first seen: the medians of measured and predicted over the
// runs, the median error and its range.
void print_summary() {
    std::vector<std::pair<std::string, std::string>> order;
    std::map<std::pair<std::string, std::string>, std::vector<const Row*>> rows;
    for (const Row& r : summary_rows) {
        const auto key = std::make_pair(r.plan, r.component);
        if (!rows.contains(key)) order.push_back(key);
        rows[key].push_back(&r);
    }
    std::string plan;
    for (const auto& key : order) {
        const auto& runs = rows[key];
        if (key.first != plan) {
            plan = key.first;
            std::printf("%s (%zu runs)\n  %-38s %12s %12s %9s %17s\n", plan.c_str(), runs.size(), "component", "measured",
                        "predicted", "error %", "error range %");
        }
        std::vector<double> measured, predicted, errors;
        for (const Row* r : runs) {
            measured.push_back(r->measured);
            predicted.push_back(r->predicted);
            if (r->measured > 0) errors.push_back(100 * (r->predicted - r->measured) / r->measured);
        }
        const std::string unit = runs.front()->unit;
        if (errors.empty()) continue;
        const auto [lo, hi] = std::minmax_element(errors.begin(), errors.end());
        char range[48];
        std::snprintf(range, sizeof range, "%+.1f .. %+.1f", *lo, *hi);
        std::printf("  %-38s %12s %12s %+9.1f %17s\n", key.second.c_str(), show(median(measured), unit).c_str(),
                    show(median(predicted), unit).c_str(), median(errors), range);
    }
}

}  // namespace

int main(int argc, char** argv) {
    const char* usage = "usage: check-execution FILE... [--steps N] [--loss-tolerance X] [--grad-tolerance Y] [--require-prediction] [--reference unsharded|cpu] [--memory-tolerance Z] [--iteration-tolerance T] [--component-tolerance C] [--component-floor SECONDS] [--median-tolerance M] [--summary]\n";
    std::vector<std::string> files;
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "check-execution: " << a << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--steps") o.steps = std::atoi(value().c_str());
        else if (a == "--loss-tolerance") o.loss_tol = std::atof(value().c_str());
        else if (a == "--grad-tolerance") o.grad_tol = std::atof(value().c_str());
        else if (a == "--require-prediction") o.require_prediction = true;
        else if (a == "--reference") o.reference = value();
        else if (a == "--memory-tolerance") o.memory_tol = std::atof(value().c_str());
        else if (a == "--iteration-tolerance") o.iteration_tol = std::atof(value().c_str());
        else if (a == "--component-tolerance") o.component_tol = std::atof(value().c_str());
        else if (a == "--component-floor") o.component_floor = std::atof(value().c_str());
        else if (a == "--median-tolerance") o.median_tol = std::atof(value().c_str());
        else if (a == "--summary") o.summary = quiet = true;
        else if (a == "--help" || a == "-h") {
            std::cout << usage;
            return 0;
        } else if (a.size() > 1 && a[0] == '-') {
            std::cerr << "check-execution: " << a << ": unknown option; " << usage;
            return 2;
        } else files.push_back(a);
    }
    if (files.empty()) {
        std::cerr << usage;
        return 2;
    }
    std::vector<double> errors;
    for (const std::string& file : files) {
        std::ifstream in(file);
        if (!in) {
            std::cerr << "check-execution: " << file << ": cannot open\n";
            return 2;
        }
        json d;
        try {
            d = json::parse(in);
        } catch (const json::exception& e) {
            std::cerr << "check-execution: " << file << ": " << e.what() << "\n";
            return 2;
        }
        check_file(file, d, o, errors);
    }
    if (o.summary) print_summary();
    else if (!errors.empty() && files.size() > 1) {
        std::printf("median absolute error over the %zu rows of %zu runs: %.1f %%\n", errors.size(), files.size(), median(errors));
    }
    if (failures) {
        std::cerr << "check-execution: " << failures << " check(s) failed\n";
        return 1;
    }
    return 0;
}
