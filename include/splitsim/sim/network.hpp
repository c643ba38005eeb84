// Flow-level network: concurrent transfers share link bandwidth max-min fairly (progressive
// filling, as SimGrid's LMM solver does), recomputed only for the transfers connected to a change
// through shared links. A flow is one transfer task, which may stand for several concurrent
// point-to-point transfers (the rings of a collective, the groups of folded replicas): on each link
// it counts as load / (its lightest link's load) transfers, and every transfer on a link gets an
// equal share, whatever its size.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>
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
        bool on_links = false;  // listed in on_link_ (it has shared a link with another flow)
    };
    // What start() needs of a usage, computed once: its lightest load and the link that limits a
    // flow alone on its links (the least capacity over load).
    struct UsageSummary {
        double lightest = 0;
        hardware::LinkId limiting = 0;
        double limiting_load = 0;  // the usage's load on that link
    };
    // The active flows of one usage.
    struct Active {
        const cost::LinkUsage* usage = nullptr;
        std::vector<FlowId> flows;
    };
    // Recomputes the rates of the flows connected to `seed`'s links.
    void recompute(const cost::LinkUsage& seed);
    const UsageSummary& summary(const cost::LinkUsage& usage);
    // Whether two usages load a common link (cached per pair).
    bool overlap(const cost::LinkUsage& a, const cost::LinkUsage& b);
    void list_on_links(FlowId id);

    std::vector<double> capacity_;
    std::vector<Flow> flows_;
    // Active flows per link, only for flows that share: a flow that shares no link with any other
    // active flow is not listed (most flows of a large cluster, whose usages span thousands of
    // links), and is listed the moment another flow starts on one of its links.
    std::vector<std::vector<FlowId>> on_link_;
    std::vector<Active> active_;  // by usage; few usages are active at once
    std::unordered_map<const cost::LinkUsage*, UsageSummary> summaries_;
    std::map<std::pair<const cost::LinkUsage*, const cost::LinkUsage*>, bool> overlaps_;
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
