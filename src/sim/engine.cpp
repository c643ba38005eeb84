#include "splitsim/sim/engine.hpp"

#include <cassert>
#include <cmath>
#include <queue>
#include <variant>

#include "splitsim/sim/network.hpp"

namespace splitsim::sim {
namespace {

// Typed events.
struct ComputeDone {
    TaskId task;
    std::uint32_t version;
};
struct LatencyDone {
    TaskId task;
};
struct FlowDone {
    TaskId task;
    std::uint32_t version;
};
using Event = std::variant<ComputeDone, LatencyDone, FlowDone>;

struct Scheduled {
    TimeNs time;
    std::uint64_t sequence;
    Event event;
    // Earliest time first; ties in the order events were scheduled.
    friend bool operator>(const Scheduled& a, const Scheduled& b) {
        return a.time != b.time ? a.time > b.time : a.sequence > b.sequence;
    }
};

// Work that progresses at a rate that may change: compute at a slowdown, transfers at a link share.
struct Progress {
    double remaining = 0;  // compute: nanoseconds at full speed; transfer: fraction of the data left
    double rate = 0;       // per nanosecond
    TimeNs since;
    std::uint32_t version = 0;

    void advance(TimeNs now) {
        remaining -= rate * static_cast<double>((now - since).count());
        if (remaining < 0) remaining = 0;
        since = now;
    }
    [[nodiscard]] TimeNs finish(TimeNs now) const {
        return now + checked_ns(std::ceil(remaining / rate - 1e-9));
    }
};

class Simulation {
public:
    Simulation(const TaskGraph& graph, const std::vector<double>& capacity, const EngineOptions& options)
        : graph_(graph),
          options_(options),
          network_(per_ns(capacity)),
          predecessors_(graph.size()),
          progress_(graph.size()),
          flow_of_(graph.size(), -1),
          task_of_flow_(),
          next_(static_cast<std::size_t>(graph.ranks()) * kStreams, 0),
          busy_(static_cast<std::size_t>(graph.ranks()) * kStreams, false),
          running_compute_(static_cast<std::size_t>(graph.ranks()), -1),
          active_transfers_(static_cast<std::size_t>(graph.ranks()), 0) {
        result_.tasks.resize(graph.size());
        result_.link_bytes.assign(capacity.size(), 0.0);
        carried_.assign(graph_.usage_count(), 0.0);
        for (std::size_t i = 0; i < graph.size(); ++i) predecessors_[i] = graph.task(static_cast<TaskId>(i)).predecessors;
    }

    EngineResult run() {
        for (int r = 0; r < graph_.ranks(); ++r) {
            for (int s = 0; s < kStreams; ++s) try_start(r, static_cast<Stream>(s));
        }
        // The loop: pop the earliest event, check time only moves forward, advance, execute.
        while (!queue_.empty()) {
            const Scheduled next = queue_.top();
            queue_.pop();
            assert(next.time >= now_);
            now_ = next.time;
            ++result_.events;
            std::visit([this](const auto& e) { handle(e); }, next.event);
        }
        // Bytes per link: every finished flow of a usage put its loads x scale on the usage's links.
        for (std::size_t u = 0; u < carried_.size(); ++u) {
            if (carried_[u] <= 0) continue;
            for (const auto& [link, load] : graph_.usage(static_cast<std::int32_t>(u)).loads) result_.link_bytes[link] += load * carried_[u];
        }
        return std::move(result_);
    }

private:
    static std::vector<double> per_ns(const std::vector<double>& capacity) {
        std::vector<double> out(capacity.size());
        for (std::size_t i = 0; i < capacity.size(); ++i) out[i] = capacity[i] * 1e-9;
        return out;
    }

    // Event times stay within 2 kMaxDuration: with durations of at most kMaxDuration, now + duration
    // cannot overflow.
    void schedule(TimeNs at, Event e) {
        if (at.count() > 2 * kMaxDuration) throw TimeRangeError();
        queue_.push({at, sequence_++, e});
    }

    [[nodiscard]] std::size_t slot(int rank, Stream s) const {
        return static_cast<std::size_t>(rank) * kStreams + static_cast<std::size_t>(s);
    }

    double compute_rate(int rank) const {
        return active_transfers_[static_cast<std::size_t>(rank)] > 0 ? 1.0 / (1.0 + options_.overlap_slowdown) : 1.0;
    }

    void try_start(int rank, Stream s) {
        const std::size_t k = slot(rank, s);
        if (busy_[k]) return;
        const auto& order = graph_.stream_order(rank, s);
        if (next_[k] >= order.size()) return;
        const TaskId id = order[next_[k]];
        if (predecessors_[static_cast<std::size_t>(id)] > 0) return;
        ++next_[k];
        busy_[k] = true;
        start(id);
    }

