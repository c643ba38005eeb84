#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/report/html.hpp"
#include "splitsim/report/simulation.hpp"
#include "splitsim/report/trace.hpp"
#include "splitsim/sim/analytical.hpp"
#include "splitsim/sim/engine.hpp"
#include "splitsim/sim/event_tier.hpp"
#include "splitsim/sim/network.hpp"
#include "splitsim/sim/schedule.hpp"
#include "splitsim/sim/sharded.hpp"
#include "support.hpp"

using namespace splitsim;
using sim::WorkItem;
using test::rel;

namespace {

hardware::ClusterSpec free_network() {
    const auto j = nlohmann::json::parse(R"({
        "name": "free", "nodes": 1, "gpus_per_node": 8,
        "device": {"name": "X", "memory": "1 TiB", "memory_bandwidth": "2000 GB/s", "compute_units": 100,
                   "peak": {"bf16": "300 TFLOP/s"}},
        "node": {"fabric": "nvswitch", "gpu_bandwidth": "1e12 TB/s", "latency": "0 us"}})");
    return hardware::parse_cluster(j, "free.json", ".");
}

model::ModelSpec uniform_model() {
    model::ModelSpec m = test::gpt(32, 8192, 64, 2048, 1);
    m.dropout = false;
    return m;
}

plan::Plan make_plan(int tp, int pp, int micro_batches_per_pipeline, plan::Schedule schedule, int vpp, int gpus = 8) {
    plan::Plan p;
    p.origin = "test";
    p.tp = tp;
    p.pp = pp;
    p.dp = gpus / (tp * pp);
    p.micro_batch = 1;
    p.global_batch = micro_batches_per_pipeline * p.dp;
    p.schedule = schedule;
    p.vpp = vpp;
    return p;
}

sim::Prediction events(plan::Plan p, const model::ModelSpec& m, hardware::ClusterSpec c) {
    plan::validate(p, m, c);
    const sim::Scenario sc(m, std::move(c), std::move(p));
    return sim::predict_events(sc);
}

}  // namespace

TEST_CASE("max-min fair sharing: progressive filling (SimGrid's maxmin tests)") {
    // Links: 0 with 10 B/ns, 1 with 4 B/ns. Flow a uses link 0; flow b uses links 0 and 1.
    sim::FlowNetwork net({10.0, 4.0});
    cost::LinkUsage a{{{0, 1.0}}, 0}, b{{{0, 1.0}, {1, 1.0}}, 0};
    const auto fa = net.start(a, 1.0);
    CHECK(net.rate(fa) == doctest::Approx(10.0));  // alone on link 0
    const auto fb = net.start(b, 1.0);
    // b is held to 4 by link 1; a takes what b leaves on link 0: 10 - 4 = 6.
    CHECK(net.rate(fb) == doctest::Approx(4.0));
    CHECK(net.rate(fa) == doctest::Approx(6.0));
    net.stop(fb);
    CHECK(net.rate(fa) == doctest::Approx(10.0));
    // Two equal flows on one link share it equally.
    const auto fc = net.start(a, 1.0);
    CHECK(net.rate(fa) == doctest::Approx(5.0));
    CHECK(net.rate(fc) == doctest::Approx(5.0));
    // Sharing is per transfer, not per byte: a 100-byte and a 1-byte flow on one link get the
    // same bandwidth, 6 B/ns each, so the small one progresses 100 times faster.
    sim::FlowNetwork sizes({12.0});
    const auto big = sizes.start(a, 100.0);
    const auto small = sizes.start(a, 1.0);
    CHECK(sizes.rate(big) * 100.0 == doctest::Approx(6.0));
    CHECK(sizes.rate(small) == doctest::Approx(6.0));
    // A flow that stands for two transfers on link 1 (load 2 there, 1 on its lightest link 0)
    // takes two shares of link 1 against a single transfer: 2/3 and 1/3 of 9 B/ns.
    sim::FlowNetwork shares({100.0, 9.0});
    cost::LinkUsage two{{{0, 1.0}, {1, 2.0}}, 0}, one{{{1, 1.0}}, 0};
    const auto f2 = shares.start(two, 1.0);
    const auto f1 = shares.start(one, 1.0);
    CHECK(shares.rate(f2) * 2.0 == doctest::Approx(6.0));  // 2 shares of 3 B/ns, 2 bytes per unit
    CHECK(shares.rate(f1) == doctest::Approx(3.0));

    // Flows that started alone join the sharing when a flow bridging them starts: x on link 0
    // (10 B/ns) and z on link 2 (6 B/ns) are alone; y crosses links 0, 1 (4 B/ns) and 2. Link 2
    // saturates first (y and z at 3), then link 0 gives x the remaining 10 - 3 = 7. A flow on a
    // link of its own (w, link 3) is untouched throughout.
    sim::FlowNetwork chain({10.0, 4.0, 6.0, 8.0});
    cost::LinkUsage x{{{0, 1.0}}, 0}, y{{{0, 1.0}, {1, 1.0}, {2, 1.0}}, 0}, z{{{2, 1.0}}, 0}, w{{{3, 1.0}}, 0};
    const auto fx = chain.start(x, 1.0);
    const auto fz = chain.start(z, 1.0);
    const auto fw = chain.start(w, 1.0);
    CHECK(chain.rate(fx) == doctest::Approx(10.0));
    CHECK(chain.rate(fz) == doctest::Approx(6.0));
    const auto fy = chain.start(y, 1.0);
    CHECK(chain.rate(fy) == doctest::Approx(3.0));
    CHECK(chain.rate(fz) == doctest::Approx(3.0));
    CHECK(chain.rate(fx) == doctest::Approx(7.0));
    CHECK(chain.rate(fw) == doctest::Approx(8.0));
    chain.stop(fy);
    CHECK(chain.rate(fx) == doctest::Approx(10.0));
    CHECK(chain.rate(fz) == doctest::Approx(6.0));
    chain.stop(fw);
    CHECK(chain.changed().empty());
    CHECK(chain.rate(fx) == doctest::Approx(10.0));
}

