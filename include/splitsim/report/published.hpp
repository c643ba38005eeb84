// Published training runs against the simulator: every data file of validate/published/ is read,
// the calibration data (role "calibration") fit each cluster's named device parameters through
// splitsim calibrate's code path, and every run is then replayed on its cluster, calibrated where
// calibration data exist for it. `splitsim validate-published` prints the result; tests assert on it.
//
// Kinds of file (schemas in calibrate/published.hpp and published.cpp, next to the readers):
//  - "iteration_time": runs of a model on a cluster with a plan; published iteration time (and
//    TFLOP/s per GPU under the file's FLOP convention, and the peak memory where the source gives it);
//  - "layer_time": the forward and backward time of one transformer layer under several plans;
//  - "collective_time": nccl-tests bus-bandwidth curves.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/report/simulation.hpp"
#include "splitsim/sim/prediction.hpp"

namespace splitsim::report {

// One published figure and its prediction.
struct PublishedPoint {
    std::string run;       // the run or experiment, as the source names it
    std::string quantity;  // "iteration time", "peak memory", "forward" | "backward" | "combined" (a layer), "busbw"
    std::string unit;      // "s", "ms", "GiB", "GB/s"
    std::string plan;      // the plan replayed, in short
    double published = 0;  // in `unit`
    double predicted = 0;
    double published_tflops = 0;  // per GPU, iteration times only
    double predicted_tflops = 0;
    [[nodiscard]] double error() const { return predicted / published - 1.0; }
};

struct PublishedSet {
    std::string file;        // the data file, relative to the root
    std::string title;
    std::string source;
    std::string kind;        // "iteration_time" | "layer_time" | "collective_time"
    std::string role;        // "calibration" | "validation"
    std::string convention;  // how TFLOP/s are counted (iteration-time sets)
    std::string cluster;     // the cluster file the runs are replayed on ("" for collective curves)
    bool calibrated = false; // replayed on a calibrated profile of its cluster
    std::vector<PublishedPoint> points;
    // Mean and largest |error| over the points of one quantity (all points when empty).
    [[nodiscard]] double mean_abs_error(const std::string& quantity = "") const;
    [[nodiscard]] double max_abs_error(const std::string& quantity = "") const;
    [[nodiscard]] std::size_t count(const std::string& quantity = "") const;
};

// A head-to-head comparison the source makes: the same model under two strategies, compared by
// throughput per GPU (the ratio of the two runs' time per sample per GPU).
struct PublishedComparison {
    std::string name;
    std::string file;
    std::string first;   // run names
    std::string second;
    double published_ratio = 0;  // first / second, > 1: the first is slower
    double predicted_ratio = 0;
    [[nodiscard]] bool ranked_correctly() const { return (published_ratio > 1) == (predicted_ratio > 1); }
    [[nodiscard]] double ratio_error() const { return predicted_ratio / published_ratio - 1.0; }
};

// The calibrated profile of one cluster: the named device parameters the calibration data fit.
struct PublishedCalibration {
    std::string cluster;                 // topologies/NAME.json, relative to the root
    std::string device;
    std::vector<std::string> files;      // the calibration data it was fitted on
    std::vector<calibrate::FittedParameter> parameters;
};

struct PublishedValidation {
    sim::Tier tier = sim::Tier::analytical;
    std::vector<PublishedCalibration> calibrations;
    std::vector<PublishedSet> sets;
    std::vector<PublishedComparison> comparisons;
    // Over every validation set's points of `quantity` ("iteration time", "peak memory", ...).
    [[nodiscard]] double validation_mean_abs_error(const std::string& quantity) const;
    [[nodiscard]] double validation_max_abs_error(const std::string& quantity) const;
    [[nodiscard]] std::size_t validation_count(const std::string& quantity) const;
};

// Replays every data file in `root`/validate/published (models from `root`/models, clusters from
// `root`/topologies) with the given tier: calibration first, then every run on its cluster's
// calibrated profile. Per-layer times come from the block costs both tiers share
// (sim::block_costs). Throws InputError naming the file and JSON path of a bad entry.
PublishedValidation validate_published(const std::string& root, sim::Tier tier);

nlohmann::json to_json(const PublishedValidation& v);
// Format::table or Format::json.
std::string render(const PublishedValidation& v, Format format);

}  // namespace splitsim::report
