// Flow-level network: concurrent transfers share link bandwidth max-min fairly (progressive
// filling, as SimGrid's LMM solver does), recomputed only for the transfers connected to a change
// through shared links. A flow is one transfer task, which may stand for several concurrent
// point-to-point transfers (the rings of a collective, the groups of folded replicas): on each link
// it counts as load / (its lightest link's load) transfers, and every transfer on a link gets an
// equal share, whatever its size.
#pragma once

#include <cstdint>
#include <vector>

#include "splitsim/cost/collective.hpp"

namespace splitsim::sim {

class FlowNetwork {
public:
    using FlowId = std::int32_t;

    // Link capacities in bytes per nanosecond.
    explicit FlowNetwork(std::vector<double> capacity);

    // Starts a flow whose one unit of work puts usage.loads[l] x scale bytes on each link l.
    FlowId start(const cost::LinkUsage& usage, double scale);
    void stop(FlowId id);

    // Units of work per nanosecond the flow progresses at (a flow's work is one unit).
    [[nodiscard]] double rate(FlowId id) const { return flows_[static_cast<std::size_t>(id)].rate; }
    // Flows whose rate the last start() or stop() changed (the started flow included).
    [[nodiscard]] const std::vector<FlowId>& changed() const { return changed_; }

private:
    struct Flow {
        const cost::LinkUsage* usage = nullptr;
        double scale = 0;
        double unit = 0;  // bytes on its lightest link per unit of work: one transfer's share
        double rate = 0;
        bool active = false;
    };
    // Recomputes the rates of the flows connected to `seed`'s links.
    void recompute(const cost::LinkUsage& seed);

    std::vector<double> capacity_;
    std::vector<Flow> flows_;
    std::vector<std::vector<FlowId>> on_link_;  // active flows per link
    std::vector<FlowId> changed_;
    // Scratch space for recompute().
    std::vector<std::uint32_t> link_mark_;
    std::vector<std::uint32_t> flow_mark_;
    std::uint32_t epoch_ = 0;
    std::vector<double> remaining_;
    std::vector<double> weight_;
    std::vector<hardware::LinkId> links_;
    std::vector<FlowId> members_;
    std::vector<hardware::LinkId> frontier_;
    std::vector<FlowId> unfrozen_;
    std::vector<FlowId> still_;
};

}  // namespace splitsim::sim
