// Fuzzes the plan reader (plans/*.json) and the validation of a plan against models and clusters.
#include "scenarios.hpp"
#include "splitsim/plan/partition.hpp"
#include "splitsim/plan/plan.hpp"

using namespace splitsim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return fuzz::run_json(data, size, "plan.json", [](const nlohmann::json& json) {
        const plan::Plan parsed = plan::parse_plan(json, "plan.json");
        FUZZ_CHECK(parsed.tp >= 1 && parsed.pp >= 1 && parsed.micro_batch >= 1 && parsed.global_batch >= 1);
        for (const model::ModelSpec& m : fuzz::models()) {
            for (const hardware::ClusterSpec& c : fuzz::clusters()) {
                plan::Plan p = parsed;
                try {
                    plan::validate(p, m, c);
                } catch (const InputError& e) {
                    fuzz::check_input_error(e);
                    FUZZ_CHECK(e.file() == "plan.json");
                    continue;
                }
                FUZZ_CHECK(p.gpus() == c.device_count());
                FUZZ_CHECK(p.micro_batches() >= 1 && p.micro_batches() * p.micro_batch * p.dp == p.global_batch);
                // A valid plan round-trips through its JSON form.
                plan::Plan again = plan::parse_plan(plan::to_json(p), "plan.json");
                plan::validate(again, m, c);
                FUZZ_CHECK(plan::to_json(again) == plan::to_json(p));
                (void)plan::layer_programs(p, m);
            }
        }
    });
}
