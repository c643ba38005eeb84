#include "splitsim/sim/network.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <functional>
#include <limits>

namespace splitsim::sim {

FlowNetwork::FlowNetwork(std::vector<double> capacity)
    : capacity_(std::move(capacity)),
      on_link_(capacity_.size()),
      link_mark_(capacity_.size(), 0),
      remaining_(capacity_.size(), 0.0),
      weight_(capacity_.size(), 0.0) {}

const FlowNetwork::UsageSummary& FlowNetwork::summary(const cost::LinkUsage& usage) {
    auto [it, fresh] = summaries_.try_emplace(&usage);
    if (fresh) {
        double lightest = std::numeric_limits<double>::infinity();
        double least = std::numeric_limits<double>::infinity();
        for (const auto& [link, load] : usage.loads) {
            if (load <= 0) continue;
            lightest = std::min(lightest, load);
            if (const double r = capacity_[link] / load; r < least) {
                least = r;
                it->second.limiting = link;
                it->second.limiting_load = load;
            }
        }
        assert(std::isfinite(lightest) && "a flow loads at least one link");
        it->second.lightest = lightest;
    }
    return it->second;
}

bool FlowNetwork::overlap(const cost::LinkUsage& a, const cost::LinkUsage& b) {
    if (&a == &b) return true;  // a usage loads at least one link
    const auto key = std::less<const cost::LinkUsage*>{}(&a, &b) ? std::make_pair(&a, &b) : std::make_pair(&b, &a);
    auto [it, fresh] = overlaps_.try_emplace(key, false);
    if (fresh) {
        ++epoch_;
        for (const auto& [link, load] : a.loads) link_mark_[link] = epoch_;
        it->second = std::any_of(b.loads.begin(), b.loads.end(), [&](const auto& e) { return link_mark_[e.first] == epoch_; });
    }
    return it->second;
}

void FlowNetwork::list_on_links(FlowId id) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    for (const auto& [link, load] : f.usage->loads) on_link_[link].push_back(id);
    f.on_links = true;
}

FlowNetwork::FlowId FlowNetwork::start(const cost::LinkUsage& usage, double scale) {
    const auto id = static_cast<FlowId>(flows_.size());
    const UsageSummary& s = summary(usage);
    flows_.push_back({&usage, scale, s.lightest * scale, 0.0, true, false});
    flow_mark_.push_back(0);
    // Flows of usages that share a link with this one are listed on their links (if they were not
    // yet); flows of other usages cannot be connected to it.
    bool alone = true;
    Active* same = nullptr;
    for (Active& a : active_) {
        if (a.usage == &usage) same = &a;
        if (a.flows.empty() || !overlap(usage, *a.usage)) continue;
        alone = false;
        for (FlowId other : a.flows) {
            if (!flows_[static_cast<std::size_t>(other)].on_links) list_on_links(other);
        }
    }
    if (same == nullptr) same = &active_.emplace_back(Active{&usage, {}});
    same->flows.push_back(id);
    if (alone) {
        // Nothing else shares its links: the busiest link sets its rate.
        flows_.back().rate = capacity_[s.limiting] / (s.limiting_load * scale);
        changed_.assign(1, id);
        return id;
    }
    list_on_links(id);
    recompute(usage);
    return id;
}

void FlowNetwork::stop(FlowId id) {
    Flow& f = flows_[static_cast<std::size_t>(id)];
    assert(f.active);
    f.active = false;
    f.rate = 0;
    for (Active& a : active_) {
        if (a.usage != f.usage) continue;
        a.flows.erase(std::find(a.flows.begin(), a.flows.end(), id));
        break;
    }
    if (!f.on_links) {  // it never shared a link: no other rate depends on it
        changed_.clear();
        return;
    }
    bool shared = false;
    for (const auto& [link, load] : f.usage->loads) {
        auto& list = on_link_[link];
        list.erase(std::find(list.begin(), list.end(), id));
        shared = shared || !list.empty();
    }
    if (!shared) {
        changed_.clear();
        return;
    }
    recompute(*f.usage);
}

// Progressive filling over the component of flows reachable from the seed links: the bandwidth of
// every unfrozen transfer rises together until a link saturates; the flows crossing it freeze;
// repeat. A flow at level x (bytes per ns per transfer) progresses at x / unit units of work per ns.
void FlowNetwork::recompute(const cost::LinkUsage& seed) {
    changed_.clear();
    ++epoch_;
    auto& links = links_;
    auto& members = members_;
    auto& frontier = frontier_;
    links.clear();
    members.clear();
    frontier.clear();
    for (const auto& [l, load] : seed.loads) {
        if (link_mark_[l] != epoch_) {
            link_mark_[l] = epoch_;
            frontier.push_back(l);
        }
    }
    while (!frontier.empty()) {
        const hardware::LinkId l = frontier.back();
        frontier.pop_back();
        links.push_back(l);
        for (FlowId f : on_link_[l]) {
            if (flow_mark_[static_cast<std::size_t>(f)] == epoch_) continue;
            flow_mark_[static_cast<std::size_t>(f)] = epoch_;
            members.push_back(f);
            for (const auto& [other, load] : flows_[static_cast<std::size_t>(f)].usage->loads) {
                if (link_mark_[other] != epoch_) {
                    link_mark_[other] = epoch_;
                    frontier.push_back(other);
                }
            }
        }
    }
    std::sort(members.begin(), members.end());  // deterministic order
    for (hardware::LinkId l : links) remaining_[l] = capacity_[l];

    auto& unfrozen = unfrozen_;
    unfrozen = members;
    double level = 0;  // the common bandwidth of the unfrozen transfers, bytes per ns
    while (!unfrozen.empty()) {
        for (hardware::LinkId l : links) weight_[l] = 0;
        for (FlowId f : unfrozen) {
            const Flow& flow = flows_[static_cast<std::size_t>(f)];
            for (const auto& [l, load] : flow.usage->loads) weight_[l] += load * flow.scale / flow.unit;
        }
        double step = std::numeric_limits<double>::infinity();
        for (hardware::LinkId l : links) {
            if (weight_[l] > 0) step = std::min(step, remaining_[l] / weight_[l]);
        }
        assert(std::isfinite(step));
        level += step;
        for (hardware::LinkId l : links) remaining_[l] -= step * weight_[l];
        // Freeze the flows on saturated links.
        auto& still = still_;
        still.clear();
        for (FlowId f : unfrozen) {
            Flow& flow = flows_[static_cast<std::size_t>(f)];
            bool saturated = false;
            for (const auto& [l, load] : flow.usage->loads) {
                if (remaining_[l] <= 1e-12 * capacity_[l]) {
                    saturated = true;
                    break;
                }
            }
            if (!saturated) {
                still.push_back(f);
            } else if (flow.rate != level / flow.unit) {
                flow.rate = level / flow.unit;
                changed_.push_back(f);
            }
        }
        unfrozen.swap(still);
    }
}

}  // namespace splitsim::sim
