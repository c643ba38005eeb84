#include "splitsim/sim/task_graph.hpp"

namespace splitsim::sim {

std::string_view to_string(Stream s) {
    switch (s) {
        case Stream::compute: return "compute";
        case Stream::tensor: return "tensor";
        case Stream::pipeline: return "pipeline";
        case Stream::data: return "data";
        case Stream::context: return "context";
        case Stream::expert: return "expert";
        case Stream::gather: return "gather";
    }
    return "?";
}

Stream stream_of(plan::Dim dim) {
    switch (dim) {
        case plan::Dim::tensor: return Stream::tensor;
        case plan::Dim::context: return Stream::context;
        case plan::Dim::expert: return Stream::expert;
        case plan::Dim::data: return Stream::data;
        case plan::Dim::pipeline: return Stream::pipeline;
    }
    return Stream::compute;
}

std::string_view to_string(Phase p) {
    switch (p) {
        case Phase::forward: return "forward";
        case Phase::backward: return "backward";
        case Phase::weight_grad: return "weight_grad";
        case Phase::recompute: return "recompute";
        case Phase::optimizer: return "optimizer";
        case Phase::gradient_sync: return "gradient_sync";
        case Phase::param_sync: return "param_sync";
    }
    return "?";
}

TaskId TaskGraph::add(const Task& task) {
    const auto id = static_cast<TaskId>(tasks_.size());
    tasks_.push_back(task);
    tasks_.back().predecessors = 0;
    successors_.emplace_back();
    order_[static_cast<std::size_t>(task.rank) * kStreams + static_cast<std::size_t>(task.stream)].push_back(id);
    return id;
}

void TaskGraph::depend(TaskId before, TaskId after) {
    if (before < 0 || after < 0) return;
    successors_[static_cast<std::size_t>(before)].push_back(after);
    ++tasks_[static_cast<std::size_t>(after)].predecessors;
}

std::int32_t TaskGraph::add_usage(cost::LinkUsage usage) {
    usages_.push_back(std::move(usage));
    return static_cast<std::int32_t>(usages_.size() - 1);
}

}  // namespace splitsim::sim
