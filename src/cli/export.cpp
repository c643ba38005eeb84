// splitsim export: a plan as the launch arguments of Megatron-LM, DeepSpeed or torchtitan.
#include <memory>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/report/export.hpp"

namespace splitsim::cli {
namespace {

struct ExportOptions {
    std::string plan;
    std::string model;
    std::string cluster;
    std::optional<int> nodes;
    std::string to;
    std::string out = "-";
};

}  // namespace

Subcommand add_export(CLI::App& app) {
    auto opts = std::make_shared<ExportOptions>();
    CLI::App* sub = app.add_subcommand("export", "Write a plan as Megatron-LM, DeepSpeed or torchtitan launch configuration");
    sub->add_option("--plan", opts->plan, "plan JSON")->required();
    sub->add_option("--model", opts->model, "model JSON, or hf:PATH for a Hugging Face config.json")->required();
    sub->add_option("--to", opts->to,
                    "megatron-lm | megatron-core | deepspeed | torchtitan (megatron: megatron-core); default: the plan's framework")
        ->check(CLI::IsMember({"megatron", "megatron-lm", "megatron-core", "deepspeed", "torchtitan"}));
    sub->add_option("--cluster", opts->cluster, "cluster JSON, to check the plan against and derive dp");
    add_nodes_option(*sub, opts->nodes);
    sub->add_option("--out", opts->out, "write to this file instead of standard output");
    return {sub, [opts] {
        const model::ModelSpec model = model::load_model(opts->model);
        plan::Plan plan = plan::load_plan(opts->plan);
        if (!opts->cluster.empty()) {
            plan::validate(plan, model, hardware::load_cluster(opts->cluster, opts->nodes));
        } else {
            if (plan.dp == 0) throw InputError(plan.origin, "/dp", "missing: give dp, or --cluster to derive it");
            // Check the plan against the model on a cluster of exactly its size.
            hardware::ClusterSpec exact;
            exact.origin = "command line";
            exact.name = "plan-sized";
            exact.nodes = 1;
            exact.gpus_per_node = plan.gpus();
            for (Precision p : kAllPrecisions) exact.device.peak[static_cast<int>(p)] = FlopRate(1);
            plan::validate(plan, model, exact);
        }
        // The plan's framework, where it names one, is the target; --to must agree with it.
        std::optional<plan::Framework> f = plan.framework;
        if (!opts->to.empty()) {
            const plan::Framework to = opts->to == "megatron" ? plan::Framework::megatron_core : *plan::framework_from_string(opts->to);
            if (plan.framework && *plan.framework != to) {
                throw InputError(plan.origin, "/framework",
                                 "the plan is for " + std::string(plan::to_string(*plan.framework)) + ", but --to asks for " +
                                     std::string(plan::to_string(to)) + "; drop --to, or change the plan's framework");
            }
            f = to;
        }
        if (!f) throw InputError("command line", "--to", "missing: the plan names no framework; give --to megatron-lm | megatron-core | deepspeed | torchtitan");
        write_outputs({{opts->out, report::export_plan(plan, model, *f)}});
    }};
}

}  // namespace splitsim::cli
