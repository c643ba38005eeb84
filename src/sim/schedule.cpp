#include "splitsim/sim/schedule.hpp"

#include <algorithm>

namespace splitsim::sim {
namespace {

using Kind = WorkItem::Kind;

std::vector<WorkItem> one_f_one_b(int pp, int m, int stage) {
    std::vector<WorkItem> out;
    const int warmup = std::min(pp - stage - 1, m);
    for (int i = 0; i < warmup; ++i) out.push_back({Kind::forward, i, 0});
    for (int i = 0; i < m - warmup; ++i) {
        out.push_back({Kind::forward, warmup + i, 0});
        out.push_back({Kind::backward, i, 0});
    }
    for (int i = m - warmup; i < m; ++i) out.push_back({Kind::backward, i, 0});
    return out;
}

std::vector<WorkItem> interleaved(int pp, int v, int m, int stage) {
    const int total = m * v;
    auto item = [&](int k, bool forward) {
        int chunk = (k % (pp * v)) / pp;
        if (!forward) chunk = v - 1 - chunk;
        const int micro_batch = (k / (pp * v)) * pp + k % pp;
        return WorkItem{forward ? Kind::forward : Kind::backward, micro_batch, chunk};
    };
    const int warmup = std::min((pp - stage - 1) * 2 + (v - 1) * pp, total);
    std::vector<WorkItem> out;
    for (int k = 0; k < warmup; ++k) out.push_back(item(k, true));
    for (int i = 0; i < total - warmup; ++i) {
        out.push_back(item(warmup + i, true));
        out.push_back(item(i, false));
    }
    for (int k = total - warmup; k < total; ++k) out.push_back(item(k, false));
    return out;
}

std::vector<WorkItem> zb_h1(int pp, int m, int stage) {
    (void)pp;
    const int delay = stage;
    std::vector<WorkItem> out;
    int next_w = 0;
    for (const WorkItem& w : one_f_one_b(pp, m, stage)) {
        out.push_back(w);
        if (w.kind == Kind::backward && w.micro_batch - delay >= next_w) out.push_back({Kind::weight_grad, next_w++, 0});
    }
    while (next_w < m) out.push_back({Kind::weight_grad, next_w++, 0});
    return out;
}

}  // namespace

std::vector<WorkItem> stage_program(plan::Schedule schedule, int pp, int vpp, int micro_batches, int stage) {
    switch (schedule) {
        case plan::Schedule::gpipe: {
            std::vector<WorkItem> out;
            for (int i = 0; i < micro_batches; ++i) out.push_back({Kind::forward, i, 0});
            for (int i = micro_batches - 1; i >= 0; --i) out.push_back({Kind::backward, i, 0});
            return out;
        }
        case plan::Schedule::one_f_one_b: return one_f_one_b(pp, micro_batches, stage);
        case plan::Schedule::interleaved: return interleaved(pp, vpp, micro_batches, stage);
        case plan::Schedule::zb_h1: return zb_h1(pp, micro_batches, stage);
    }
    return {};
}

}  // namespace splitsim::sim
