#include "splitsim/report/planning.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "splitsim/report/search.hpp"

namespace splitsim::report {
namespace {

constexpr double kSecondsPerDay = 86400.0;

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string significant(double v, int digits = 4) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

const char* tier_name(const sim::Prediction& p) { return p.tier == sim::Tier::event ? "event" : "analytical"; }

nlohmann::json run_json(const planning::RunTotals& t) {
    const sim::Prediction& p = t.run.prediction;
    nlohmann::json j{{"plan", plan::to_json(t.run.plan)},
                     {"gpus", t.run.gpus()},
                     {"tier", tier_name(p)},
                     {"iteration_time_s", p.iteration_time.value()},
                     {"tokens_per_s", p.tokens_per_s},
                     {"mfu", p.mfu},
                     {"peak_memory_bytes", static_cast<std::int64_t>(p.memory.peak.value())},
                     {"iterations", t.iterations},
                     {"wall_s", t.wall.value()},
                     {"days", t.wall.value() / kSecondsPerDay},
                     {"gpu_hours", t.gpu_hours}};
    if (t.usd) j["usd"] = *t.usd;
    if (t.kwh) j["kwh"] = *t.kwh;
    return j;
}

// One row per run: name, GPUs, plan, iteration time, days, GPU-hours, cost, energy, speedup,
// scaling efficiency (the last two for baselines).
struct Row {
    std::string name;
    const planning::RunTotals* totals = nullptr;
    const planning::Baseline* baseline = nullptr;
};

std::vector<Row> rows(const planning::Estimate& e) {
    std::vector<Row> out{{"best plan", &e.best, nullptr}};
    for (const auto& b : e.baselines) {
        out.push_back({b.kind == planning::BaselineKind::smallest_group ? "smallest group" : "data parallel",
                       b.totals ? &*b.totals : nullptr, &b});
    }
    return out;
}

}  // namespace

nlohmann::json to_json(const planning::Estimate& e, const model::ModelSpec& m, const hardware::ClusterSpec& c,
                       const planning::Rates& rates) {
    nlohmann::json j{{"model", m.name}, {"cluster", c.name}, {"device", c.device.name}, {"tokens", e.tokens}};
    nlohmann::json r = nlohmann::json::object();
    if (rates.usd_per_gpu_hour) r["usd_per_gpu_hour"] = *rates.usd_per_gpu_hour;
    if (rates.watts_per_device) {
        r["watts_per_device"] = *rates.watts_per_device;
        r["power_origin"] = rates.power_origin;
    }
    j["rates"] = r;
    j["best"] = run_json(e.best);
    nlohmann::json baselines = nlohmann::json::array();
    for (const auto& b : e.baselines) {
        nlohmann::json x{{"kind", planning::to_string(b.kind)}, {"fits", b.totals.has_value()}};
        if (b.totals) {
            x.update(run_json(*b.totals));
            x["speedup"] = b.speedup;
            x["scaling_efficiency"] = b.scaling_efficiency;
        }
        baselines.push_back(std::move(x));
    }
    j["baselines"] = baselines;
    return j;
}

std::string render(const planning::Estimate& e, const model::ModelSpec& m, const hardware::ClusterSpec& c,
                   const planning::Rates& rates, Format format) {
    if (format == Format::json) return to_json(e, m, c, rates).dump() + "\n";
    std::ostringstream out;
    const auto all = rows(e);
    auto money = [](const planning::RunTotals& t) { return t.usd ? fixed(*t.usd, 0) : std::string(); };
    auto energy = [](const planning::RunTotals& t) { return t.kwh ? fixed(*t.kwh / 1000.0, 1) : std::string(); };
    if (format == Format::csv) {
        out << "run,fits,gpus,plan,tier,iteration_time_s,iterations,days,gpu_hours,usd,mwh,speedup,scaling_efficiency\n";
        for (const Row& r : all) {
            out << r.name << ',' << (r.totals ? "true" : "false");
            if (r.totals) {
                const auto& t = *r.totals;
                out << ',' << t.run.gpus() << ",\"" << plan_summary(t.run.plan) << "\"," << tier_name(t.run.prediction) << ','
                    << fixed(t.run.iteration_time().value(), 6) << ',' << fixed(t.iterations, 0) << ','
                    << fixed(t.wall.value() / kSecondsPerDay, 3) << ',' << fixed(t.gpu_hours, 0) << ',' << money(t) << ',' << energy(t)
                    << ',' << (r.baseline ? fixed(r.baseline->speedup, 4) : "") << ','
                    << (r.baseline ? fixed(r.baseline->scaling_efficiency, 4) : "");
            } else {
                out << ",,,,,,,,,,,";
            }
            out << '\n';
        }
        return out.str();
    }
    const bool md = format == Format::markdown;
    out << (md ? "## " : "") << "splitsim estimate: " << m.name << " on " << c.name << ", " << significant(e.tokens, 6)
        << " tokens\n\n";
    const auto& b = e.best;
    const char* item = md ? "- " : "  ";
    out << item << "best plan: " << plan_summary(b.run.plan) << " on " << b.run.gpus() << " GPUs\n";
    out << item << "iteration " << fixed(b.run.iteration_time().value(), 3) << " s (" << tier_name(b.run.prediction) << " tier), "
        << fixed(b.run.prediction.tokens_per_s, 0) << " tokens/s, MFU " << fixed(100 * b.run.prediction.mfu, 1) << "%, "
        << fixed(b.iterations, 0) << " iterations\n";
    out << item << "wall-clock " << fixed(b.wall.value() / kSecondsPerDay, 2) << " days, " << significant(b.gpu_hours, 6)
        << " GPU-hours";
    if (b.usd) out << ", $" << fixed(*b.usd, 0) << " at $" << significant(*rates.usd_per_gpu_hour) << " per GPU-hour";
    if (b.kwh) {
        out << ", " << fixed(*b.kwh / 1000.0, 1) << " MWh at " << significant(*rates.watts_per_device) << " W per device ("
            << rates.power_origin << ")";
    }
    out << "\n\n";
    if (md) {
        out << "| run | GPUs | plan | iteration (s) | days | GPU-hours | speedup | scaling efficiency |\n"
               "|---|---:|---|---:|---:|---:|---:|---:|\n";
    } else {
        char line[512];
        std::snprintf(line, sizeof line, "  %-15s %6s %-72s %10s %9s %12s %8s %10s\n", "run", "GPUs", "plan", "iter (s)", "days",
                      "GPU-hours", "speedup", "efficiency");
        out << line;
    }
    for (const Row& r : all) {
        if (!r.totals) {
            out << (md ? "| " : "  ") << r.name << (md ? " | | no plan fits | | | | | |\n" : ": no plan fits\n");
            continue;
        }
        const auto& t = *r.totals;
        const std::string speedup = r.baseline ? fixed(r.baseline->speedup, 2) + "x" : "";
        const std::string efficiency = r.baseline ? fixed(100 * r.baseline->scaling_efficiency, 1) + "%" : "";
        if (md) {
            out << "| " << r.name << " | " << t.run.gpus() << " | `" << plan_summary(t.run.plan) << "` | "
                << fixed(t.run.iteration_time().value(), 3) << " | " << fixed(t.wall.value() / kSecondsPerDay, 2) << " | "
                << fixed(t.gpu_hours, 0) << " | " << speedup << " | " << efficiency << " |\n";
        } else {
            char line[512];
            std::snprintf(line, sizeof line, "  %-15s %6d %-72s %10.3f %9.2f %12.0f %8s %10s\n", r.name.c_str(), t.run.gpus(),
                          plan_summary(t.run.plan).c_str(), t.run.iteration_time().value(), t.wall.value() / kSecondsPerDay,
                          t.gpu_hours, speedup.c_str(), efficiency.c_str());
            out << line;
        }
    }
    out << "\n" << item << "speedup: a baseline's wall-clock time over the best plan's for the same tokens; scaling efficiency:"
        << " speedup x baseline GPUs / best GPUs\n";
    return out.str();
}

}  // namespace splitsim::report

