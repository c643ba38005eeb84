#include "splitsim/report/planning_html.hpp"

#include "html_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/report/search.hpp"

namespace splitsim::report {
namespace {

// Colours: Okabe and Ito 2008, as the other reports.
constexpr const char* kFaster = "#0072B2";
constexpr const char* kSlower = "#D55E00";
constexpr const char* kPublished = "#000000";
constexpr const char* kPredicted = "#E69F00";
constexpr const char* kWeak = "#009E73";

// Horizontal bars, one per knob, from the iteration time's change at the knob's smallest factor to
// its change at the largest, in percent of the base; the widest swing on top.
std::string tornado(const planning::Sensitivity& s) {
    struct Bar {
        std::string knob;
        double lo_factor = 1, hi_factor = 1;
        double lo = 0, hi = 0;  // percent change of the best plan's iteration time
        std::optional<double> elasticity;
    };
    std::vector<Bar> bars;
    const double base = s.best.iteration_time().value();
    for (const auto& k : s.knobs) {
        if (!k.applies) continue;
        const planning::SensitivityPoint* first = nullptr;
        const planning::SensitivityPoint* last = nullptr;
        for (const auto& p : k.points) {
            if (!p.best) continue;
            if (!first) first = &p;
            last = &p;
        }
        if (!first || first == last) continue;
        bars.push_back({std::string(planning::to_string(k.knob)), first->factor, last->factor,
                        100 * (first->best->iteration_time().value() / base - 1), 100 * (last->best->iteration_time().value() / base - 1),
                        k.elasticity});
    }
    std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
        return std::abs(a.hi - a.lo) > std::abs(b.hi - b.lo);
    });
    double extent = 10;
    for (const Bar& b : bars) extent = std::max({extent, std::abs(b.lo), std::abs(b.hi)});
    const double left = 170, width = 600, right = 200, bar = 22, gap = 10, top = 40;
    const double height = top + bars.size() * (bar + gap) + 40;
    const auto x = [&](double pct) { return left + width / 2 + pct / extent * (width / 2); };
    std::ostringstream o;
    o << "<svg id='tornado' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + width + right) << "' height='" << fmt(height)
      << "'><title>Iteration time change per knob</title>";
    o << "<line class='grid' x1='" << fmt(x(0)) << "' y1='" << fmt(top - 10) << "' x2='" << fmt(x(0)) << "' y2='" << fmt(height - 30)
      << "'/>";
    double y = top;
    for (const Bar& b : bars) {
        for (const auto& [pct, factor] : {std::pair{b.lo, b.lo_factor}, std::pair{b.hi, b.hi_factor}}) {
            const double x0 = std::min(x(0), x(pct)), x1 = std::max(x(0), x(pct));
            o << "<rect x='" << fmt(x0) << "' y='" << fmt(y) << "' width='" << fmt(std::max(1.0, x1 - x0)) << "' height='" << fmt(bar)
              << "' fill='" << (pct < 0 ? kFaster : kSlower) << "'><title>" << escape(b.knob) << " x" << fmt(factor, 3) << ": "
              << fmt(pct, 1) << "%</title></rect>";
            const bool at_left = pct < 0;
            o << "<text x='" << fmt(at_left ? x0 - 4 : x1 + 4) << "' y='" << fmt(y + 15) << "' class='small' text-anchor='"
              << (at_left ? "end" : "start") << "'>x" << fmt(factor, 2) << ": " << (pct >= 0 ? "+" : "") << fmt(pct, 1) << "%</text>";
        }
        o << "<text x='8' y='" << fmt(y + 15) << "' class='label'>" << escape(b.knob) << "</text>";
        o << "<text x='" << fmt(left + width + 70) << "' y='" << fmt(y + 15) << "' class='small'>elasticity "
          << (b.elasticity ? fmt(*b.elasticity, 3) : std::string("-")) << "</text>";
        y += bar + gap;
    }
    o << "<text x='" << fmt(x(0)) << "' y='" << fmt(height - 10) << "' text-anchor='middle' class='label'>change of the best plan's"
      << " iteration time (%), axis +/-" << fmt(extent, 0) << "%</text>";
    o << "<text x='" << fmt(x(0)) << "' y='20' text-anchor='middle' class='small'>faster (blue) | slower (red)</text></svg>";
    return o.str();
}

struct Series {
    std::string name;
    std::string colour;
    bool line = true;
    std::vector<std::pair<double, double>> points;  // (GPUs, value)
};

