// Fuzzes `simulate` on plans: each plan that validates against the small models and clusters of
// scenarios.hpp is predicted by the analytical and the event tier, rendered in every format and
// as a Chrome trace. Plans of more than kMaxMicroBatches micro-batches are skipped here (not in
// the product) so that one input stays well under a second.
#include <cmath>

#include "scenarios.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/report/simulation.hpp"
#include "splitsim/report/trace.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/scenario.hpp"

using namespace splitsim;

namespace {

constexpr int kMaxMicroBatches = 32;

void check_prediction(const sim::Prediction& r) {
    FUZZ_CHECK(std::isfinite(r.iteration_time.value()) && r.iteration_time.value() > 0);
    FUZZ_CHECK(std::isfinite(r.tokens_per_s) && r.tokens_per_s > 0);
    FUZZ_CHECK(std::isfinite(r.mfu) && r.mfu > 0);
    FUZZ_CHECK(std::isfinite(r.hfu) && r.hfu >= r.mfu * (1 - 1e-12));
    FUZZ_CHECK(std::isfinite(r.bubble_fraction) && r.bubble_fraction >= 0);
    FUZZ_CHECK(std::isfinite(r.memory.peak.value()) && r.memory.peak.value() > 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "plan.json", [](const nlohmann::json& json) {
        const plan::Plan parsed = plan::parse_plan(json, "plan.json");
        for (const model::ModelSpec& m : fuzz::models()) {
            for (const hardware::ClusterSpec& c : fuzz::clusters()) {
                plan::Plan p = parsed;
                try {
                    plan::validate(p, m, c);
                } catch (const InputError& e) {
                    fuzz::check_input_error(e);
                    continue;
                }
                if (p.micro_batches() > kMaxMicroBatches) continue;
                const sim::Scenario scenario(m, c, p);
                const sim::Prediction analytical = sim::predict_analytical(scenario);
                check_prediction(analytical);
                sim::EventRun run;
                const sim::Prediction events = sim::predict_events(scenario, &run);
                check_prediction(events);
                for (report::Format f : {report::Format::table, report::Format::json, report::Format::csv, report::Format::markdown}) {
                    FUZZ_CHECK(!report::render(scenario, events, f).empty());
                }
                FUZZ_CHECK(!report::render(scenario, analytical, report::Format::json).empty());
                const std::string trace = report::chrome_trace(scenario, run);
                FUZZ_CHECK(nlohmann::json::accept(trace));
            }
        }
    });
}
