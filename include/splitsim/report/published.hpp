// Published training runs against the simulator: every data file of validate/published/ that
// describes runs (a "kind") is replayed plan by plan, and each published figure is set beside the
// prediction. `splitsim validate-published` prints the result; tests assert on it.
//
// Two kinds of file (schemas in published.cpp, next to the reader):
//  - "iteration_time": runs of a model on a cluster with a plan; published iteration time (and
//    TFLOP/s per GPU under the file's FLOP convention);
//  - "layer_time": the forward and backward time of one transformer layer under several plans.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/report/simulation.hpp"
#include "splitsim/sim/prediction.hpp"

namespace splitsim::report {

// One published figure and its prediction.
struct PublishedPoint {
    std::string run;       // the run or experiment, as the source names it
    std::string quantity;  // "iteration time", or "forward", "backward", "combined" for a layer
    std::string plan;      // the plan replayed, in short
    double published = 0;  // in the set's unit
    double predicted = 0;
    double published_tflops = 0;  // per GPU, iteration-time sets only
    double predicted_tflops = 0;
    [[nodiscard]] double error() const { return predicted / published - 1.0; }
};

struct PublishedSet {
    std::string file;        // the data file, relative to the root
    std::string title;
    std::string source;
    std::string kind;        // "iteration_time" | "layer_time"
    std::string unit;        // "s" | "ms"
    std::string convention;  // how TFLOP/s are counted (iteration-time sets)
    std::vector<PublishedPoint> points;
    [[nodiscard]] double mean_abs_error() const;  // mean of |error| over the points
    [[nodiscard]] double max_abs_error() const;
};

struct PublishedValidation {
    sim::Tier tier = sim::Tier::analytical;
    std::vector<PublishedSet> sets;
};

// Replays every run file in `root`/validate/published (models from `root`/models, clusters from
// `root`/topologies) with the given tier. Per-layer times come from the block costs both tiers share
// (sim::block_costs). Throws InputError naming the file and JSON path of a bad entry.
PublishedValidation validate_published(const std::string& root, sim::Tier tier);

nlohmann::json to_json(const PublishedValidation& v);
// Format::table or Format::json.
std::string render(const PublishedValidation& v, Format format);

}  // namespace splitsim::report
