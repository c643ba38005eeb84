// Published data files (validate/published/*.json): the header every run file shares, and the two
// kinds calibration reads. A file's "role" says what it may be used for: "calibration" data fit the
// device parameters (splitsim calibrate), "validation" data are only ever predicted, never fitted.
//
// Schema of the shared header: title, source (strings); kind: "iteration_time" | "layer_time" |
// "collective_time"; role: "calibration" | "validation"; assumptions: the settings the source
// leaves open, in words. Run files (iteration_time, layer_time) add cluster (a file name in
// topologies/) and plan (plan keys shared by every run). Descriptive keys the readers do not use:
// hardware, peak_tflops_per_gpu, precision, seq_len, vocab, flops_per_iteration, notes, statements.
//
// layer_time: model_file (a file name in models/); model: {heads, hidden, seq_len, vocab,
//   micro_batch, tp} (checked against the model file and the plans); times_ms[]: experiment,
//   forward, backward, combined, plan (keys over the shared plan).
// collective_time: curves[]: cluster (a file name in topologies/), device (the GPU, in words), op
//   (all_reduce | all_gather | reduce_scatter | all_to_all | broadcast | send_recv), ranks (on one
//   node, ranks 0 .. ranks - 1), busbw_GBps: [[size in bytes, bus bandwidth in GB/s], ...] as
//   nccl-tests prints them (busbw = S / t x its factor, S the size).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/common/json_reader.hpp"

namespace splitsim::calibrate {

enum class Role { calibration, validation };

struct PublishedHeader {
    std::string title;
    std::string source;
    std::string kind;
    Role role = Role::validation;
    std::string cluster;    // topologies/NAME.json under the root, for run files
    nlohmann::json plan;    // shared plan keys, for run files
};

// Reads the shared header (and skips the descriptive keys); `o` must then be finished by the caller.
PublishedHeader read_header(JsonObject& o);

// Checks that the model file's dimensions match the ones the source states (heads, hidden,
// layers, seq_len, vocab, where the object gives them).
void check_model_dimensions(JsonObject& o, const model::ModelSpec& model, const std::string& model_file);

}  // namespace splitsim::calibrate