namespace splitsim::report {
namespace {

nlohmann::json evaluated_json(const planning::Evaluated& e) {
    return {{"plan", plan::to_json(e.plan)},
            {"gpus", e.gpus()},
            {"tier", tier_name(e.prediction)},
            {"iteration_time_s", e.iteration_time().value()},
            {"tokens_per_s", e.prediction.tokens_per_s},
            {"mfu", e.prediction.mfu},
            {"exposed_comm_share", e.exposed_comm_share()},
            {"required_memory_bytes", static_cast<std::int64_t>(e.prediction.memory.required().value())}};
}

nlohmann::json optional_number(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

nlohmann::json scaling_json(const std::vector<planning::ScalingPoint>& points) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : points) {
        nlohmann::json j{{"gpus", p.gpus}, {"global_batch", p.global_batch}, {"fits", p.best.has_value()}};
        if (p.best) {
            j["iteration_time_s"] = p.best->iteration_time().value();
            j["tokens_per_s"] = p.best->prediction.tokens_per_s;
            j["plan"] = plan::to_json(p.best->plan);
        }
        out.push_back(std::move(j));
    }
    return out;
}

std::string elasticity_text(const std::optional<double>& e) { return e ? fixed(*e, 3) : std::string("-"); }

}  // namespace

nlohmann::json to_json(const planning::Sensitivity& s) {
    nlohmann::json j{{"model", s.base.model.name},
                     {"cluster", s.base.cluster.name},
                     {"gpus", s.base.gpus},
                     {"global_batch", s.base.global_batch},
                     {"best", evaluated_json(s.best)}};
    nlohmann::json knobs = nlohmann::json::array();
    for (const auto& k : s.knobs) {
        nlohmann::json points = nlohmann::json::array();
        for (const auto& p : k.points) {
            nlohmann::json x{{"factor", p.factor}, {"fits", p.best.has_value()}, {"plan_changed", p.plan_changed}};
            if (p.best) {
                x["iteration_time_s"] = p.best->iteration_time().value();
                x["tokens_per_s"] = p.best->prediction.tokens_per_s;
                x["plan"] = plan::to_json(p.best->plan);
            }
            x["base_plan_time_s"] = p.base_plan ? nlohmann::json(p.base_plan->iteration_time().value()) : nlohmann::json(nullptr);
            points.push_back(std::move(x));
        }
        knobs.push_back({{"knob", planning::to_string(k.knob)},
                         {"applies", k.applies},
                         {"elasticity", optional_number(k.elasticity)},
                         {"base_plan_elasticity", optional_number(k.base_plan_elasticity)},
                         {"throughput_elasticity", optional_number(k.throughput_elasticity)},
                         {"plan_changes", k.plan_changes},
                         {"points", points}});
    }
    j["knobs"] = knobs;
    j["strong"] = scaling_json(s.strong);
    j["weak"] = scaling_json(s.weak);
    return j;
}

