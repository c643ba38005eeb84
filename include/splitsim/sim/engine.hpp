// The discrete-event engine: plays a task graph out in integer time. Compute tasks run at full
// speed, slowed by a calibratable factor while a communication task of the same rank is active;
// transfers wait their latency, then share link bandwidth with the other transfers in flight.
#pragma once

#include <vector>

#include "splitsim/sim/task_graph.hpp"
#include "splitsim/sim/time.hpp"

namespace splitsim::sim {

struct EngineOptions {
    // Compute runs this much slower while communication overlaps it on the same rank (0.1 = 10%).
    double overlap_slowdown = 0;
};

struct Timing {
    TimeNs start;
    TimeNs end;
};

struct EngineResult {
    std::vector<Timing> tasks;   // per task
    TimeNs end;                  // the last task's end
    std::uint64_t events = 0;    // events processed
    std::vector<double> link_bytes;  // bytes each link carried
};

// Runs the graph. `link_capacity` is bytes per second per link (indexed like the topology's links).
EngineResult run(const TaskGraph& graph, const std::vector<double>& link_capacity, const EngineOptions& options);

}  // namespace splitsim::sim
