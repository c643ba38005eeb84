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

double candidates_per_second(const search::Result& r) {
    return r.analytical_seconds > 0 ? static_cast<double>(r.enumerated) / r.analytical_seconds : 0;
}

std::vector<bool> pareto_flags(const search::Result& r) {
    std::vector<bool> on(r.ranked.size(), false);
    for (std::size_t i : r.pareto) on[i] = true;
    return on;
}

}  // namespace

nlohmann::json to_json(const search::Result& r, const model::ModelSpec& m, const hardware::ClusterSpec& c) {
    nlohmann::json j;
    j["model"] = m.name;
    j["cluster"] = c.name;
    j["enumerated"] = r.enumerated;
    j["fit"] = r.ranked.size();
    j["simulated"] = r.simulated;
    // How this run went: the only part of the document that differs between runs of the same
    // inputs (thread count and wall times). Everything else is byte-identical.
    j["run"] = {{"threads", r.threads},
                {"analytical_seconds", r.analytical_seconds},
                {"candidates_per_second", candidates_per_second(r)},
                {"event_seconds", r.event_seconds}};
    const auto on = pareto_flags(r);
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t i = 0; i < r.ranked.size(); ++i) {
        const search::Candidate& cand = r.ranked[i];
        nlohmann::json e{{"rank", i + 1},
                         {"plan", plan::to_json(cand.plan)},
                         {"gpus", cand.plan.gpus()},
                         {"iteration_time_s", cand.time().value()},
                         {"analytical_time_s", cand.analytical_time.value()},
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

std::string render(const search::Result& r, const model::ModelSpec& m, const hardware::ClusterSpec& c, Format format, int top) {
    if (format == Format::json) return to_json(r, m, c).dump() + "\n";
    const std::size_t shown = std::min<std::size_t>(r.ranked.size(), static_cast<std::size_t>(std::max(top, 0)));
    std::ostringstream out;
    if (format == Format::csv) {
        out << "rank,gpus,tp,pp,dp,cp,ep,vpp,micro_batch,schedule,zero,recompute,sequence_parallel,flash_attention,"
               "iteration_time_s,analytical_time_s,peak_memory_bytes,mfu,tokens_per_s\n";
        for (std::size_t i = 0; i < r.ranked.size(); ++i) {
            const auto& k = r.ranked[i];
            const auto& p = k.plan;
            out << i + 1 << ',' << p.gpus() << ',' << p.tp << ',' << p.pp << ',' << p.dp << ',' << p.cp << ',' << p.ep << ','
                << p.vpp << ',' << p.micro_batch << ',' << plan::to_string(p.schedule) << ',' << p.zero << ','
                << plan::to_string(p.recompute) << ',' << (p.sequence_parallel ? "true" : "false") << ','
                << (p.flash_attention ? "true" : "false") << ',' << fixed(k.time().value(), 9) << ','
                << fixed(k.analytical_time.value(), 9) << ',' << static_cast<std::int64_t>(k.peak_memory.value()) << ','
                << fixed(k.mfu, 6) << ',' << fixed(k.tokens_per_s, 3) << '\n';
        }
        return out.str();
    }
    const bool md = format == Format::markdown;
    const auto on = pareto_flags(r);
    out << (md ? "## " : "") << "splitsim search: " << m.name << " on " << c.name << "\n\n";
    out << (md ? "- " : "  ") << r.enumerated << " candidates, " << r.ranked.size() << " fit in memory\n";
    out << (md ? "- " : "  ") << "analytical tier: " << fixed(r.analytical_seconds, 3) << " s on " << r.threads << " thread(s), "
        << fixed(candidates_per_second(r), 0) << " candidates/s\n";
    out << (md ? "- " : "  ") << "event tier re-ranking: " << fixed(r.event_seconds, 3) << " s\n\n";
    if (md) {
        out << "| rank | plan | GPUs | time (s) | analytical (s) | peak memory | MFU | Pareto |\n|---:|---|---:|---:|---:|---:|---:|:-:|\n";
    } else {
        char line[512];
        std::snprintf(line, sizeof line, "  %4s  %-72s %6s %10s %10s %11s %6s\n", "rank", "plan", "GPUs", "time (s)",
                      "analytical", "peak memory", "MFU");
        out << line;
    }
    for (std::size_t i = 0; i < shown; ++i) {
        const auto& k = r.ranked[i];
        const std::string summary = plan_summary(k.plan);
        if (md) {
            out << "| " << i + 1 << " | `" << summary << "` | " << k.plan.gpus() << " | " << fixed(k.time().value(), 3) << " | "
                << fixed(k.analytical_time.value(), 3) << " | " << format_bytes(k.peak_memory) << " | " << fixed(100 * k.mfu, 1)
                << "% | " << (on[i] ? "yes" : "") << " |\n";
        } else {
            char line[512];
            std::snprintf(line, sizeof line, "  %4zu%s %-72s %6d %10.3f %10.3f %11s %5.1f%%\n", i + 1, on[i] ? "*" : " ",
                          summary.c_str(), k.plan.gpus(), k.time().value(), k.analytical_time.value(),
                          format_bytes(k.peak_memory).c_str(), 100 * k.mfu);
            out << line;
        }
    }
    out << "\n" << (md ? "Pareto front" : "  Pareto front") << " (iteration time, peak memory, GPUs; * above): " << r.pareto.size()
        << " plans\n";
    for (std::size_t n = 0; n < std::min<std::size_t>(r.pareto.size(), 10); ++n) {
        const auto& k = r.ranked[r.pareto[n]];
        out << (md ? "- " : "    ") << "#" << r.pareto[n] + 1 << ": " << fixed(k.time().value(), 3) << " s, "
            << format_bytes(k.peak_memory) << ", " << k.plan.gpus() << " GPUs: " << plan_summary(k.plan) << "\n";
    }
    return out.str();
}

}  // namespace splitsim::report
