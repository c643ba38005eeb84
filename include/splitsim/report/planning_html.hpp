// The sensitivity report as one self-contained HTML file with SVG charts: a tornado chart of the
// iteration time's change under each knob's smallest and largest factor, the strong- and
// weak-scaling curves, and published scaling series beside their predictions.
#pragma once

#include <string>
#include <vector>

#include "splitsim/planning/sensitivity.hpp"
#include "splitsim/report/published.hpp"

namespace splitsim::report {

struct ScalingMark {
    std::string run;       // as the source names it
    int gpus = 0;
    double published_tflops = 0;  // per GPU, under the source's FLOP convention
    double predicted_tflops = 0;  // the same convention, from the replayed run
};

struct ScalingSeries {
    std::string title;
    std::string source;
    std::vector<ScalingMark> points;
};

// From a replay of validate/published (validate_published): Narayanan et al. 2021's weak scaling
// (Table 1, megatron-2021-weak-scaling.json) and its one strong-scaling series, GPT-3 175B under
// PTD-P at batch 1536 on 384, 768 and 1536 GPUs (Table 2, megatron-2021-ptd-vs-zero3.json). GPU
// counts are read from the data files under `root`.
std::vector<ScalingSeries> published_scaling(const PublishedValidation& validation, const std::string& root);

std::string sensitivity_html(const planning::Sensitivity& sensitivity, const std::vector<ScalingSeries>& published);

}  // namespace splitsim::report
