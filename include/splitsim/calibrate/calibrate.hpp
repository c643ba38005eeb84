// Calibration: fits the cost model to what the harness measured (measurements.json). Each kernel
// kind gets its own efficiency and launch overhead (relative least squares, Eigen), each collective
// of a group size, inside a node or across nodes, its own latency and bandwidth. The result is a
// cluster profile that simulate, compare and search read like any cluster file.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "splitsim/common/collective.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/layer_graph.hpp"

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
};

struct Measurements {
    std::string file;
    std::string backend;
    std::string device;
    std::vector<KernelMeasurement> kernels;        // those whose data check passed
    std::vector<CollectiveMeasurement> collectives;
};

// Reads measurements.json (the harness's format); InputError names the file and JSON path.
Measurements load_measurements(const std::string& path);
Measurements parse_measurements(const nlohmann::json& json, const std::string& file);

struct Residual {
    std::string name;
    bool kernel = true;
    Seconds measured;
    Seconds before;  // the cluster's model
    Seconds after;   // the calibrated profile
};

struct Calibration {
    hardware::ClusterSpec cluster;  // the input cluster with the fitted device and collectives
    std::vector<Residual> residuals;
    double kernel_error_before = 0;  // median absolute relative error over kernels
    double kernel_error_after = 0;
    double collective_error_before = 0;
    double collective_error_after = 0;
};

Calibration calibrate(const Measurements& measurements, const hardware::ClusterSpec& cluster);

// The cluster file with the fitted device inline and the fitted collectives: a file load_cluster reads.
nlohmann::json calibrated_cluster_file(const nlohmann::json& cluster_file, const Calibration& calibration,
                                       const std::string& measurements_file);

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
