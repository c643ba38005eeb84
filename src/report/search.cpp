#include "splitsim/report/search.hpp"

#include <cstdio>
#include <sstream>

namespace splitsim::report {
namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string significant(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

double candidates_per_second(const search::Result& r) {
    return r.analytical_seconds > 0 ? static_cast<double>(r.enumerated) / r.analytical_seconds : 0;
}

std::vector<bool> pareto_flags(const search::Result& r) {
    std::vector<bool> on(r.ranked.size(), false);
    for (std::size_t i : r.pareto) on[i] = true;
    return on;
}

const char* tier_name(const search::Candidate& c) { return c.tier() == sim::Tier::event ? "event" : "analytical"; }

// The placement order, innermost first: "tp-cp-ep-dp-pp".
std::string order_name(const plan::Plan& p) {
    static constexpr const char* kShort[] = {"tp", "cp", "ep", "dp", "pp"};
    std::string out;
    for (plan::Dim d : p.order) out += (out.empty() ? "" : "-") + std::string(kShort[static_cast<int>(d)]);
    return out;
}

// GPU-seconds per token, the cost objective: iteration time x GPUs / tokens per iteration.
double cost(const search::Candidate& c, const model::ModelSpec& m) {
    return c.time().value() * c.plan.gpus() / (static_cast<double>(c.plan.global_batch) * m.seq_len);
}

}  // namespace

nlohmann::json to_json(const search::Result& r, const model::ModelSpec& m, const hardware::ClusterSpec& c, std::size_t listed,
                       search::Objective objective) {
    const std::size_t shown = std::min(listed, r.ranked.size());
    nlohmann::json j;
    j["model"] = m.name;
    j["cluster"] = c.name;
    j["objective"] = objective == search::Objective::cost ? "cost" : "time";
    j["enumerated"] = r.enumerated;
    j["fit"] = r.ranked.size();
    j["simulated"] = r.simulated;
    j["listed"] = shown;
    // How this run went: the only part of the document that differs between runs of the same
    // inputs (thread count and wall times). Everything else is byte-identical.
    j["run"] = {{"threads", r.threads},
                {"analytical_seconds", r.analytical_seconds},
                {"candidates_per_second", candidates_per_second(r)},
                {"event_seconds", r.event_seconds}};
    const auto on = pareto_flags(r);
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < shown; ++i) {
        const search::Candidate& cand = r.ranked[i];
        nlohmann::json e{{"rank", i + 1},
                         {"tier", tier_name(cand)},
                         {"plan", plan::to_json(cand.plan)},
                         {"gpus", cand.plan.gpus()},
                         {"iteration_time_s", cand.time().value()},
                         {"analytical_time_s", cand.analytical_time.value()},
                         {"gpu_seconds_per_token", cost(cand, m)},
                         {"peak_memory_bytes", static_cast<std::int64_t>(cand.peak_memory.value())},
                         {"mfu", cand.mfu},
                         {"tokens_per_s", cand.tokens_per_s},
                         {"pareto", static_cast<bool>(on[i])}};
        if (cand.event_time) e["event_time_s"] = cand.event_time->value();
        list.push_back(std::move(e));
    }
    j["candidates"] = std::move(list);
    nlohmann::json pareto = nlohmann::json::array();
    for (std::size_t i : r.pareto) pareto.push_back(i + 1);
    j["pareto_ranks"] = pareto;
    return j;
}