TEST_CASE("engine: streams run in program order; compute slows while communication overlaps it") {
    sim::TaskGraph g(1);
    sim::Task c;
    c.duration = sim::ns(1000);
    const auto c1 = g.add(c);
    sim::Task t;
    t.transfer = true;
    t.stream = sim::Stream::data;
    t.duration = sim::ns(0);
    t.usage = g.add_usage(cost::LinkUsage{{{0, 1.0}}, 0});
    t.scale = 500;  // 500 bytes over a 1 B/ns link: 500 ns
    const auto t1 = g.add(t);
    const auto c2 = g.add(c);
    g.depend(c1, c2);
    // Without slowdown: the transfer runs beside the first compute task.
    auto r = sim::run(g, {1e9}, {});
    CHECK(r.tasks[static_cast<std::size_t>(t1)].end.count() == 500);
    CHECK(r.tasks[static_cast<std::size_t>(c2)].end.count() == 2000);
    // With 50% slowdown, the first 500 ns of compute do 500/1.5 ns of work.
    sim::EngineOptions o;
    o.overlap_slowdown = 0.5;
    r = sim::run(g, {1e9}, o);
    CHECK(r.tasks[static_cast<std::size_t>(c1)].end.count() == 500 + (1000 - 333));
}

TEST_CASE("schedules: 1F1B warm-up, interleaved chunk order, ZB-H1 weight passes") {
    const auto s0 = sim::stage_program(plan::Schedule::one_f_one_b, 4, 1, 8, 0);
    CHECK(s0.size() == 16);
    // Stage 0 of 4 warms up with p - 1 = 3 forwards, then alternates.
    CHECK(s0[2] == WorkItem{WorkItem::Kind::forward, 2, 0});
    CHECK(s0[3] == WorkItem{WorkItem::Kind::forward, 3, 0});
    CHECK(s0[4] == WorkItem{WorkItem::Kind::backward, 0, 0});
    // Interleaved, p = 2, v = 2, m = 4: virtual micro-batch k -> chunk (k/p) mod v, micro-batch (k/(pv))p + k mod p.
    const auto iv = sim::stage_program(plan::Schedule::interleaved, 2, 2, 4, 0);
    CHECK(iv.size() == 16);
    CHECK(iv[0] == WorkItem{WorkItem::Kind::forward, 0, 0});
    CHECK(iv[2] == WorkItem{WorkItem::Kind::forward, 0, 1});
    CHECK(iv[4] == WorkItem{WorkItem::Kind::forward, 2, 0});
    // Warm-up 2 (p - 1) + (v - 1) p = 4 forwards, then the first backward is chunk v - 1 of micro-batch 0.
    CHECK(iv[5] == WorkItem{WorkItem::Kind::backward, 0, 1});
    const auto zb = sim::stage_program(plan::Schedule::zb_h1, 4, 1, 8, 1);
    int weights = 0;
    for (const auto& w : zb) weights += w.kind == WorkItem::Kind::weight_grad;
    CHECK(weights == 8);
}