// Value against GPU count (log 2), several series.
std::string xy_chart(const std::string& id, const std::string& y_label, const std::vector<Series>& series) {
    double x0 = 1e300, x1 = 0, y1 = 0;
    for (const Series& s : series) {
        for (const auto& [gx, gy] : s.points) {
            x0 = std::min(x0, gx);
            x1 = std::max(x1, gx);
            y1 = std::max(y1, gy);
        }
    }
    if (x1 == 0) return "";
    if (x1 <= x0) x1 = x0 * 2;
    y1 *= 1.15;
    const double left = 80, top = 40, w = 620, h = 300;
    const auto x = [&](double g) { return left + (std::log2(g) - std::log2(x0)) / (std::log2(x1) - std::log2(x0)) * w; };
    const auto y = [&](double v) { return top + h - v / y1 * h; };
    std::ostringstream o;
    o << "<svg id='" << id << "' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + w + 40) << "' height='" << fmt(top + h + 60)
      << "'><rect class='frame' x='" << fmt(left) << "' y='" << fmt(top) << "' width='" << fmt(w) << "' height='" << fmt(h) << "'/>";
    for (int i = 1; i <= 4; ++i) {
        const double v = y1 * i / 4;
        o << "<line class='grid' x1='" << fmt(left) << "' y1='" << fmt(y(v)) << "' x2='" << fmt(left + w) << "' y2='" << fmt(y(v)) << "'/>"
          << "<text x='" << fmt(left - 6) << "' y='" << fmt(y(v) + 4) << "' class='small' text-anchor='end'>" << fmt(v, v < 10 ? 2 : 0)
          << "</text>";
    }
    std::map<double, bool> ticks;
    for (const Series& s : series) {
        for (const auto& p : s.points) ticks[p.first] = true;
    }
    for (const auto& [g, unused] : ticks) {
        (void)unused;
        o << "<text x='" << fmt(x(g)) << "' y='" << fmt(top + h + 16) << "' class='small' text-anchor='middle'>" << fmt(g, 0) << "</text>";
    }
    for (const Series& s : series) {
        if (s.line && s.points.size() > 1) {
            o << "<polyline fill='none' stroke='" << s.colour << "' stroke-width='2' points='";
            for (const auto& [g, v] : s.points) o << fmt(x(g)) << "," << fmt(y(v)) << " ";
            o << "'/>";
        }
        for (const auto& [g, v] : s.points) {
            if (s.line) {
                o << "<circle cx='" << fmt(x(g)) << "' cy='" << fmt(y(v)) << "' r='4' fill='" << s.colour << "'>";
            } else {
                o << "<rect x='" << fmt(x(g) - 4) << "' y='" << fmt(y(v) - 4) << "' width='8' height='8' fill='none' stroke='" << s.colour
                  << "' stroke-width='2'>";
            }
            o << "<title>" << escape(s.name) << ": " << fmt(g, 0) << " GPUs, " << fmt(v, 2) << "</title>"
              << (s.line ? "</circle>" : "</rect>");
        }
    }
    o << "<text x='" << fmt(left + w / 2) << "' y='" << fmt(top + h + 36) << "' text-anchor='middle' class='label'>GPUs (log 2)</text>";
    o << "<text x='20' y='" << fmt(top + h / 2) << "' class='label' transform='rotate(-90 20 " << fmt(top + h / 2)
      << ")' text-anchor='middle'>" << escape(y_label) << "</text>";
    double lx = left;
    for (const Series& s : series) {
        o << "<rect x='" << fmt(lx) << "' y='12' width='12' height='12' fill='" << s.colour << "'/><text x='" << fmt(lx + 16)
          << "' y='22' class='small'>" << escape(s.name) << "</text>";
        lx += 30 + 6.5 * static_cast<double>(s.name.size());
    }
    o << "</svg>";
    return o.str();
}

// Tokens per second per GPU of each point of a curve.
Series curve(const std::string& name, const std::string& colour, const std::vector<planning::ScalingPoint>& points) {
    Series s{name, colour, true, {}};
    for (const auto& p : points) {
        if (p.best) s.points.emplace_back(p.gpus, p.best->prediction.tokens_per_s / p.gpus);
    }
    return s;
}

// GPUs of each run of a published file, by the run's name.
std::map<std::string, int> gpus_by_run(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path, "", "cannot be read");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw InputError(path, "", e.what());
    }
    std::map<std::string, int> out;
    for (const auto& row : j.at("rows")) out[row.at("name").get<std::string>()] = row.at("gpus").get<int>();
    return out;
}

}  // namespace