std::string render(const search::Result& r, const model::ModelSpec& m, const hardware::ClusterSpec& c, Format format,
                   std::size_t listed, search::Objective objective) {
    if (format == Format::json) return to_json(r, m, c, listed, objective).dump() + "\n";
    const std::size_t shown = std::min(listed, r.ranked.size());
    const bool by_cost = objective == search::Objective::cost;
    std::ostringstream out;
    if (format == Format::csv) {
        out << "rank,tier,gpus,tp,pp,dp,cp,ep,vpp,micro_batch,schedule,zero,recompute,sequence_parallel,flash_attention,order,"
               "iteration_time_s,analytical_time_s,gpu_seconds_per_token,peak_memory_bytes,mfu,tokens_per_s\n";
        for (std::size_t i = 0; i < shown; ++i) {
            const auto& k = r.ranked[i];
            const auto& p = k.plan;
            out << i + 1 << ',' << tier_name(k) << ',' << p.gpus() << ',' << p.tp << ',' << p.pp << ',' << p.dp << ',' << p.cp << ','
                << p.ep << ',' << p.vpp << ',' << p.micro_batch << ',' << plan::to_string(p.schedule) << ',' << p.zero << ','
                << plan::to_string(p.recompute) << ',' << (p.sequence_parallel ? "true" : "false") << ','
                << (p.flash_attention ? "true" : "false") << ',' << order_name(p) << ',' << fixed(k.time().value(), 9) << ','
                << fixed(k.analytical_time.value(), 9) << ',' << significant(cost(k, m)) << ',' << static_cast<std::int64_t>(k.peak_memory.value())
                << ',' << fixed(k.mfu, 6) << ',' << fixed(k.tokens_per_s, 3) << '\n';
        }
        return out.str();
    }
    const bool md = format == Format::markdown;
    const auto on = pareto_flags(r);
    out << (md ? "## " : "") << "splitsim search: " << m.name << " on " << c.name << "\n\n";
    out << (md ? "- " : "  ") << r.enumerated << " candidates, " << r.ranked.size() << " fit in memory; the best " << shown
        << " listed (--top, --all)\n";
    out << (md ? "- " : "  ") << "analytical tier: " << fixed(r.analytical_seconds, 3) << " s on " << r.threads << " thread(s), "
        << fixed(candidates_per_second(r), 0) << " candidates/s\n";
    out << (md ? "- " : "  ") << "event tier: the best " << r.simulated << " re-simulated in " << fixed(r.event_seconds, 3)
        << " s; they rank first, by the event tier's time, the rest by the analytical tier's\n\n";
    if (md) {
        out << "| rank | tier | plan | GPUs | time (s) | analytical (s) |" << (by_cost ? " GPU-s per token |" : "")
            << " peak memory | MFU | Pareto |\n|---:|---|---|---:|---:|---:|" << (by_cost ? "---:|" : "") << "---:|---:|:-:|\n";
    } else {
        char line[512];
        std::snprintf(line, sizeof line, "  %4s  %-10s %-72s %6s %10s %10s%s %11s %6s\n", "rank", "tier", "plan", "GPUs", "time (s)",
                      "analytical", by_cost ? "   GPU-s/token" : "", "peak memory", "MFU");
        out << line;
    }
    for (std::size_t i = 0; i < shown; ++i) {
        const auto& k = r.ranked[i];
        const std::string summary = plan_summary(k.plan);
        char per_token[32];
        std::snprintf(per_token, sizeof per_token, "%.4g", cost(k, m));
        char cost_column[48] = "";
        if (by_cost) std::snprintf(cost_column, sizeof cost_column, " %13s", per_token);
        if (md) {
            out << "| " << i + 1 << " | " << tier_name(k) << " | `" << summary << "` | " << k.plan.gpus() << " | "
                << fixed(k.time().value(), 3) << " | " << fixed(k.analytical_time.value(), 3) << " | "
                << (by_cost ? std::string(per_token) + " | " : "") << format_bytes(k.peak_memory) << " | " << fixed(100 * k.mfu, 1)
                << "% | " << (on[i] ? "yes" : "") << " |\n";
        } else {
            char line[512];
            std::snprintf(line, sizeof line, "  %4zu%s %-10s %-72s %6d %10.3f %10.3f%s %11s %5.1f%%\n", i + 1, on[i] ? "*" : " ",
                          tier_name(k), summary.c_str(), k.plan.gpus(), k.time().value(), k.analytical_time.value(),
                          cost_column,
                          format_bytes(k.peak_memory).c_str(), 100 * k.mfu);
            out << line;
        }
    }
    out << "\n" << (md ? "Pareto front" : "  Pareto front") << " (iteration time, peak memory, GPUs; * above): " << r.pareto.size()
        << " plans\n";
    for (std::size_t n = 0; n < std::min<std::size_t>(r.pareto.size(), 10); ++n) {
        const auto& k = r.ranked[r.pareto[n]];
        out << (md ? "- " : "    ") << "#" << r.pareto[n] + 1 << ": " << fixed(k.time().value(), 3) << " s (" << tier_name(k) << "), "
            << format_bytes(k.peak_memory) << ", " << k.plan.gpus() << " GPUs: " << plan_summary(k.plan) << "\n";
    }
    return out.str();
}

}  // namespace splitsim::report