TEST_CASE("event tier: bubble (p - 1)/m for 1F1B and GPipe, (p - 1)/(v m) interleaved, with free communication") {
    const auto m = uniform_model();
    for (int pp : {2, 4, 8}) {
        for (int mb : {8, 16}) {
            CAPTURE(pp);
            CAPTURE(mb);
            const auto f = events(make_plan(1, pp, mb, plan::Schedule::one_f_one_b, 1), m, free_network());
            CHECK(rel(f.bubble_fraction, (pp - 1.0) / mb) < 0.005);
            const auto g = events(make_plan(1, pp, mb, plan::Schedule::gpipe, 1), m, free_network());
            CHECK(rel(g.bubble_fraction, (pp - 1.0) / mb) < 0.005);
            const auto i = events(make_plan(1, pp, mb, plan::Schedule::interleaved, 2), m, free_network());
            // The closed form counts whole chunks only; the critical stage also waits for what else
            // the stages do (hand-overs between chunks, the final norm and loss): within 1% of it
            // (0.9% at pp 2).
            CHECK(rel(i.bubble_fraction, (pp - 1.0) / (2.0 * mb)) < 0.01);
        }
    }
}

TEST_CASE("event tier: ZB-H1 fills the drain with weight-gradient passes") {
    const auto m = uniform_model();
    const auto onef = events(make_plan(1, 4, 16, plan::Schedule::one_f_one_b, 1), m, free_network());
    const auto zb = events(make_plan(1, 4, 16, plan::Schedule::zb_h1, 1), m, free_network());
    CHECK(zb.iteration_time < onef.iteration_time);
    CHECK(zb.bubble < 0.75 * onef.bubble);
}

TEST_CASE("event tier equals the analytical tier where nothing overlaps or contends") {
    const auto m = test::gpt(8, 2048, 16, 2048, 32000);
    auto cluster = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 2);
    for (int tp : {1, 2, 8}) {
        for (int zero : {0, 1}) {
            plan::Plan p;
            p.origin = "test";
            p.tp = tp;
            p.pp = 1;
            p.micro_batch = 2;
            p.global_batch = 8 * (16 / tp);
            p.zero = zero;
            plan::validate(p, m, cluster);
            const sim::Scenario sc(m, cluster, p);
            const auto a = sim::predict_analytical(sc);
            const auto e = sim::predict_events(sc);
            CAPTURE(tp);
            CAPTURE(zero);
            // Durations are rounded to whole nanoseconds, one rounding per task at most.
            CHECK(std::fabs(a.iteration_time.value() - e.iteration_time.value()) <= static_cast<double>(e.tasks) * 1e-9);
        }
    }
}