std::vector<ScalingSeries> published_scaling(const PublishedValidation& v, const std::string& root) {
    struct Wanted {
        const char* file;
        const char* title;
        const char* prefix;  // runs of the series: names that start with it
    };
    const Wanted wanted[] = {
        {"validate/published/megatron-2021-weak-scaling.json",
         "Weak scaling: Narayanan et al. 2021, Table 1 (1.7B on 32 GPUs to 1T on 3,072 A100)", ""},
        {"validate/published/megatron-2021-ptd-vs-zero3.json",
         "Strong scaling: GPT-3 175B under PTD-P at batch 1536 on 384-1,536 A100 (Narayanan et al. 2021, Table 2)", "PTD-P 174.6B"},
    };
    std::vector<ScalingSeries> out;
    for (const Wanted& w : wanted) {
        for (const PublishedSet& set : v.sets) {
            if (set.file != w.file) continue;
            const std::map<std::string, int> gpus = gpus_by_run(root + "/" + w.file);
            ScalingSeries series{w.title, set.source, {}};
            for (const PublishedPoint& p : set.points) {
                if (p.quantity != "iteration time" || p.run.rfind(w.prefix, 0) != 0) continue;
                const auto g = gpus.find(p.run);
                if (g == gpus.end()) continue;
                series.points.push_back({p.run, g->second, p.published_tflops, p.predicted_tflops});
            }
            if (!series.points.empty()) out.push_back(std::move(series));
        }
    }
    return out;
}

std::string sensitivity_html(const planning::Sensitivity& s, const std::vector<ScalingSeries>& published) {
    const std::string title = "splitsim sensitivity: " + s.base.model.name + " on " + std::to_string(s.base.gpus) + " GPUs of " +
                              s.base.cluster.name;
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" << escape(title) << "</title><style>"
      << "body{font-family:sans-serif;margin:24px;color:#222} h1{font-size:20px} h2{font-size:16px;margin-top:28px}"
      << "table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      << "td:first-child,th:first-child,td.plan{text-align:left} td.plan{font-family:monospace;font-size:12px}"
      << ".small{font-size:11px;fill:#333} .label{font-size:12px;fill:#222} .grid{stroke:#ddd} .frame{fill:none;stroke:#999}"
      << "</style></head><body>\n<h1>" << escape(title) << "</h1>\n";
    o << "<p>Global batch " << s.base.global_batch << ". Best plan: <code>" << escape(plan_summary(s.best.plan)) << "</code>, "
      << fmt(s.best.iteration_time().value(), 3) << " s per iteration.</p>\n";
    o << "<h2>What each knob buys</h2>\n<p>The best plan is searched again at every factor.</p>\n" << tornado(s) << "\n";
    o << "<table id='elasticities'><tr><th>knob</th><th>elasticity d log T / d log x</th><th>base plan kept</th><th>best plan changes"
      << "</th></tr>\n";
    for (const auto& k : s.knobs) {
        o << "<tr><td>" << escape(std::string(planning::to_string(k.knob))) << "</td><td>"
          << (k.applies ? (k.elasticity ? fmt(*k.elasticity, 3) : std::string("-")) : std::string("n/a")) << "</td><td>"
          << (k.base_plan_elasticity ? fmt(*k.base_plan_elasticity, 3) : std::string("-")) << "</td><td>"
          << (k.plan_changes ? "yes" : "no") << "</td></tr>\n";
    }
    o << "</table>\n";
    if (!s.strong.empty()) {
        o << "<h2>Scaling</h2>\n<p>Tokens per second per GPU of the best plan on each GPU count: strong scaling keeps the global batch "
          << s.base.global_batch << ", weak scaling grows it with the GPUs.</p>\n"
          << xy_chart("scaling", "tokens/s per GPU",
                      {curve("strong scaling", kFaster, s.strong), curve("weak scaling", kWeak, s.weak)})
          << "\n";
    }
    for (std::size_t i = 0; i < published.size(); ++i) {
        const ScalingSeries& p = published[i];
        Series pub{"published", kPublished, false, {}};
        Series pred{"predicted (splitsim)", kPredicted, true, {}};
        o << "<h2>" << escape(p.title) << "</h2>\n<p class='small'>" << escape(p.source) << "</p>\n";
        o << "<table class='published'><tr><th>run</th><th>GPUs</th><th>published TFLOP/s per GPU</th><th>predicted</th><th>error</th></tr>\n";
        for (const ScalingMark& m : p.points) {
            pub.points.emplace_back(m.gpus, m.published_tflops);
            pred.points.emplace_back(m.gpus, m.predicted_tflops);
            o << "<tr><td>" << escape(m.run) << "</td><td>" << m.gpus << "</td><td>" << fmt(m.published_tflops, 0) << "</td><td>"
              << fmt(m.predicted_tflops, 1) << "</td><td>" << fmt(100 * (m.predicted_tflops / m.published_tflops - 1), 1) << "%</td></tr>\n";
        }
        o << "</table>\n" << xy_chart("published-" + std::to_string(i), "TFLOP/s per GPU", {pub, pred}) << "\n";
    }
    o << "</body></html>\n";
    return o.str();
}

}  // namespace splitsim::report
