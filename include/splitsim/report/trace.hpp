// The event tier's timeline as a Chrome trace (Perfetto opens it): one process per simulated rank,
// one thread per stream, one complete event ("ph": "X") per task with its operator, layer and
// micro-batch.
#pragma once

#include <string>

#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::report {

std::string chrome_trace(const sim::Scenario& scenario, const sim::EventRun& run);

}  // namespace splitsim::report