TEST_CASE("ZeRO-3: units by framework, and both tiers play the same gather rule") {
    const auto m = test::gpt(8, 2048, 16, 2048, 32000);
    plan::Plan p;
    p.origin = "test";
    p.tp = 1;
    p.pp = 1;
    p.micro_batch = 1;
    p.global_batch = 16;
    p.zero = 3;
    p.recompute = model::Recompute::full;
    const auto layer = model::expand(m).dense;
    // FSDP2 (splitsim's default, torchtitan): one unit per transformer block, every parameter in it.
    const auto block = sim::shard_units(p, layer);
    REQUIRE(block.size() == 1);
    CHECK(block[0].parameters == doctest::Approx(model::totals(layer).parameters));
    // DeepSpeed: one unit per module above stage3_param_persistence_threshold (1e5): the four
    // linears; the norms (2h = 4096 elements) stay unsharded.
    p.framework = plan::Framework::deepspeed;
    const auto modules = sim::shard_units(p, layer);
    CHECK(modules.size() == 4);
    // stage3_prefetch_bucket_size 5e7 elements: as many units ahead as fit, at least one.
    CHECK(sim::prefetch_depth(plan::behaviour(p).sharded, 4.0 * 2048 * 2048) == 2);
    CHECK(sim::prefetch_depth(plan::behaviour(p).sharded, 1e7) == 5);
    CHECK(sim::prefetch_depth(plan::behaviour(p).sharded, 1e8) == 1);
    p.framework_version = "0.3";
    CHECK(sim::prefetch_depth(plan::behaviour(p).sharded, 1e7) == 0);  // every fetch synchronous

    // Without the compute slowdown under overlap, the tiers play the same two-stream rule: they
    // agree within the event tier's whole-nanosecond rounding and its per-chunk bucket flush.
    auto cluster = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 2);
    cluster.device.kernels.overlap_slowdown = 0;
    for (const char* version : {"", "0.3"}) {
        for (const bool deepspeed : {false, true}) {
            plan::Plan q = p;
            q.framework = deepspeed ? std::optional(plan::Framework::deepspeed) : std::nullopt;
            q.framework_version = deepspeed ? version : "";
            plan::validate(q, m, cluster);
            const sim::Scenario sc(m, cluster, q);
            const double a = sim::predict_analytical(sc).iteration_time.value();
            const double e = sim::predict_events(sc).iteration_time.value();
            CAPTURE(deepspeed);
            CAPTURE(version);
            CHECK(e == doctest::Approx(a).epsilon(0.01));
        }
    }
    // DeepSpeed 0.3's synchronous fetches hide nothing: slower than FSDP's prefetch.
    plan::Plan fsdp = p, ds3 = p;
    fsdp.framework = std::nullopt;
    plan::validate(fsdp, m, cluster);
    plan::validate(ds3, m, cluster);
    CHECK(sim::predict_analytical(sim::Scenario(m, cluster, ds3)).iteration_time >
          sim::predict_analytical(sim::Scenario(m, cluster, fsdp)).iteration_time);
}

TEST_CASE("event tier: overlapping gradient reduction with the backward pass saves time") {
    const auto m = test::gpt(24, 2304, 24);
    auto cluster = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 4);
    plan::Plan p = make_plan(1, 1, 4, plan::Schedule::one_f_one_b, 1, 32);
    const auto plain = events(p, m, cluster);
    p.overlap_grad_reduce = true;
    const auto overlapped = events(p, m, cluster);
    CHECK(overlapped.iteration_time < plain.iteration_time);
    // One stage: the compute slowed by the overlapped reduction (A100 overlap_slowdown) is no bubble.
    CHECK(overlapped.bubble_fraction == 0.0);
    CHECK(overlapped.bubble.value() == 0.0);
}

TEST_CASE("same inputs give byte-identical JSON and trace; the trace opens in Perfetto") {
    const std::string root = test::source_root();
    auto once = [&] {
        const auto m = model::load_model(root + "/models/gpt-7.5b.json");
        auto c = hardware::load_cluster(root + "/topologies/dgx-a100-superpod.json", 4);
        plan::Plan p = make_plan(4, 2, 8, plan::Schedule::interleaved, 3, 32);
        p.sequence_parallel = true;
        p.overlap_grad_reduce = true;
        p.zero = 1;
        plan::validate(p, m, c);
        const sim::Scenario sc(m, std::move(c), std::move(p));
        sim::EventRun run;
        const auto r = sim::predict_events(sc, &run);
        return std::make_pair(report::to_json(sc, r).dump(), report::chrome_trace(sc, run));
    };
    const auto a = once();
    const auto b = once();
    CHECK(a.first == b.first);
    CHECK(a.second == b.second);
    const auto trace = nlohmann::json::parse(a.second);
    REQUIRE(trace.at("traceEvents").size() > 100);
    for (const auto& e : trace["traceEvents"]) {
        for (const char* key : {"ph", "ts", "dur", "pid", "tid"}) {
            CAPTURE(key);
            REQUIRE(e.contains(key));
        }
        if (e["ph"] == "X") {
            CHECK(e["dur"].get<double>() >= 0);
            CHECK(e.contains("name"));
        }
    }
}

