// One self-contained HTML file (no scripts, fonts or other files needed to view it) with SVG
// charts: the time breakdown of each plan, memory per pipeline stage against the device's
// capacity, the timeline of the first plan (ranks x time, coloured by kind), and for a search the
// Pareto scatter of iteration time against peak memory.
#pragma once

#include <string>
#include <vector>

#include "splitsim/search/search.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/prediction.hpp"
#include "splitsim/sim/scenario.hpp"

namespace splitsim::report {

struct ReportPlan {
    std::string name;
    const sim::Scenario* scenario = nullptr;
    sim::Prediction prediction;
    const sim::EventRun* run = nullptr;  // the event tier's timeline, if it ran
};

std::string html_report(const std::string& title, const std::vector<ReportPlan>& plans,
                        const search::Result* search = nullptr);

}  // namespace splitsim::report