    void start(TaskId id) {
        const Task& t = graph_.task(id);
        result_.tasks[static_cast<std::size_t>(id)].start = now_;
        if (!t.transfer) {
            Progress& p = progress_[static_cast<std::size_t>(id)];
            p.remaining = static_cast<double>(t.duration.count());
            p.rate = compute_rate(t.rank);
            p.since = now_;
            running_compute_[static_cast<std::size_t>(t.rank)] = id;
            schedule(p.finish(now_), ComputeDone{id, p.version});
            return;
        }
        if (active_transfers_[static_cast<std::size_t>(t.rank)]++ == 0) rate_changed(t.rank);
        schedule(now_ + t.duration, LatencyDone{id});
    }

    // A rank's first transfer started or its last one ended: its compute runs at another speed.
    void rate_changed(int rank) {
        const TaskId c = running_compute_[static_cast<std::size_t>(rank)];
        if (c < 0 || options_.overlap_slowdown == 0) return;
        Progress& p = progress_[static_cast<std::size_t>(c)];
        p.advance(now_);
        p.rate = compute_rate(rank);
        ++p.version;
        schedule(p.finish(now_), ComputeDone{c, p.version});
    }

    void handle(const ComputeDone& e) {
        if (progress_[static_cast<std::size_t>(e.task)].version != e.version) return;
        running_compute_[static_cast<std::size_t>(graph_.task(e.task).rank)] = -1;
        finish(e.task);
    }

    void handle(const LatencyDone& e) {
        const Task& t = graph_.task(e.task);
        if (t.usage < 0 || t.scale <= 0 || graph_.usage(t.usage).loads.empty()) {
            finish(e.task);
            return;
        }
        const FlowNetwork::FlowId f = network_.start(graph_.usage(t.usage), t.scale);
        if (task_of_flow_.size() <= static_cast<std::size_t>(f)) task_of_flow_.resize(static_cast<std::size_t>(f) + 1, -1);
        task_of_flow_[static_cast<std::size_t>(f)] = e.task;
        flow_of_[static_cast<std::size_t>(e.task)] = f;
        Progress& p = progress_[static_cast<std::size_t>(e.task)];
        p.remaining = 1.0;
        p.rate = 0;
        p.since = now_;
        apply_rates();
    }

    void handle(const FlowDone& e) {
        Progress& p = progress_[static_cast<std::size_t>(e.task)];
        if (p.version != e.version) return;
        const Task& t = graph_.task(e.task);
        carried_[static_cast<std::size_t>(t.usage)] += t.scale;  // spread over the links at the end
        network_.stop(flow_of_[static_cast<std::size_t>(e.task)]);
        ++p.version;
        apply_rates();
        finish(e.task);
    }

    // Reschedules the flows whose share of the links changed.
    void apply_rates() {
        for (FlowNetwork::FlowId f : network_.changed()) {
            const TaskId id = task_of_flow_[static_cast<std::size_t>(f)];
            Progress& p = progress_[static_cast<std::size_t>(id)];
            if (p.remaining <= 0 && p.rate == 0) continue;
            p.advance(now_);
            p.rate = network_.rate(f);
            ++p.version;
            if (p.rate > 0) schedule(p.finish(now_), FlowDone{id, p.version});
        }
    }

    void finish(TaskId id) {
        const Task& t = graph_.task(id);
        result_.tasks[static_cast<std::size_t>(id)].end = now_;
        // The iteration ends with its last task, not with the last event: superseded flow
        // completions (a rate changed since they were scheduled) still drain from the queue.
        if (result_.end < now_) result_.end = now_;
        busy_[slot(t.rank, t.stream)] = false;
        if (t.transfer && --active_transfers_[static_cast<std::size_t>(t.rank)] == 0) rate_changed(t.rank);
        for (TaskId s : graph_.successors(id)) {
            if (--predecessors_[static_cast<std::size_t>(s)] == 0) {
                const Task& succ = graph_.task(s);
                try_start(succ.rank, succ.stream);
            }
        }
        try_start(t.rank, t.stream);
    }

    const TaskGraph& graph_;
    EngineOptions options_;
    FlowNetwork network_;
    std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> queue_;
    std::uint64_t sequence_ = 0;
    TimeNs now_;
    std::vector<std::int32_t> predecessors_;
    std::vector<Progress> progress_;
    std::vector<FlowNetwork::FlowId> flow_of_;
    std::vector<TaskId> task_of_flow_;
    std::vector<std::size_t> next_;
    std::vector<bool> busy_;
    std::vector<TaskId> running_compute_;
    std::vector<int> active_transfers_;
    std::vector<double> carried_;  // per usage: the scales of its finished flows, summed
    EngineResult result_;
};

}  // namespace

EngineResult run(const TaskGraph& graph, const std::vector<double>& link_capacity, const EngineOptions& options) {
    return Simulation(graph, link_capacity, options).run();
}

}  // namespace splitsim::sim