TEST_CASE("per-rank simulation: every replica on its own agrees with the folded one where replicas are alike") {
    const auto m = test::gpt(8, 2048, 16, 2048, 32000);
    auto cluster = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", 2);
    plan::Plan p = make_plan(4, 2, 8, plan::Schedule::one_f_one_b, 1, 16);
    p.zero = 1;
    p.overlap_grad_reduce = true;
    plan::validate(p, m, cluster);
    const sim::Scenario sc(m, cluster, p);
    sim::EventRun folded, per_rank;
    const auto a = sim::predict_events(sc, &folded);
    const auto b = sim::predict_events(sc, &per_rank, true);
    CHECK(per_rank.graph.ranks() == p.pp * p.dp);
    CHECK(folded.graph.ranks() == p.pp);
    CHECK(test::rel(a.iteration_time.value(), b.iteration_time.value()) < 0.005);
    p.zero = 3;
    const sim::Scenario z3(m, cluster, p);
    CHECK_THROWS_WITH_AS(sim::predict_events(z3, nullptr, true), doctest::Contains("/zero: per-rank simulation"), InputError);
}

TEST_CASE("event tier: every stage's utilization adds up, and the critical stage's is the time breakdown") {
    // GPT-3 175B's shipped plan on 1,024 A100 (tp 8, pp 8, interleaved, data-parallel gradients
    // overlapped with the backward pass): each stage's compute stream computes, waits on some
    // dimension's communication, or waits with none in flight (bubble).
    const auto m = model::load_model(test::source_root() + "/models/gpt3-175b.json");
    const auto c = hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json");
    const auto r = events(plan::load_plan(test::source_root() + "/plans/gpt3-175b-1024gpu.json"), m, c);
    REQUIRE(r.utilization.size() == 8);  // one simulated rank per pipeline stage
    const double t = r.iteration_time.value();
    bool critical_found = false;
    for (const auto& u : r.utilization) {
        CAPTURE(u.rank);
        double sum = u.compute + u.bubble;
        for (double w : u.waiting) sum += w;
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
        CHECK(u.compute > 0.5);
        CHECK(u.waiting[static_cast<std::size_t>(plan::Dim::tensor)] > 0);  // tp 8: exposed all-gathers and reduce-scatters
        CHECK(u.comm_busy[static_cast<std::size_t>(plan::Dim::data)] > 0);   // the gradient reduction ran
        // A stage's breakdown: compute and optimizer, exposed communication, bubble over the iteration.
        double exposed = 0;
        for (const auto& e : r.exposed_comm) exposed += e.value();
        const bool critical = std::abs(u.compute - (r.compute + r.optimizer).value() / t) < 1e-9 &&
                              std::abs(u.bubble - r.bubble.value() / t) < 1e-9;
        if (critical) {
            double waiting = 0;
            for (double w : u.waiting) waiting += w;
            CHECK(waiting == doctest::Approx(exposed / t).epsilon(1e-9));
            critical_found = true;
        }
    }
    CHECK(critical_found);
    // The analytical tier plays nothing out: no utilization.
    plan::Plan p = plan::load_plan(test::source_root() + "/plans/gpt3-175b-1024gpu.json");
    plan::validate(p, m, c);
    const sim::Scenario sc(m, c, p);
    CHECK(sim::predict_analytical(sc).utilization.empty());
    // The HTML report draws it, one bar per stage.
    const std::string html = report::html_report("t", {{"plan", &sc, sim::predict_events(sc), nullptr}});
    CHECK(html.find("id='utilization'") != std::string::npos);
    CHECK(html.find(">stage 7<") != std::string::npos);
}
