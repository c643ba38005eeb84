// Calibration: fits the cost model to measurements. Two kinds of input take the same path:
//  - what the harness measured (measurements.json): each kernel kind gets its own efficiency and
//    launch overhead (relative least squares, Eigen), each collective of a group size, inside a node
//    or across nodes, its own latency and bandwidth;
//  - published calibration data (validate/published/*.json with "role": "calibration"): collective
//    bus-bandwidth curves (nccl-tests), fitted like the harness's collectives, and per-layer times
//    of a training run (e.g. Korthikanti et al. 2022, Table 4), which fit a few named device
//    parameters (the sustained GEMM efficiency, the memory efficiency and the slowdown of compute
//    under overlapping communication) by nonlinear least squares over the simulator's own layer
//    costs.
// The result is a cluster profile that simulate, compare and search read like any cluster file.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/plan.hpp"

namespace splitsim::calibrate {

struct KernelMeasurement {
    std::string op;    // the operator ("qkv", ...)
    std::string kind;  // model::to_string(OpKind) or "optimizer"
    std::string pass;
    model::GemmShape shape;  // the product the kernel computes (GEMMs), else rows x columns
    Flops flops;
    Bytes bytes;
    Seconds time;  // median
};

struct CollectiveMeasurement {
    CollectiveKind op = CollectiveKind::all_reduce;
    std::string group;
    std::vector<std::vector<int>> groups;  // the ranks of every group that ran at once
    Bytes bytes;  // nccl-tests' S
    Seconds time; // median
    // Published curves: the name of the cluster they were measured on; calibrate() fits only those
    // of its cluster. Empty for the harness's own measurements.
    std::string cluster;
};

// The published time of one pass of one transformer layer under a plan: the layer's kernels plus
// the communication the pass exposes, as Megatron-LM's per-layer timers measure it.
struct LayerMeasurement {
    std::string name;        // the experiment and the pass, for residuals
    model::ModelSpec model;
    plan::Plan plan;         // not yet validated: calibrate() validates it on a cluster of its size
    bool backward = false;   // the backward pass (recomputation included), else the forward
    Seconds time;
    std::string cluster;     // the name of the cluster it was measured on; calibrate() fits only its own
};

// A kernel timed alone and again while collectives of its rank run on the communication path
// (the harness's "overlap" entries): the ratio fits overlap_slowdown.
struct OverlapMeasurement {
    std::string name;        // "qkv forward under all_reduce of 1 MiB in tensor groups"
    Seconds alone;           // median, every rank computing and none communicating
    Seconds overlapped;      // median, while the collectives run
};

struct Measurements {
    std::string file;
    std::string backend;  // "cpu" | "cuda" for the harness, "published" for published data
    std::string device;
    std::string machine;  // the harness's machine in one line (device, host, processors, clock, libraries)
    int ranks = 0;        // the harness run's ranks; 0 for published data
    std::vector<KernelMeasurement> kernels;        // those whose data check passed
    std::vector<CollectiveMeasurement> collectives;
    std::vector<LayerMeasurement> layers;
    std::vector<OverlapMeasurement> overlaps;
};

// Reads measurements.json (the harness's format) or a published calibration file
// (validate/published/*.json of kind "layer_time" or "collective_time" and role "calibration");
// InputError names the file and JSON path.
Measurements load_measurements(const std::string& path);
Measurements parse_measurements(const nlohmann::json& json, const std::string& file);
// Several files as one input (their measurements together); the backends must agree.
Measurements merge(const std::vector<Measurements>& parts);

// The repository root a published data file belongs to (it lies in ROOT/validate/published/):
// models and clusters are named relative to it.
std::string published_root(const std::string& data_file);
// The per-layer times of a published "layer_time" file, for calibration or validation, and the
// cluster file (topologies/NAME.json under the root) they ran on.
std::vector<LayerMeasurement> read_layer_times(const nlohmann::json& json, const std::string& file,
                                               std::string* cluster_path = nullptr);
// The collective times of a published "collective_time" file (nccl-tests bus bandwidths), each
// with the device of the cluster its curve was measured on.
std::vector<CollectiveMeasurement> read_collective_times(const nlohmann::json& json, const std::string& file);

// The time the simulator predicts for a layer measurement on `cluster` (resized to the plan's GPUs):
// one dense layer's operators plus the communication its pass exposes, as both tiers cost them.
Seconds predict_layer(const LayerMeasurement& layer, const hardware::ClusterSpec& cluster);

// A named device parameter that calibration fitted, with its value before and after.
struct FittedParameter {
    std::string name;  // "node.gpu_bandwidth" (B/s), "gemm_efficiency", "overlap_slowdown"
    double before = 0;
    double after = 0;
};

// Fits named device parameters to published data and sets them in `cluster`'s device, minimizing
// squared relative errors: collective curves on one node fit the bandwidth each GPU sustains into
// the node's fabric (node.gpu_bandwidth), then layer times (predict_layer) fit gemm_efficiency and
// overlap_slowdown. A parameter that moves no prediction keeps its value and is not listed.
std::vector<FittedParameter> fit_device_parameters(const std::vector<CollectiveMeasurement>& curves,
                                                   const std::vector<LayerMeasurement>& layers, hardware::ClusterSpec& cluster);

struct Residual {
    enum class Kind { kernel, collective, layer, overlap };
    std::string name;
    Kind kind = Kind::kernel;
    Seconds measured;
    Seconds before;  // the cluster's model
    Seconds after;   // the calibrated profile
};

struct Calibration {
    hardware::ClusterSpec cluster;  // the input cluster with the fitted device and collectives
    std::vector<Residual> residuals;
    std::vector<FittedParameter> parameters;  // device parameters fitted to layer times or overlap measurements
    double kernel_error_before = 0;  // median absolute relative error over kernels
    double kernel_error_after = 0;
    double collective_error_before = 0;
    double collective_error_after = 0;
    double layer_error_before = 0;
    double layer_error_after = 0;
    double overlap_error_before = 0;  // kernels under collectives, at the cluster's overlap_slowdown
    double overlap_error_after = 0;   // and at the fitted one
};

Calibration calibrate(const Measurements& measurements, const hardware::ClusterSpec& cluster);

// The residuals, fitted parameters and median errors of `splitsim calibrate --format json`:
// residuals[] (name, kind, measured_s, predicted_before_s, predicted_after_s), parameters[] (name,
// before, after), the median errors before and after per kind, and the machine measured.
nlohmann::json to_json(const Calibration& calibration, const Measurements& measurements);
const char* to_string(Residual::Kind kind);  // "kernel", "collective", "layer", "overlap"

// The cluster file with the fitted device inline and the fitted collectives: a file load_cluster reads.
// The device's source names the measurements and the machine they were taken on.
nlohmann::json calibrated_cluster_file(const nlohmann::json& cluster_file, const Calibration& calibration,
                                       const Measurements& measurements);

// Fits t = c0 + c1 x1 + ... + cn xn with every c >= 0, minimizing the relative error
// sum ((prediction_i - t_i)/t_i)^2 (Eigen least squares over every subset of the terms, keeping the
// best non-negative one). Returns {c0, c1, ..., cn}.
std::vector<double> fit_relative(const std::vector<std::vector<double>>& x, const std::vector<double>& t);

// One piece of a piecewise alpha-beta fit: t = latency + bytes * seconds_per_byte for sizes from
// min_bytes up to the next piece's.
struct Piece {
    double min_bytes = 0;
    double latency = 0;
    double seconds_per_byte = 0;
};

// Fits t = latency + bytes * seconds_per_byte piecewise over sizes: a transport switches protocol
// with the message size (MPI's eager and rendezvous sends, NCCL's LL, LL128 and Simple), and each
// protocol has its own latency and bandwidth. Segments are split in two where the split (two lines
// and a breakpoint, 5 parameters) lowers the Bayesian information criterion
// n ln(RSS / n) + parameters x ln n of the relative residuals below that of one line (2 parameters),
// recursively; a piece holds at least 3 distinct sizes and a positive seconds_per_byte. The sizes
// need not be sorted. Returns the pieces in order of size.
std::vector<Piece> fit_pieces(const std::vector<double>& bytes, const std::vector<double>& t);

}  // namespace splitsim::calibrate
