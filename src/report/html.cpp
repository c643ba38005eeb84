#include "splitsim/report/html.hpp"

#include "html_text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "splitsim/report/search.hpp"
#include "splitsim/sim/schedule.hpp"

namespace splitsim::report {
namespace {

using plan::Dim;

struct Part {
    std::string label;
    std::string color;
};

// Colours of the kinds of time (a colour-blind-safe qualitative palette, Okabe and Ito 2008).
const Part kCompute{"compute", "#0072B2"};
const Part kBubble{"pipeline bubble", "#BBBBBB"};
const Part kOptimizer{"optimizer step", "#000000"};
const std::array<Part, plan::kDimCount> kComm{{{"tensor comm.", "#E69F00"},
                                               {"context comm.", "#CC79A7"},
                                               {"expert comm.", "#F0E442"},
                                               {"data comm.", "#D55E00"},
                                               {"pipeline comm.", "#009E73"}}};

std::string legend(const std::vector<Part>& parts, double x, double y) {
    std::ostringstream s;
    for (const Part& p : parts) {
        s << "<rect x='" << fmt(x) << "' y='" << fmt(y) << "' width='12' height='12' fill='" << p.color << "'/>";
        s << "<text x='" << fmt(x + 16) << "' y='" << fmt(y + 10) << "' class='small'>" << escape(p.label) << "</text>";
        x += 16 + 7.0 * static_cast<double>(p.label.size()) + 18;
    }
    return s.str();
}

// One stacked bar per simulated rank (pipeline stage) of the event tier: the share of the iteration
// its compute stream computes, waits on each dimension's communication, or waits with none in
// flight (bubble).
std::string utilization_chart(const sim::Prediction& r, int pp) {
    const double left = 170, width = 700, bar = 18, gap = 6, label = 110;
    const double height = 50 + r.utilization.size() * (bar + gap) + 20;
    std::ostringstream s;
    s << "<svg id='utilization' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + width + label) << "' height='"
      << fmt(height) << "'><title>Utilization per stage</title>";
    std::vector<Part> parts{kCompute};
    for (const Part& c : kComm) parts.push_back({"waiting: " + c.label, c.color});
    parts.push_back(kBubble);
    s << legend({kCompute, {"waiting on communication (colour of its dimension)", "#E69F00"}, kBubble}, 10, 12);
    double y = 40;
    for (const auto& u : r.utilization) {
        std::vector<double> shares{u.compute};
        for (double w : u.waiting) shares.push_back(w);
        shares.push_back(u.bubble);
        double x = left;
        for (std::size_t i = 0; i < shares.size(); ++i) {
            const double w = shares[i] * width;
            if (w <= 0) continue;
            s << "<rect x='" << fmt(x) << "' y='" << fmt(y) << "' width='" << fmt(w) << "' height='" << fmt(bar) << "' fill='"
              << parts[i].color << "'><title>" << escape(parts[i].label) << ": " << fmt(100 * shares[i], 1) << "%</title></rect>";
            x += w;
        }
        const std::string name = r.utilization.size() > static_cast<std::size_t>(pp)
                                     ? "replica " + std::to_string(u.rank / pp) + ", stage " + std::to_string(u.rank % pp)
                                     : "stage " + std::to_string(u.rank);
        s << "<text x='8' y='" << fmt(y + 13) << "' class='small'>" << escape(name) << "</text>";
        s << "<text x='" << fmt(left + width + 6) << "' y='" << fmt(y + 13) << "' class='total'>" << fmt(100 * u.compute, 1)
          << "% compute</text>";
        y += bar + gap;
    }
    s << "</svg>";
    return s.str();
}

// Stacked horizontal bars: each plan's iteration time split into compute, exposed communication
// per dimension, bubble and optimizer step.
std::string time_breakdown(const std::vector<ReportPlan>& plans) {
    // `label` leaves room right of the longest bar for its total ("1234.567 s").
    const double left = 300, width = 700, bar = 26, gap = 12, label = 90;
    double longest = 0;
    for (const auto& p : plans) longest = std::max(longest, p.prediction.iteration_time.value());
    const double height = 60 + plans.size() * (bar + gap) + 40;
    std::ostringstream s;
    s << "<svg id='time-breakdown' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + width + label) << "' height='"
      << fmt(height) << "'><title>Iteration time by component</title>";
    double y = 40;
    for (const auto& p : plans) {
        const auto& r = p.prediction;
        std::vector<std::pair<Part, double>> parts{{kCompute, r.compute.value()}};
        for (std::size_t d = 0; d < kComm.size(); ++d) parts.emplace_back(kComm[d], r.exposed_comm[d].value());
        parts.emplace_back(kBubble, r.bubble.value());
        parts.emplace_back(kOptimizer, r.optimizer.value());
        const std::string label = p.name.size() > 44 ? p.name.substr(0, 42) + "..." : p.name;
        s << "<text x='" << fmt(left - 8) << "' y='" << fmt(y + bar * 0.65) << "' text-anchor='end' class='label'>"
          << escape(label) << "<title>" << escape(p.name) << "</title></text>";
        double x = left;
        for (const auto& [part, t] : parts) {
            if (t <= 0) continue;
            const double w = width * t / longest;
            s << "<rect class='segment' x='" << fmt(x, 2) << "' y='" << fmt(y) << "' width='" << fmt(w, 2) << "' height='" << fmt(bar)
              << "' fill='" << part.color << "'><title>" << escape(part.label) << ": " << fmt(t, 4) << " s</title></rect>";
            x += w;
        }
        s << "<text class='total' x='" << fmt(x + 6) << "' y='" << fmt(y + bar * 0.65) << "'>" << fmt(r.iteration_time.value(), 3)
          << " s</text>";
        y += bar + gap;
    }
    std::vector<Part> parts{kCompute};
    parts.insert(parts.end(), kComm.begin(), kComm.end());
    parts.push_back(kBubble);
    parts.push_back(kOptimizer);
    s << legend(parts, 10, 12) << "</svg>";
    return s.str();
}

// Stacked columns: memory of one rank of each pipeline stage, with the device's capacity.
std::string memory_chart(const ReportPlan& p, int index) {
    const auto& mem = p.prediction.memory;
    const std::vector<Part> parts{{"weights", "#0072B2"}, {"gradients", "#56B4E9"}, {"optimizer states", "#009E73"},
                                  {"activations", "#E69F00"}, {"other", "#999999"}};
    const double top = 40, plot = 300, left = 70, area = 640;
    const double column = area / static_cast<double>(mem.stages.size());
    const double highest = std::max(mem.peak.value(), mem.capacity.value()) * 1.08;
    const double width = left + area + 30;
    std::ostringstream s;
    s << "<svg id='memory-" << index << "' class='memory' xmlns='http://www.w3.org/2000/svg' width='" << fmt(width)
      << "' height='" << fmt(top + plot + 50) << "'><title>Memory per pipeline stage: " << escape(p.name) << "</title>";
    auto yof = [&](double bytes) { return top + plot - plot * bytes / highest; };
    for (int g = 0; g <= 4; ++g) {
        const double b = highest * g / 4;
        s << "<line x1='" << fmt(left) << "' x2='" << fmt(width - 30) << "' y1='" << fmt(yof(b)) << "' y2='" << fmt(yof(b))
          << "' class='grid'/><text x='" << fmt(left - 6) << "' y='" << fmt(yof(b) + 4) << "' text-anchor='end' class='small'>"
          << fmt(b / (1024.0 * 1024 * 1024), 0) << " GiB</text>";
    }
    for (std::size_t i = 0; i < mem.stages.size(); ++i) {
        const auto& b = mem.stages[i].bytes;
        const double values[] = {b.weights.value(), b.gradients.value(), b.optimizer.value(), b.activations.value(), b.other.value()};
        double base = 0;
        const double x = left + static_cast<double>(i) * column;
        for (std::size_t k = 0; k < parts.size(); ++k) {
            const double y0 = yof(base), y1 = yof(base + values[k]);
            s << "<rect class='segment' x='" << fmt(x + column * 0.08, 2) << "' y='" << fmt(y1, 2) << "' width='" << fmt(column * 0.84, 2)
              << "' height='" << fmt(y0 - y1, 2) << "' fill='" << parts[k].color << "'><title>stage " << i << " "
              << parts[k].label << ": " << fmt(values[k] / (1024.0 * 1024 * 1024), 2) << " GiB</title></rect>";
            base += values[k];
        }
    }
    s << "<line id='capacity-" << index << "' x1='" << fmt(left) << "' x2='" << fmt(width - 30) << "' y1='" << fmt(yof(mem.capacity.value()))
      << "' y2='" << fmt(yof(mem.capacity.value())) << "' stroke='#D55E00' stroke-width='2' stroke-dasharray='6 4'/>";
    s << "<text x='" << fmt(width - 30) << "' y='" << fmt(yof(mem.capacity.value()) - 5) << "' text-anchor='end' class='small'>capacity "
      << fmt(mem.capacity.value() / (1024.0 * 1024 * 1024), 0) << " GiB</text>";
    s << "<text x='" << fmt(left) << "' y='" << fmt(top + plot + 18) << "' class='small'>pipeline stage 0 .. "
      << mem.stages.size() - 1 << "</text>";
    s << legend(parts, 10, 12) << "</svg>";
    return s.str();
}

// The timeline of one iteration: a lane per stream of each simulated rank. A pixel column holds
// the kinds of work that filled it stacked in proportion to their time (in twelfths of the lane),
// so work shorter than a pixel (a layer's recomputation between its backward passes) keeps its
// share of the area; runs of columns with the same shares become one rectangle per kind.
std::string timeline(const ReportPlan& p) {
    const sim::TaskGraph& g = p.run->graph;
    const sim::EngineResult& res = p.run->result;
    constexpr int width = 1000;
    constexpr int kParts = 12;  // shares are drawn in twelfths of a lane
    const double left = 110;
    const double end = static_cast<double>(std::max<std::int64_t>(1, res.end.count()));
    // Kinds: compute by phase, then communication by stream.
    const std::vector<Part> kinds{{"forward", "#0072B2"},        {"backward", "#56B4E9"},     {"recompute", "#CC79A7"},
                                  {"weight gradient", "#332288"}, {"optimizer", "#000000"},    {"tensor", "#E69F00"},
                                  {"pipeline", "#009E73"},        {"data", "#D55E00"},         {"context", "#882255"},
                                  {"expert", "#F0E442"},          {"parameter gather", "#AA4499"}};
    constexpr std::size_t kKinds = 11;
    auto kind_of = [](const sim::Task& t) -> std::size_t {
        if (!t.transfer) {
            switch (t.label.phase) {
                case sim::Phase::forward: return 0;
                case sim::Phase::backward: return 1;
                case sim::Phase::recompute: return 2;
                case sim::Phase::weight_grad: return 3;
                default: return 4;
            }
        }
        return 4 + static_cast<std::size_t>(t.stream);  // tensor = 1 ... gather = 6
    };
    // (rank, stream) -> per pixel, per kind: the fraction of the pixel's time the kind filled.
    std::map<std::pair<int, int>, std::vector<std::array<double, kKinds>>> lanes;
    for (std::size_t i = 0; i < g.size(); ++i) {
        const sim::Task& t = g.task(static_cast<sim::TaskId>(i));
        const double a = static_cast<double>(res.tasks[i].start.count()) / end * width;
        const double b = static_cast<double>(res.tasks[i].end.count()) / end * width;
        if (b <= a) continue;
        auto& lane = lanes[{t.rank, static_cast<int>(t.stream)}];
        if (lane.empty()) lane.resize(width);
        const std::size_t k = kind_of(t);
        for (int px = static_cast<int>(a); px < std::min(width, static_cast<int>(std::ceil(b))); ++px) {
            lane[static_cast<std::size_t>(px)][k] += std::min(b, px + 1.0) - std::max(a, static_cast<double>(px));
        }
    }
    // A pixel's shares in twelfths: the busy fraction (at most the whole pixel; concurrent
    // transfers on one stream may add up to more) rounded, divided by largest remainders.
    auto twelfths = [](const std::array<double, kKinds>& cell) {
        std::array<int, kKinds> q{};
        double busy = 0;
        for (double v : cell) busy += v;
        if (busy <= 0) return q;
        const double scale = std::min(1.0, busy) / busy * kParts;
        const int total = static_cast<int>(std::lround(std::min(1.0, busy) * kParts));
        std::array<double, kKinds> rest{};
        int given = 0;
        for (std::size_t k = 0; k < kKinds; ++k) {
            const double exact = cell[k] * scale;
            q[k] = static_cast<int>(std::floor(exact));
            rest[k] = exact - q[k];
            given += q[k];
        }
        for (; given < total; ++given) {
            const auto most = static_cast<std::size_t>(std::max_element(rest.begin(), rest.end()) - rest.begin());
            ++q[most];
            rest[most] = -1;
        }
        return q;
    };
    const double lane_height = lanes.size() > 60 ? 4 : 12;
    const double height = 50 + lanes.size() * (lane_height + 1) + 30;
    std::ostringstream s;
    s << "<svg id='timeline' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + width + 20) << "' height='" << fmt(height)
      << "' data-seconds='" << fmt(end * 1e-9, 9) << "' data-pixels='" << width << "'><title>Timeline of one iteration (event tier)</title>";
    double y = 40;
    int last_rank = -1;
    for (const auto& [key, lane] : lanes) {
        if (key.first != last_rank) {
            s << "<text x='" << fmt(left - 6) << "' y='" << fmt(y + lane_height) << "' text-anchor='end' class='small'>stage "
              << key.first << "</text>";
            last_rank = key.first;
        }
        s << "<g class='lane' data-rank='" << key.first << "' data-stream='" << sim::to_string(static_cast<sim::Stream>(key.second))
          << "' data-height='" << fmt(lane_height) << "'>";
        int px = 0;
        while (px < width) {
            const std::array<int, kKinds> q = twelfths(lane[static_cast<std::size_t>(px)]);
            int run = px + 1;
            while (run < width && twelfths(lane[static_cast<std::size_t>(run)]) == q) ++run;
            double offset = 0;
            for (std::size_t k = 0; k < kKinds; ++k) {
                if (q[k] == 0) continue;
                const double h = lane_height * q[k] / kParts;
                s << "<rect class='task' data-kind='" << kinds[k].label << "' x='" << fmt(left + px) << "' y='" << fmt(y + offset, 2)
                  << "' width='" << run - px << "' height='" << fmt(h, 2) << "' fill='" << kinds[k].color << "'/>";
                offset += h;
            }
            px = run;
        }
        s << "</g>";
        y += lane_height + 1;
    }
    s << "<text x='" << fmt(left) << "' y='" << fmt(y + 16) << "' class='small'>0 s</text><text x='" << fmt(left + width)
      << "' y='" << fmt(y + 16) << "' text-anchor='end' class='small'>" << fmt(end * 1e-9, 3) << " s</text>";
    s << legend(kinds, 10, 12) << "</svg>";
    return s.str();
}

// Memory of one rank of each pipeline stage over the iteration (event tier): the bytes held through
// the step, plus each micro-batch's activations of a model chunk from its forward pass until its
// backward pass, ramping up and down over the passes' extents; a dot marks each stage's highest point.
// The stage's compute tasks, grouped into passes, are matched to its schedule's program, which says
// which chunk each pass runs.
std::string memory_timeline(const ReportPlan& p) {
    const sim::TaskGraph& g = p.run->graph;
    const sim::EngineResult& res = p.run->result;
    const plan::Plan& plan = p.scenario->plan();
    const auto& mem = p.prediction.memory;
    const double end = static_cast<double>(std::max<std::int64_t>(1, res.end.count()));
    const double left = 70, top = 40, width = 760, height = 300;
    constexpr double kGiB = 1024.0 * 1024 * 1024;
    std::vector<std::vector<std::pair<double, double>>> curves;  // per stage: (ns, bytes)
    double highest = mem.capacity.value();
    for (const cost::StageMemory& sm : mem.stages) {
        std::vector<sim::WorkItem> passes;
        for (const sim::WorkItem& w : sim::stage_program(plan.schedule, plan.pp, plan.vpp, plan.micro_batches(), sm.stage)) {
            if (w.kind != sim::WorkItem::Kind::weight_grad) passes.push_back(w);
        }
        struct Run {
            bool forward;
            int micro_batch;
            double start, stop;
        };
        std::vector<Run> runs;
        if (sm.stage < g.ranks()) {
            for (sim::TaskId id : g.stream_order(sm.stage, sim::Stream::compute)) {
                const sim::Task& t = g.task(id);
                const sim::Phase ph = t.label.phase;
                if (ph != sim::Phase::forward && ph != sim::Phase::backward && ph != sim::Phase::recompute) continue;
                const bool forward = ph == sim::Phase::forward;
                const auto& timing = res.tasks[static_cast<std::size_t>(id)];
                const double a = static_cast<double>(timing.start.count()), b = static_cast<double>(timing.end.count());
                if (runs.empty() || runs.back().forward != forward || runs.back().micro_batch != t.label.micro_batch) {
                    runs.push_back({forward, t.label.micro_batch, a, b});
                } else {
                    runs.back().stop = std::max(runs.back().stop, b);
                }
            }
        }
        std::vector<std::pair<double, double>> curve{{0.0, sm.resident.value()}};
        if (runs.size() == passes.size()) {
            double held = sm.resident.value();
            for (std::size_t i = 0; i < runs.size(); ++i) {
                const auto chunk = static_cast<std::size_t>(passes[i].chunk);
                const double delta = chunk < sm.chunk_activations.size() ? sm.chunk_activations[chunk].value() : 0.0;
                curve.emplace_back(runs[i].start, held);
                held += runs[i].forward ? delta : -delta;
                curve.emplace_back(runs[i].stop, held);
                highest = std::max(highest, held);
            }
        }
        curve.emplace_back(end, curve.back().second);
        curves.push_back(std::move(curve));
    }
    highest *= 1.08;
    auto x = [&](double ns) { return left + width * ns / end; };
    auto y = [&](double bytes) { return top + height - height * bytes / highest; };
    const std::array<const char*, 8> colors{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"};
    std::ostringstream s;
    s << "<svg id='memory-timeline' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + width + 40) << "' height='"
      << fmt(top + height + 50) << "'><title>Memory of each pipeline stage over the iteration: " << escape(p.name) << "</title>";
    for (int k = 0; k <= 4; ++k) {
        const double b = highest * k / 4;
        s << "<line x1='" << fmt(left) << "' x2='" << fmt(left + width) << "' y1='" << fmt(y(b)) << "' y2='" << fmt(y(b))
          << "' class='grid'/><text x='" << fmt(left - 6) << "' y='" << fmt(y(b) + 4) << "' text-anchor='end' class='small'>"
          << fmt(b / kGiB, 0) << " GiB</text>";
    }
    s << "<line x1='" << fmt(left) << "' x2='" << fmt(left + width) << "' y1='" << fmt(y(mem.capacity.value())) << "' y2='"
      << fmt(y(mem.capacity.value())) << "' stroke='#D55E00' stroke-width='2' stroke-dasharray='6 4'/>";
    for (std::size_t i = 0; i < curves.size(); ++i) {
        const char* color = colors[i % colors.size()];
        s << "<polyline class='memory-curve' fill='none' stroke='" << color << "' stroke-width='1.5' points='";
        std::pair<double, double> top_point = curves[i].front();
        for (const auto& [t, b] : curves[i]) {
            s << fmt(x(t), 1) << ',' << fmt(y(b), 1) << ' ';
            if (b > top_point.second) top_point = {t, b};
        }
        const auto& sm = mem.stages[i];
        s << "'><title>stage " << sm.stage << "</title></polyline><circle class='memory-peak' cx='" << fmt(x(top_point.first), 1)
          << "' cy='" << fmt(y(top_point.second), 1) << "' r='3.5' fill='" << color << "'><title>stage " << sm.stage << ": "
          << fmt(top_point.second / kGiB, 2) << " GiB held at " << fmt(top_point.first * 1e-9, 3)
          << " s; at its peak (" << sm.peak_at << ") with temporaries " << fmt(sm.bytes.total().value() / kGiB, 2)
          << " GiB allocated, " << fmt(sm.reserved.value() / kGiB, 2) << " GiB reserved</title></circle>";
    }
    s << "<text x='" << fmt(left) << "' y='" << fmt(top + height + 18) << "' class='small'>0 s</text><text x='"
      << fmt(left + width) << "' y='" << fmt(top + height + 18) << "' text-anchor='end' class='small'>" << fmt(end * 1e-9, 3)
      << " s</text>";
    std::vector<Part> parts;
    for (std::size_t i = 0; i < std::min<std::size_t>(curves.size(), colors.size()); ++i) {
        parts.push_back({"stage " + std::to_string(mem.stages[i].stage) + (i + 1 == colors.size() && curves.size() > colors.size() ? "..." : ""),
                         colors[i]});
    }
    s << legend(parts, 10, 12) << "</svg>";
    return s.str();
}

// Iteration time against peak memory of every candidate that fits (a sample when there are many),
// the Pareto front highlighted.
std::string pareto_chart(const search::Result& r) {
    const double left = 80, top = 40, w = 760, h = 380;
    std::vector<std::size_t> points;
    const std::size_t stride = std::max<std::size_t>(1, r.ranked.size() / 4000);
    for (std::size_t i = 0; i < r.ranked.size(); i += stride) points.push_back(i);
    double t0 = 1e300, t1 = 0, m0 = 1e300, m1 = 0;
    for (std::size_t i : points) {
        t0 = std::min(t0, r.ranked[i].time().value());
        t1 = std::max(t1, r.ranked[i].time().value());
        m0 = std::min(m0, r.ranked[i].peak_memory.value());
        m1 = std::max(m1, r.ranked[i].peak_memory.value());
    }
    for (std::size_t i : r.pareto) {
        t0 = std::min(t0, r.ranked[i].time().value());
        m0 = std::min(m0, r.ranked[i].peak_memory.value());
    }
    if (t1 <= t0) t1 = t0 * 1.01 + 1e-9;
    if (m1 <= m0) m1 = m0 * 1.01 + 1;
    // Logarithmic time axis: plans span orders of magnitude.
    auto x = [&](double t) { return left + w * std::log(t / t0) / std::log(t1 / t0); };
    auto y = [&](double m) { return top + h - h * (m - m0) / (m1 - m0); };
    std::ostringstream s;
    s << "<svg id='pareto' xmlns='http://www.w3.org/2000/svg' width='" << fmt(left + w + 40) << "' height='" << fmt(top + h + 60)
      << "'><title>Candidates: iteration time against peak memory</title>";
    s << "<rect x='" << fmt(left) << "' y='" << fmt(top) << "' width='" << fmt(w) << "' height='" << fmt(h) << "' class='frame'/>";
    for (std::size_t i : points) {
        s << "<circle class='candidate' cx='" << fmt(x(r.ranked[i].time().value()), 1) << "' cy='"
          << fmt(y(r.ranked[i].peak_memory.value()), 1) << "' r='1.6'/>";
    }
    for (std::size_t i : r.pareto) {
        const auto& c = r.ranked[i];
        s << "<circle class='front' cx='" << fmt(x(c.time().value()), 1) << "' cy='" << fmt(y(c.peak_memory.value()), 1)
          << "' r='4'><title>#" << i + 1 << " " << escape(plan_summary(c.plan)) << ": " << fmt(c.time().value(), 3) << " s, "
          << fmt(c.peak_memory.value() / (1024.0 * 1024 * 1024), 1) << " GiB, " << c.plan.gpus() << " GPUs</title></circle>";
    }
    s << "<text x='" << fmt(left + w / 2) << "' y='" << fmt(top + h + 36) << "' text-anchor='middle' class='label'>iteration time (s, log) "
      << fmt(t0, 3) << " .. " << fmt(t1, 3) << "</text>";
    s << "<text x='20' y='" << fmt(top + h / 2) << "' class='label' transform='rotate(-90 20 " << fmt(top + h / 2)
      << ")' text-anchor='middle'>peak memory per GPU (GiB) " << fmt(m0 / (1024.0 * 1024 * 1024), 1) << " .. "
      << fmt(m1 / (1024.0 * 1024 * 1024), 1) << "</text>";
    s << legend({{"candidate", "#999999"}, {"Pareto front", "#D55E00"}}, 10, 12) << "</svg>";
    return s.str();
}

}  // namespace

std::string html_report(const std::string& title, const std::vector<ReportPlan>& plans, const search::Result* search) {
    std::ostringstream s;
    s << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" << escape(title) << "</title><style>"
      << "body{font-family:sans-serif;margin:24px;color:#222} h1{font-size:20px} h2{font-size:16px;margin-top:28px}"
      << "table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      << "td:first-child,th:first-child,td.plan{text-align:left} td.plan{font-family:monospace;font-size:12px}"
      << ".small{font-size:11px;fill:#333} .total{font-size:11px;fill:#333} .label{font-size:12px;fill:#222}"
      << ".grid{stroke:#ddd} .frame{fill:none;stroke:#999} .candidate{fill:#999;fill-opacity:0.5} .front{fill:#D55E00}"
      << "</style></head><body>\n<h1>" << escape(title) << "</h1>\n";
    if (!plans.empty()) {
        const auto& sc = *plans.front().scenario;
        s << "<p>" << escape(sc.model().name) << " on " << escape(sc.cluster().name) << " (" << sc.cluster().device_count() << " x "
          << escape(sc.cluster().device.name) << ").</p>\n";
        s << "<table id='summary'><tr><th>name</th><th>plan</th><th>iteration time (s)</th><th>tokens/s</th><th>MFU</th>"
          << "<th>reserved memory (GiB)</th><th>fits</th><th>tier</th></tr>\n";
        for (const auto& p : plans) {
            const auto& r = p.prediction;
            s << "<tr><td>" << escape(p.name) << "</td><td class='plan'>" << escape(plan_summary(p.scenario->plan())) << "</td><td>"
              << fmt(r.iteration_time.value(), 3) << "</td><td>" << fmt(r.tokens_per_s, 0) << "</td><td>" << fmt(100 * r.mfu, 1)
              << "%</td><td>" << fmt(r.memory.reserved.value() / (1024.0 * 1024 * 1024), 1) << "</td><td>" << (r.memory.fits() ? "yes" : "no")
              << "</td><td>" << (r.tier == sim::Tier::event ? "event" : "analytical") << "</td></tr>\n";
        }
        s << "</table>\n<h2>Iteration time</h2>\n" << time_breakdown(plans) << "\n";
        if (!plans.front().prediction.utilization.empty()) {
            s << "<h2>Utilization per stage: " << escape(plans.front().name) << "</h2>\n"
              << utilization_chart(plans.front().prediction, plans.front().scenario->plan().pp) << "\n";
        }
        s << "<h2>Memory per pipeline stage</h2>\n";
        // Every plan's when they are few (a comparison), else the first plan's (a search's best).
        const std::size_t charts = plans.size() <= 4 ? plans.size() : 1;
        for (std::size_t i = 0; i < charts; ++i) {
            s << "<p>" << escape(plans[i].name) << "</p>\n" << memory_chart(plans[i], static_cast<int>(i)) << "\n";
        }
        if (plans.front().run) {
            s << "<h2>Memory over the iteration: " << escape(plans.front().name) << "</h2>\n" << memory_timeline(plans.front())
              << "\n";
            s << "<h2>Timeline: " << escape(plans.front().name) << "</h2>\n" << timeline(plans.front()) << "\n";
        }
    }
    if (search) {
        s << "<h2>Search: " << search->enumerated << " candidates, " << search->ranked.size() << " fit, " << search->pareto.size()
          << " on the Pareto front</h2>\n" << pareto_chart(*search) << "\n";
    }
    s << "</body></html>\n";
    return s.str();
}

}  // namespace splitsim::report
