// Several plans side by side (`splitsim compare`): iteration time split into compute, exposed
// communication per dimension and bubble; memory per category on each plan's worst stage; MFU;
// tokens/s; deltas against the first plan.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/report/simulation.hpp"

namespace splitsim::report {

struct Compared {
    std::string name;
    const sim::Scenario* scenario = nullptr;
    sim::Prediction prediction;
};

nlohmann::json to_json(const std::vector<Compared>& plans);
std::string render(const std::vector<Compared>& plans, Format format);

}  // namespace splitsim::report
