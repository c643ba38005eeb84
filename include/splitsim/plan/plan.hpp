// A parallel training plan: how a model is split over a cluster and how each step runs.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "splitsim/common/precision.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/model/layer_graph.hpp"
#include "splitsim/model/model_spec.hpp"
#include "splitsim/plan/framework.hpp"

namespace splitsim::plan {

using model::Recompute;

enum class Schedule {
    gpipe,        // all forwards, then all backwards (Huang et al. 2019, arXiv 1811.06965)
    one_f_one_b,  // PipeDream-Flush 1F1B (Narayanan et al. 2021, arXiv 2104.04473, Sec. 2.2.1)
    interleaved,  // interleaved 1F1B with vpp model chunks per rank (ibid., Sec. 2.2.2)
    zb_h1,        // zero-bubble ZB-H1: weight gradients deferred into the drain (Qi et al. 2023, arXiv 2401.10241)
};

// The order in which parallel dimensions are laid onto consecutive ranks, innermost first.
enum class Dim { tensor, context, expert, data, pipeline };
inline constexpr int kDimCount = 5;
std::string_view to_string(Dim d);

struct Plan {
    std::string origin;   // where the plan came from, for error messages (a file name)
    std::string pointer;  // the JSON pointer of the plan inside that file ("" for a plan file)
    std::string name;     // optional, for reports
    int tp = 1;
    int pp = 1;
    int dp = 0;  // 0: derived from the cluster by validate()
    int cp = 1;
    int ep = 1;
    int vpp = 1;  // model chunks per pipeline rank (interleaved schedule)
    bool sequence_parallel = false;
    int micro_batch = 1;
    int global_batch = 1;
    Schedule schedule = Schedule::one_f_one_b;
    int zero = 0;
    Recompute recompute = Recompute::none;
    Precision precision = Precision::bf16;
    // The framework that runs the plan; none: splitsim's defaults (Megatron-LM's conventions), with
    // every feature the simulator models.
    std::optional<Framework> framework;
    std::string framework_version;  // a release whose behaviour differs (framework_versions()); "" = the newest
    // Extensions beyond the contract's keys; defaults follow Megatron-LM's.
    Precision grad_precision = Precision::fp32;  // main gradients; Megatron keeps them in fp32 for bf16
    bool flash_attention = false;                // fused attention kernel (required for cp > 1)
    bool overlap_grad_reduce = false;            // Megatron --overlap-grad-reduce
    bool overlap_param_gather = false;           // Megatron --overlap-param-gather (ZeRO >= 1)
    // Each column-parallel layer's input-gradient all-reduce (reduce-scatter under sequence
    // parallelism) runs while its weight-gradient GEMM computes (Megatron-LM's asynchronous
    // tensor-parallel all-reduce, on by default since 2021; always on in Megatron-Core).
    bool async_tp_allreduce = true;
    // Weight-gradient GEMMs accumulate into the main gradients in their epilogue (Megatron
    // --gradient-accumulation-fusion, on by default); otherwise a separate kernel adds each
    // micro-batch's gradient.
    bool grad_accumulation_fusion = true;
    // Pipeline sends split the (tensor-parallel replicated) activation into tp chunks, each rank
    // sends its chunk, and the receivers all-gather it over the tensor-parallel group (Narayanan
    // et al. 2021, arXiv 2104.04473, Sec. 4.1; Megatron-LM 2021 --scatter-gather-tensors-in-pipeline).
    bool scatter_gather_p2p = false;
    int first_stage_layers = 0;                  // uneven split: layers on the first stage (0 = even)
    int last_stage_layers = 0;                   // uneven split: layers on the last stage (0 = even)
    // Placement: dimensions laid onto consecutive ranks, innermost first (Megatron's "tp-cp-ep-dp-pp").
    // `expert` is the expert-parallel part of the data-parallel ranks.
    std::array<Dim, kDimCount> order{Dim::tensor, Dim::context, Dim::expert, Dim::data, Dim::pipeline};

    [[nodiscard]] int gpus() const { return tp * pp * dp * cp; }
    [[nodiscard]] int micro_batches() const { return global_batch / (micro_batch * dp); }
};

// Reads a plan; `dp` is left 0 when the file omits it (validate() derives it from the cluster).
Plan parse_plan(const nlohmann::json& json, const std::string& file, const std::string& pointer = "");
// A list of plans: a JSON array of plan objects, or an object {"plans": [...]}.
std::vector<Plan> load_plans(const std::string& path);
Plan load_plan(const std::string& path);

// Checks a plan against a model and a cluster and fills in derived values (dp). Throws InputError
// naming the plan's origin and the JSON path of the key at fault.
void validate(Plan& plan, const model::ModelSpec& model, const hardware::ClusterSpec& cluster);

// The plan as JSON, in the file format parse_plan reads.
nlohmann::json to_json(const Plan& plan);

std::string_view to_string(Schedule s);
std::string_view to_string(Recompute r);

}  // namespace splitsim::plan