std::string render(const planning::Sensitivity& s, Format format) {
    if (format == Format::json) return to_json(s).dump() + "\n";
    std::ostringstream out;
    if (format == Format::csv) {
        out << "knob,factor,fits,iteration_time_s,base_plan_time_s,plan_changed,elasticity\n";
        for (const auto& k : s.knobs) {
            for (const auto& p : k.points) {
                out << planning::to_string(k.knob) << ',' << significant(p.factor, 6) << ',' << (p.best ? "true" : "false") << ','
                    << (p.best ? fixed(p.best->iteration_time().value(), 6) : "") << ','
                    << (p.base_plan ? fixed(p.base_plan->iteration_time().value(), 6) : "") << ',' << (p.plan_changed ? "true" : "false")
                    << ',' << (k.elasticity ? fixed(*k.elasticity, 4) : "") << '\n';
            }
        }
        return out.str();
    }
    const bool md = format == Format::markdown;
    const char* item = md ? "- " : "  ";
    out << (md ? "## " : "") << "splitsim sensitivity: " << s.base.model.name << " on " << s.base.gpus << " GPUs of " << s.base.cluster.name
        << ", global batch " << s.base.global_batch << "\n\n";
    out << item << "best plan: " << plan_summary(s.best.plan) << ", " << fixed(s.best.iteration_time().value(), 3) << " s ("
        << tier_name(s.best.prediction) << " tier)\n";
    out << item << "elasticity: d log T / d log x of the iteration time T, from the factors nearest 1; best plan re-searched at"
        << " each factor (\"base plan\": the base's best plan kept)\n\n";
    std::vector<double> factors;
    for (const auto& k : s.knobs) {
        for (const auto& p : k.points) factors.push_back(p.factor);
    }
    std::sort(factors.begin(), factors.end());
    factors.erase(std::unique(factors.begin(), factors.end()), factors.end());
    auto time_at = [](const planning::KnobSensitivity& k, double f) -> std::string {
        for (const auto& p : k.points) {
            if (p.factor != f) continue;
            if (!k.applies) return "n/a";
            return p.best ? fixed(p.best->iteration_time().value(), 3) + (p.plan_changed ? "*" : "") : "no fit";
        }
        return "";
    };
    if (md) {
        out << "| knob | elasticity | base plan | plan changes |";
        for (double f : factors) out << " x" << significant(f, 4) << " (s) |";
        out << "\n|---|---:|---:|:-:|";
        for (std::size_t i = 0; i < factors.size(); ++i) out << "---:|";
        out << "\n";
    } else {
        char line[256];
        std::snprintf(line, sizeof line, "  %-17s %10s %10s %7s", "knob", "elasticity", "base plan", "replan");
        out << line;
        for (double f : factors) {
            std::snprintf(line, sizeof line, " %10s", ("x" + significant(f, 4) + " (s)").c_str());
            out << line;
        }
        out << "\n";
    }
    for (const auto& k : s.knobs) {
        const std::string name(planning::to_string(k.knob));
        if (md) {
            out << "| " << name << " | " << elasticity_text(k.elasticity) << " | " << elasticity_text(k.base_plan_elasticity) << " | "
                << (k.plan_changes ? "yes" : "no") << " |";
            for (double f : factors) out << " " << time_at(k, f) << " |";
            out << "\n";
        } else {
            char line[256];
            std::snprintf(line, sizeof line, "  %-17s %10s %10s %7s", name.c_str(), elasticity_text(k.elasticity).c_str(),
                          elasticity_text(k.base_plan_elasticity).c_str(), k.plan_changes ? "yes" : "no");
            out << line;
            for (double f : factors) {
                std::snprintf(line, sizeof line, " %10s", time_at(k, f).c_str());
                out << line;
            }
            out << "\n";
        }
    }
    out << "\n" << item << "* the best plan differs from the base's; n/a: the cluster has no such resource\n";
    auto curve = [&](const char* name, const std::vector<planning::ScalingPoint>& points) {
        if (points.empty()) return;
        out << "\n" << (md ? "### " : "  ") << name << "\n";
        const planning::ScalingPoint* first = nullptr;
        for (const auto& p : points) {
            if (p.best && !first) first = &p;
        }
        for (const auto& p : points) {
            out << (md ? "- " : "    ") << p.gpus << " GPUs, batch " << p.global_batch << ": ";
            if (!p.best) {
                out << "no plan fits\n";
                continue;
            }
            const double per_gpu = p.best->prediction.tokens_per_s / p.gpus;
            const double efficiency = per_gpu / (first->best->prediction.tokens_per_s / first->gpus);
            out << fixed(p.best->iteration_time().value(), 3) << " s, " << fixed(p.best->prediction.tokens_per_s, 0) << " tokens/s, "
                << fixed(100 * efficiency, 1) << "% of the first point's tokens/s per GPU; " << plan_summary(p.best->plan) << "\n";
        }
    };
    curve("strong scaling (global batch fixed)", s.strong);
    curve("weak scaling (global batch grown with the GPUs)", s.weak);
    return out.str();
}

