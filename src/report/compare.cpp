#include "splitsim/report/compare.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "splitsim/report/search.hpp"

namespace splitsim::report {
namespace {

using plan::Dim;
constexpr Dim kDims[] = {Dim::tensor, Dim::context, Dim::expert, Dim::data, Dim::pipeline};

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string delta(double v, double base) {
    if (base == 0) return "";
    const double d = 100.0 * (v / base - 1.0);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%+.1f%%", d);
    return buf;
}

const cost::StageMemory& worst(const sim::Prediction& r) { return r.memory.stages[static_cast<std::size_t>(r.memory.peak_stage)]; }

// Rows of (label, value per plan) shared by the table, Markdown and CSV renderings.
std::vector<std::pair<std::string, std::vector<std::string>>> rows(const std::vector<Compared>& plans) {
    std::vector<std::pair<std::string, std::vector<std::string>>> out;
    auto row = [&](const std::string& label, auto value) {
        std::vector<std::string> cells;
        for (const Compared& c : plans) cells.push_back(value(c));
        out.emplace_back(label, std::move(cells));
    };
    const sim::Prediction& first = plans.front().prediction;
    row("plan", [](const Compared& c) { return plan_summary(c.scenario->plan()); });
    row("iteration time (s)", [](const Compared& c) { return fixed(c.prediction.iteration_time.value(), 4); });
    row("vs first", [&](const Compared& c) { return delta(c.prediction.iteration_time.value(), first.iteration_time.value()); });
    row("tokens/s", [](const Compared& c) { return fixed(c.prediction.tokens_per_s, 0); });
    row("MFU", [](const Compared& c) { return fixed(100 * c.prediction.mfu, 1) + "%"; });
    row("compute (s)", [](const Compared& c) { return fixed(c.prediction.compute.value(), 4); });
    for (Dim d : kDims) {
        row(std::string(plan::to_string(d)) + " comm. exposed (s)",
            [d](const Compared& c) { return fixed(c.prediction.exposed_comm[static_cast<std::size_t>(d)].value(), 4); });
    }
    row("bubble (s)", [](const Compared& c) { return fixed(c.prediction.bubble.value(), 4); });
    row("optimizer (s)", [](const Compared& c) { return fixed(c.prediction.optimizer.value(), 4); });
    row("peak memory", [](const Compared& c) { return format_bytes(c.prediction.memory.peak); });
    row("vs first ", [&](const Compared& c) { return delta(c.prediction.memory.peak.value(), first.memory.peak.value()); });
    row("  weights", [](const Compared& c) { return format_bytes(worst(c.prediction).bytes.weights); });
    row("  gradients", [](const Compared& c) { return format_bytes(worst(c.prediction).bytes.gradients); });
    row("  optimizer states", [](const Compared& c) { return format_bytes(worst(c.prediction).bytes.optimizer); });
    row("  activations", [](const Compared& c) { return format_bytes(worst(c.prediction).bytes.activations); });
    row("    of which temporary", [](const Compared& c) { return format_bytes(worst(c.prediction).bytes.temporary); });
    row("  other", [](const Compared& c) { return format_bytes(worst(c.prediction).bytes.other); });
    row("reserved memory", [](const Compared& c) { return format_bytes(c.prediction.memory.reserved); });
    row("fits", [](const Compared& c) { return std::string(c.prediction.memory.fits() ? "yes" : "NO"); });
    return out;
}

}  // namespace

nlohmann::json to_json(const std::vector<Compared>& plans) {
    nlohmann::json list = nlohmann::json::array();
    const double base = plans.front().prediction.iteration_time.value();
    for (const Compared& c : plans) {
        nlohmann::json j = to_json(*c.scenario, c.prediction);
        j["name"] = c.name;
        j["iteration_time_vs_first"] = c.prediction.iteration_time.value() / base - 1.0;
        list.push_back(std::move(j));
    }
    return {{"plans", list}};
}

std::string render(const std::vector<Compared>& plans, Format format) {
    if (format == Format::json) return to_json(plans).dump(2) + "\n";
    const auto table = rows(plans);
    std::ostringstream out;
    if (format == Format::csv) {
        out << "metric";
        for (const Compared& c : plans) out << ",\"" << c.name << "\"";
        out << "\n";
        for (const auto& [label, cells] : table) {
            out << '"' << label << '"';
            for (const auto& v : cells) out << ",\"" << v << "\"";
            out << "\n";
        }
        return out.str();
    }
    if (format == Format::markdown) {
        out << "| |";
        for (const Compared& c : plans) out << " " << c.name << " |";
        out << "\n|---|";
        for (std::size_t i = 0; i < plans.size(); ++i) out << "---:|";
        out << "\n";
        for (const auto& [label, cells] : table) {
            out << "| " << label << " |";
            for (const auto& v : cells) out << " " << v << " |";
            out << "\n";
        }
        return out.str();
    }
    const auto& sc = *plans.front().scenario;
    out << "splitsim compare: " << sc.model().name << " on " << sc.cluster().name << " ("
        << (plans.front().prediction.tier == sim::Tier::event ? "event" : "analytical") << " tier)\n\n";
    // Plans as columns; the plan row is long, so it is listed first, one line per plan.
    for (std::size_t i = 0; i < plans.size(); ++i) {
        out << "  [" << i + 1 << "] " << plans[i].name << ": " << table.front().second[i] << "\n";
    }
    out << "\n";
    char line[128];
    std::snprintf(line, sizeof line, "  %-28s", "");
    out << line;
    for (std::size_t i = 0; i < plans.size(); ++i) {
        std::snprintf(line, sizeof line, " %14s", ("[" + std::to_string(i + 1) + "]").c_str());
        out << line;
    }
    out << "\n";
    for (std::size_t r = 1; r < table.size(); ++r) {
        std::snprintf(line, sizeof line, "  %-28s", table[r].first.c_str());
        out << line;
        for (const auto& v : table[r].second) {
            std::snprintf(line, sizeof line, " %14s", v.c_str());
            out << line;
        }
        out << "\n";
    }
    return out.str();
}

}  // namespace splitsim::report
