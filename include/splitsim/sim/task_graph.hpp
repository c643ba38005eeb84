// The task graph of one training iteration: per simulated rank a compute stream and one
// communication stream per parallel dimension; tasks run in program order on their stream once
// their predecessors have finished.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "splitsim/cost/collective.hpp"
#include "splitsim/plan/plan.hpp"
#include "splitsim/sim/time.hpp"

namespace splitsim::sim {

// `gather` carries ZeRO-3's parameter all-gathers, apart from the gradient reductions on `data`
// so that a prefetch never queues behind a reduction (as FSDP keeps them on separate streams).
enum class Stream : std::uint8_t { compute, tensor, pipeline, data, context, expert, gather };
inline constexpr int kStreams = 7;
std::string_view to_string(Stream s);
Stream stream_of(plan::Dim dim);

// What a task is, for the timeline.
enum class Phase : std::uint8_t { forward, backward, weight_grad, recompute, optimizer, gradient_sync, param_sync };
std::string_view to_string(Phase p);

struct TaskLabel {
    std::string_view name;  // the first operator of a compute segment, or the collective
    Phase phase = Phase::forward;
    std::int16_t layer = -1;        // -1: not a layer (embedding, head, optimizer)
    std::int32_t micro_batch = -1;  // -1: once per iteration
};

using TaskId = std::int32_t;

struct Task {
    std::int32_t rank = 0;
    Stream stream = Stream::compute;
    bool transfer = false;
    TimeNs duration;        // compute: at full speed; transfer: its latency before data moves
    std::int32_t usage = -1;  // transfer: index into TaskGraph::usages
    double scale = 0;       // transfer: bytes of pattern traffic (see cost::LinkUsage)
    TaskLabel label;
    std::int32_t predecessors = 0;
};

class TaskGraph {
public:
    explicit TaskGraph(int ranks) : ranks_(ranks), order_(static_cast<std::size_t>(ranks) * kStreams) {}

    TaskId add(const Task& task);
    void depend(TaskId before, TaskId after);
    std::int32_t add_usage(cost::LinkUsage usage);

    [[nodiscard]] int ranks() const { return ranks_; }
    [[nodiscard]] std::size_t size() const { return tasks_.size(); }
    [[nodiscard]] const Task& task(TaskId id) const { return tasks_[static_cast<std::size_t>(id)]; }
    [[nodiscard]] const std::vector<TaskId>& successors(TaskId id) const { return successors_[static_cast<std::size_t>(id)]; }
    [[nodiscard]] const std::vector<TaskId>& stream_order(int rank, Stream s) const {
        return order_[static_cast<std::size_t>(rank) * kStreams + static_cast<std::size_t>(s)];
    }
    [[nodiscard]] const cost::LinkUsage& usage(std::int32_t i) const { return usages_[static_cast<std::size_t>(i)]; }
    [[nodiscard]] std::size_t usage_count() const { return usages_.size(); }

private:
    int ranks_;
    std::vector<Task> tasks_;
    std::vector<std::vector<TaskId>> successors_;
    std::vector<std::vector<TaskId>> order_;  // per rank and stream, in program order
    std::deque<cost::LinkUsage> usages_;       // stable addresses: flows point into it
};

}  // namespace splitsim::sim