nlohmann::json to_json(const planning::Requirements& r, const model::ModelSpec& m, const hardware::ClusterSpec& c, double comm_share) {
    nlohmann::json target{{"kind", r.target.kind == planning::TargetKind::iteration_time ? "iteration_time"
                                   : r.target.kind == planning::TargetKind::tokens_per_s ? "tokens_per_s"
                                                                                          : "days"},
                          {"value", r.target.value},
                          {"iteration_time_s", r.target_time.value()}};
    if (r.target.kind == planning::TargetKind::days) target["tokens"] = r.target.tokens;
    nlohmann::json j{{"model", m.name}, {"cluster", c.name}, {"target", target}, {"reachable", r.reachable}, {"max_gpus", r.max_gpus}};
    nlohmann::json probes = nlohmann::json::array();
    for (const auto& [g, t] : r.probes) {
        probes.push_back({{"gpus", g}, {"iteration_time_s", t ? nlohmann::json(t->value()) : nlohmann::json(nullptr)}});
    }
    j["probes"] = probes;
    if (r.reachable) {
        j["fewest_gpus"] = r.best->gpus();
        j["best"] = evaluated_json(*r.best);
    } else {
        j["closest"] = r.best ? evaluated_json(*r.best) : nlohmann::json(nullptr);
    }
    if (r.least_memory) j["least_memory"] = evaluated_json(*r.least_memory);
    j["comm_share"] = comm_share;
    nlohmann::json bw = nlohmann::json::array();
    for (const auto& b : r.bandwidth) {
        nlohmann::json x{{"resource", planning::to_string(b.knob)}, {"applies", b.applies}};
        if (b.applies) {
            x["current_bytes_per_s"] = b.current.value();
            x["share_at_current"] = b.share_at_current;
            x["threshold_bytes_per_s"] = b.threshold ? nlohmann::json(b.threshold->value()) : nlohmann::json(nullptr);
            x["above_range"] = b.above_range;
        }
        bw.push_back(std::move(x));
    }
    j["bandwidth"] = bw;
    return j;
}

