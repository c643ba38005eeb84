#include "splitsim/report/trace.hpp"

#include <cstdio>
#include <string>

namespace splitsim::report {
namespace {

// Microseconds with nanosecond resolution, formatted the same way on every run.
std::string micros(std::int64_t ns) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ns / 1000), static_cast<long long>(ns % 1000));
    return buf;
}

std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

}  // namespace

std::string chrome_trace(const sim::Scenario& sc, const sim::EventRun& run) {
    // Written by hand rather than through a JSON object: a trace can hold millions of events.
    std::string out = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
    bool first = true;
    auto line = [&](const std::string& event) {
        if (!first) out += ",\n";
        first = false;
        out += event;
    };
    const auto& p = sc.plan();
    const bool per_rank = run.graph.ranks() > p.pp;  // one simulated rank per data-parallel replica and stage
    for (int r = 0; r < run.graph.ranks(); ++r) {
        const std::string who = per_rank ? "replica " + std::to_string(r / p.pp) + ", pipeline stage " + std::to_string(r % p.pp) +
                                               " (one of " + std::to_string(p.tp * p.cp) + " identical ranks)"
                                         : "pipeline stage " + std::to_string(r) + " (one of " +
                                               std::to_string(p.tp * p.dp * p.cp) + " identical ranks)";
        line("{\"name\":\"process_name\",\"ph\":\"M\",\"ts\":0,\"dur\":0,\"pid\":" + std::to_string(r) +
             ",\"tid\":0,\"args\":{\"name\":\"" + who + "\"}}");
        for (int s = 0; s < sim::kStreams; ++s) {
            line("{\"name\":\"thread_name\",\"ph\":\"M\",\"ts\":0,\"dur\":0,\"pid\":" + std::to_string(r) + ",\"tid\":" +
                 std::to_string(s) + ",\"args\":{\"name\":\"" + std::string(sim::to_string(static_cast<sim::Stream>(s))) + "\"}}");
        }
    }
    for (std::size_t i = 0; i < run.graph.size(); ++i) {
        const sim::Task& t = run.graph.task(static_cast<sim::TaskId>(i));
        const sim::Timing& tm = run.result.tasks[i];
        std::string e = "{\"name\":\"" + escape(t.label.name) + "\",\"cat\":\"" + std::string(sim::to_string(t.label.phase)) +
                        "\",\"ph\":\"X\",\"ts\":" + micros(tm.start.count()) + ",\"dur\":" + micros((tm.end - tm.start).count()) +
                        ",\"pid\":" + std::to_string(t.rank) + ",\"tid\":" + std::to_string(static_cast<int>(t.stream)) +
                        ",\"args\":{\"phase\":\"" + std::string(sim::to_string(t.label.phase)) + "\"";
        if (t.label.layer >= 0) e += ",\"layer\":" + std::to_string(t.label.layer);
        if (t.label.micro_batch >= 0) e += ",\"micro_batch\":" + std::to_string(t.label.micro_batch);
        e += "}}";
        line(e);
    }
    out += "\n]}\n";
    return out;
}

}  // namespace splitsim::report