std::string render(const planning::Requirements& r, const model::ModelSpec& m, const hardware::ClusterSpec& c, double comm_share,
                   Format format) {
    if (format == Format::json) return to_json(r, m, c, comm_share).dump() + "\n";
    std::ostringstream out;
    if (format == Format::csv) {
        out << "gpus,iteration_time_s\n";
        for (const auto& [g, t] : r.probes) out << g << ',' << (t ? fixed(t->value(), 6) : "") << '\n';
        return out.str();
    }
    const bool md = format == Format::markdown;
    const char* item = md ? "- " : "  ";
    out << (md ? "## " : "") << "splitsim requirements: " << m.name << " on " << c.name << ", target " << planning::describe(r.target);
    if (r.target.kind != planning::TargetKind::iteration_time) out << " (" << fixed(r.target_time.value(), 3) << " s per iteration)";
    out << "\n\n";
    out << item << "GPU counts searched (bisection):";
    for (std::size_t i = 0; i < r.probes.size(); ++i) {
        const auto& [g, t] = r.probes[i];
        out << (i ? ", " : " ") << g << (t ? " -> " + fixed(t->value(), 3) + " s" : std::string(" -> no fit"));
    }
    out << "\n";
    if (!r.reachable) {
        out << item << "no plan on at most " << r.max_gpus << " GPUs reaches " << fixed(r.target_time.value(), 3) << " s";
        if (r.best) {
            out << "; the best there: " << fixed(r.best->iteration_time().value(), 3) << " s with " << plan_summary(r.best->plan);
        } else {
            out << "; no plan fits there";
        }
        out << "\n";
        return out.str();
    }
    out << item << "fewest GPUs: " << r.best->gpus() << ", " << fixed(r.best->iteration_time().value(), 3) << " s with "
        << plan_summary(r.best->plan) << "\n";
    if (r.least_memory) {
        out << item << "least device memory on " << r.best->gpus() << " GPUs: " << format_bytes(r.least_memory->prediction.memory.required())
            << " (" << fixed(r.least_memory->iteration_time().value(), 3) << " s with " << plan_summary(r.least_memory->plan) << ")\n";
    }
    for (const auto& b : r.bandwidth) {
        const std::string name = b.knob == planning::Knob::nic_bandwidth ? "NIC bandwidth" : "NVLink bandwidth";
        out << item << name << ": ";
        if (!b.applies) {
            out << "no such link in " << c.name << "\n";
            continue;
        }
        out << "now " << format_bandwidth(b.current) << " (exposed communication " << fixed(100 * b.share_at_current, 1)
            << "% of the iteration); ";
        if (b.threshold) {
            out << "below " << format_bandwidth(*b.threshold) << " exposed communication passes " << fixed(100 * comm_share, 1) << "%\n";
        } else if (b.above_range) {
            out << "exposed communication stays above " << fixed(100 * comm_share, 1) << "% even at " << significant(planning::kMaxFactor)
                << "x\n";
        } else {
            out << "exposed communication stays below " << fixed(100 * comm_share, 1) << "% even at " << significant(planning::kMinFactor)
                << "x\n";
        }
    }
    return out.str();
}

}  // namespace splitsim::report
