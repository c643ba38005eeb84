// The planning stage: whole-run estimates, what-if variations of the cluster and workload,
// sensitivity and requirements, each composed of searches and simulations.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>

#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/planning/estimate.hpp"
#include "splitsim/planning/requirements.hpp"
#include "splitsim/planning/sensitivity.hpp"
#include "splitsim/report/planning_html.hpp"
#include "support.hpp"

using namespace splitsim;

namespace {

constexpr double kSecondsPerDay = 86400.0;

hardware::ClusterSpec a100(int nodes) {
    return hardware::load_cluster(test::source_root() + "/topologies/dgx-a100-superpod.json", nodes);
}
model::ModelSpec load(const std::string& name) { return model::load_model(test::source_root() + "/models/" + name + ".json"); }

// Small searches: few candidates re-simulated, one thread (the suite runs on two cores).
search::Options small_search(int global_batch) {
    search::Options o;
    o.global_batch = global_batch;
    o.rerank = 2;
    o.threads = 1;
    return o;
}

}  // namespace

TEST_CASE("estimate: Narayanan et al. 2021's end-to-end training times of GPT-3 175B and the 1T model") {
    // Narayanan et al. 2021 (arXiv 2104.04473), Sec. 5.1, 'Estimated end-to-end training time':
    // time ~ 8 T P / (n X) for T tokens, P parameters, n GPUs at X FLOP/s each (8 = forward,
    // backward and recomputation, 2 FLOPs per parameter each). Their inputs:
    //   GPT-3 175B: T = 300e9, P = 175e9, n = 1024, X = 140 TFLOP/s  -> 33.9 days ("~34 days")
    //   1T:         T = 450e9, P = 1e12,  n = 3072, X = 163 TFLOP/s  -> 83.2 days ("~84 days")
    // splitsim predicts the iteration time of the paper's configuration (plans/narayanan-2021-*.json:
    // interleaved schedule, micro-batch 1, full recomputation, fp16) on the DGX A100 SuperPOD
    // calibrated as validate-published calibrates it (Korthikanti et al. 2022 Table 4 layer times,
    // nccl-tests bus bandwidths), and multiplies it by the iterations the tokens need.
    const std::string published = test::source_root() + "/validate/published/";
    const calibrate::Measurements measurements = calibrate::merge({calibrate::load_measurements(published + "korthikanti-2022-layer-times.json"),
                                                                   calibrate::load_measurements(published + "nccl-busbw.json")});
    hardware::ClusterSpec one_node = a100(128);
    one_node.nodes = 1;
    const hardware::ClusterSpec calibrated = calibrate::calibrate(measurements, one_node).cluster;
    struct Case {
        const char* model;
        const char* plan;
        int nodes;
        double tokens, params, gpus, tflops;
    };
    for (const Case& c : {Case{"gpt3-175b", "narayanan-2021-gpt3-175b-1024gpu", 128, 300e9, 175e9, 1024, 140},
                          Case{"gpt-1008b", "narayanan-2021-gpt-1t-3072gpu", 384, 450e9, 1e12, 3072, 163}}) {
        CAPTURE(c.model);
        const double published_days = 8 * c.tokens * c.params / (c.gpus * c.tflops * 1e12) / kSecondsPerDay;
        planning::EstimateOptions o;
        o.tokens = c.tokens;
        o.plan = plan::load_plan(test::source_root() + "/plans/" + c.plan + ".json");
        o.baselines = false;
        o.rates.usd_per_gpu_hour = 2.0;
        o.rates.watts_per_device = 400;
        hardware::ClusterSpec cluster = calibrated;
        cluster.nodes = c.nodes;
        const planning::Estimate e = planning::estimate(load(c.model), cluster, o);
        const double days = e.best.wall.value() / kSecondsPerDay;
        CAPTURE(published_days);
        CAPTURE(days);
        CHECK(test::rel(days, published_days) < 0.15);
        // The totals follow from the days: GPU-hours = days x 24 x GPUs, and cost and energy from them.
        CHECK(e.best.gpu_hours == doctest::Approx(days * 24 * c.gpus).epsilon(1e-9));
        CHECK(*e.best.usd == doctest::Approx(2.0 * e.best.gpu_hours).epsilon(1e-12));
        CHECK(*e.best.kwh == doctest::Approx(0.4 * e.best.gpu_hours).epsilon(1e-12));
    }
}

TEST_CASE("estimate: whole iterations, and the baselines' speedup and scaling efficiency") {
    const model::ModelSpec m = load("gpt-tiny");
    planning::EstimateOptions o;
    o.tokens = 1e9;
    o.search = small_search(64);
    const hardware::ClusterSpec cluster = a100(2);
    const planning::Estimate e = planning::estimate(m, cluster, o);
    // ceil(1e9 / (64 x 128)) iterations.
    CHECK(e.best.iterations == std::ceil(1e9 / (64.0 * 128)));
    CHECK(e.best.wall.value() == doctest::Approx(e.best.iterations * e.best.run.iteration_time().value()));
    CHECK(e.best.run.gpus() == 16);
    CHECK_FALSE(e.best.usd.has_value());
    REQUIRE(e.baselines.size() == 2);
    const planning::Baseline& smallest = e.baselines[0];
    const planning::Baseline& dp = e.baselines[1];
    // The tiny model fits one GPU.
    REQUIRE(smallest.totals);
    CHECK(smallest.totals->run.gpus() == 1);
    CHECK(smallest.speedup == doctest::Approx(smallest.totals->wall.value() / e.best.wall.value()));
    CHECK(smallest.scaling_efficiency == doctest::Approx(smallest.speedup * 1 / 16.0));
    REQUIRE(dp.totals);
    const plan::Plan& p = dp.totals->run.plan;
    CHECK((p.tp == 1 && p.pp == 1 && p.cp == 1 && p.dp == 16));
    // The best plan is the search's best over every split, data parallelism included.
    CHECK(dp.speedup >= 1.0 - 1e-9);
}

TEST_CASE("estimate: the smallest group is the fewest GPUs any plan fits on") {
    // GPT 7.5B: 7.5e9 parameters x 16 bytes of weights, gradients and Adam state (mixed precision)
    // = 120 GB, more than one 80 GiB A100, so the smallest group holds several GPUs.
    const model::ModelSpec m = load("gpt-7.5b");
    planning::EstimateOptions o;
    o.tokens = 1e9;
    o.search = small_search(8);
    o.search.rerank = 0;
    const hardware::ClusterSpec cluster = a100(1);
    const planning::Estimate e = planning::estimate(m, cluster, o);
    REQUIRE(e.baselines[0].totals);
    const int smallest = e.baselines[0].totals->run.gpus();
    CHECK(smallest > 1);
    // One rung below it nothing fits.
    CHECK_FALSE(planning::best_plan(m, cluster, smallest / 2, o.search).has_value());
}

TEST_CASE("estimate: no fitting plan and bad token counts are input errors") {
    planning::EstimateOptions o;
    o.tokens = 1e9;
    o.search = small_search(8);
    // GPT-3 175B does not fit on one node (2.8 TB of training state over 640 GiB).
    CHECK_THROWS_AS(planning::estimate(load("gpt3-175b"), a100(1), o), InputError);
    o.tokens = 0;
    CHECK_THROWS_AS(planning::estimate(load("gpt-tiny"), a100(1), o), InputError);
}

TEST_CASE("variations scale one resource of the cluster value, or the workload") {
    const hardware::ClusterSpec c = a100(2);
    const planning::Workload base{load("gpt-tiny"), c, 16, 64};
    using planning::Knob;
    const auto v = [&](Knob k, double f) { return planning::vary(base, k, f); };
    CHECK(v(Knob::flops, 2).cluster.device.peak_for(Precision::bf16)->value() == 2 * c.device.peak_for(Precision::bf16)->value());
    CHECK(v(Knob::flops, 2).cluster.device.peak_for(Precision::fp32)->value() == 2 * c.device.peak_for(Precision::fp32)->value());
    CHECK(v(Knob::memory_bandwidth, 0.5).cluster.device.memory_bandwidth.value() == 0.5 * c.device.memory_bandwidth.value());
    CHECK(v(Knob::memory_capacity, 0.5).cluster.device.memory.value() == 0.5 * c.device.memory.value());
    CHECK(v(Knob::nvlink_bandwidth, 2).cluster.node.gpu_bandwidth.value() == 2 * c.node.gpu_bandwidth.value());
    CHECK(v(Knob::nic_bandwidth, 2).cluster.network->nic_bandwidth.value() == 2 * c.network->nic_bandwidth.value());
    CHECK(v(Knob::latency, 4).cluster.network->latency.value() == doctest::Approx(4 * c.network->latency.value()));
    CHECK(v(Knob::latency, 4).cluster.node.latency.value() == doctest::Approx(4 * c.node.latency.value()));
    CHECK(v(Knob::gpus, 4).gpus == 64);
    CHECK(v(Knob::gpus, 4).cluster.device_count() == 64);  // grown by nodes
    CHECK(v(Knob::global_batch, 0.5).global_batch == 32);
    CHECK(v(Knob::seq_len, 2).model.seq_len == 256);
    // Other knobs leave the rest alone.
    CHECK(v(Knob::nic_bandwidth, 2).cluster.node.gpu_bandwidth.value() == c.node.gpu_bandwidth.value());
    // Out of range, or no whole GPU count, batch or sequence length: input errors.
    for (double f : {0.0, -1.0, 0.001, 101.0, std::nan("")}) {
        CAPTURE(f);
        CHECK_THROWS_AS(v(Knob::flops, f), InputError);
    }
    CHECK(v(Knob::gpus, 1.5).gpus == 24);                      // three nodes
    CHECK(v(Knob::gpus, 0.25).gpus == 4);                      // half a node
    CHECK_THROWS_AS(v(Knob::gpus, 1.25), InputError);          // 20 GPUs: not whole 8-GPU nodes
    CHECK_THROWS_AS(v(Knob::gpus, 0.75), InputError);          // 12 GPUs: neither
    CHECK_THROWS_AS(v(Knob::global_batch, 0.3), InputError);  // 19.2 sequences
    // A single node has no NIC to scale.
    CHECK_FALSE(planning::applies(a100(1), Knob::nic_bandwidth));
    CHECK(planning::applies(c, Knob::nic_bandwidth));
}

TEST_CASE("sensitivity: elasticities from the nearest factors, plan changes, scaling curves") {
    const model::ModelSpec m = load("gpt-tiny");
    planning::SensitivityOptions o;
    o.search = small_search(64);
    o.knobs = {planning::Knob::flops, planning::Knob::nic_bandwidth, planning::Knob::global_batch};
    o.factors = {0.5, 2};
    o.scaling_gpus = {8, 16};
    const planning::Sensitivity s = planning::sensitivity(m, a100(1), o);
    REQUIRE(s.knobs.size() == 3);
    const planning::KnobSensitivity& flops = s.knobs[0];
    REQUIRE(flops.points.size() == 3);
    CHECK(flops.points[1].factor == 1.0);
    CHECK(flops.points[1].best->iteration_time() == s.best.iteration_time());
    // d log T / d log x from x0.5 and x2: log(T(2) / T(0.5)) / log 4.
    REQUIRE(flops.elasticity);
    const double t_lo = flops.points[0].best->iteration_time().value(), t_hi = flops.points[2].best->iteration_time().value();
    CHECK(*flops.elasticity == doctest::Approx(std::log(t_hi / t_lo) / std::log(4.0)));
    // Faster compute never slows the iteration, and cannot speed it up more than in proportion.
    CHECK(*flops.elasticity <= 0.0);
    CHECK(*flops.elasticity >= -1.0 - 1e-9);
    // One node: no NIC.
    CHECK_FALSE(s.knobs[1].applies);
    CHECK_FALSE(s.knobs[1].elasticity.has_value());
    // A larger batch is more work per iteration: the iteration time grows.
    REQUIRE(s.knobs[2].elasticity);
    CHECK(*s.knobs[2].elasticity > 0.0);
    REQUIRE(s.strong.size() == 2);
    REQUIRE(s.weak.size() == 2);
    CHECK(s.strong[1].global_batch == 64);
    CHECK(s.weak[1].global_batch == 128);  // 64 x 16 / 8
    CHECK(s.strong[0].best->iteration_time() == s.best.iteration_time());  // the base: 8 GPUs
    // Factors out of range are refused before any search.
    o.factors = {0.5, 1000};
    CHECK_THROWS_AS(planning::sensitivity(m, a100(1), o), InputError);
}

TEST_CASE("requirements: the fewest GPUs by bisection, the least memory, bandwidth thresholds") {
    const model::ModelSpec m = load("gpt-tiny");
    planning::RequirementsOptions o;
    o.search = small_search(64);
    const hardware::ClusterSpec cluster = a100(4);
    const std::optional<planning::Evaluated> one = planning::best_plan(m, cluster, 1, o.search);
    REQUIRE(one);
    // A target between the best on 1 GPU and the best on the whole cluster.
    const std::optional<planning::Evaluated> all = planning::best_plan(m, cluster, 32, o.search);
    REQUIRE(all);
    REQUIRE(all->iteration_time() < one->iteration_time());
    const double target = std::sqrt(one->iteration_time().value() * all->iteration_time().value());
    o.target = {planning::TargetKind::iteration_time, target, 0};
    const planning::Requirements r = planning::requirements(m, cluster, o);
    REQUIRE(r.reachable);
    const int fewest = r.best->gpus();
    CHECK(r.best->iteration_time().value() <= target);
    // The count below the fewest (in the ladder 1, 2, 4, 8, 16, 24, 32) misses the target.
    const std::vector<int> counts = planning::gpu_counts(cluster, 32);
    const auto at = std::find(counts.begin(), counts.end(), fewest);
    REQUIRE(at != counts.end());
    REQUIRE(at != counts.begin());
    const std::optional<planning::Evaluated> below = planning::best_plan(m, cluster, *(at - 1), o.search);
    CHECK((!below || below->iteration_time().value() > target));
    // The least-memory plan reaches the target and needs no more memory than the fastest.
    REQUIRE(r.least_memory);
    CHECK(r.least_memory->iteration_time().value() <= target);
    CHECK(r.least_memory->prediction.memory.required() <= r.best->prediction.memory.required());
    // Tokens per second and days for N tokens are the same target stated otherwise.
    const double tokens_per_iteration = 64.0 * 128;
    CHECK(planning::target_time({planning::TargetKind::tokens_per_s, tokens_per_iteration / target, 0}, 64, 128).value() ==
          doctest::Approx(target));
    CHECK(planning::target_time({planning::TargetKind::days, 2.0, 2.0 * 86400 * tokens_per_iteration / target}, 64, 128).value() ==
          doctest::Approx(target));
}

TEST_CASE("requirements: a bandwidth threshold puts exposed communication at the stated share") {
    // GPT 1.7B on up to four nodes at batch 64: a 0.3 s target needs more than one node, so
    // data-parallel gradients cross the NICs as well as NVLink.
    const model::ModelSpec m = load("gpt-1.7b");
    planning::RequirementsOptions o;
    o.search = small_search(64);
    o.comm_share = 0.1;
    o.target = {planning::TargetKind::iteration_time, 0.3, 0};
    const hardware::ClusterSpec cluster = a100(4);
    const planning::Requirements r = planning::requirements(m, cluster, o);
    REQUIRE(r.reachable);
    REQUIRE(r.best->gpus() > 8);
    REQUIRE(r.bandwidth.size() == 2);
    const planning::Workload w{m, planning::with_gpus(cluster, r.best->gpus()), r.best->gpus(), 64};
    for (const planning::BandwidthNeed& b : r.bandwidth) {
        CAPTURE(planning::to_string(b.knob));
        REQUIRE(b.applies);
        REQUIRE(b.threshold);
        const auto share = [&](double factor) {
            const planning::Workload v = planning::vary(w, b.knob, factor);
            return planning::evaluate(v.model, v.cluster, r.best->plan).exposed_comm_share();
        };
        CHECK(share(1.0) == doctest::Approx(b.share_at_current));
        // At the threshold the share is at most the stated one; 1% less bandwidth passes it.
        const double at = b.threshold->value() / b.current.value();
        CHECK(share(at) <= o.comm_share);
        CHECK(share(0.99 * at) > o.comm_share);
    }
}

TEST_CASE("requirements: an unreachable target is an answer, not an error") {
    const model::ModelSpec m = load("gpt-tiny");
    planning::RequirementsOptions o;
    o.search = small_search(64);
    o.target = {planning::TargetKind::iteration_time, 1e-7, 0};
    const planning::Requirements r = planning::requirements(m, a100(1), o);
    CHECK_FALSE(r.reachable);
    REQUIRE(r.best);
    CHECK(r.best->gpus() == 8);
    CHECK(r.best->iteration_time().value() > 1e-7);
    o.comm_share = 1.5;
    CHECK_THROWS_AS(planning::requirements(m, a100(1), o), InputError);
}

TEST_CASE("device power: the datasheet TDP of the device file, in watts") {
    // NVIDIA A100 datasheet: 400 W for the SXM parts; NVIDIA H100 datasheet: up to 700 W (SXM).
    CHECK(a100(1).device.tdp_watts == 400.0);
    CHECK(hardware::load_cluster(test::source_root() + "/topologies/dgx-h100-superpod.json").device.tdp_watts == 700.0);
    CHECK(hardware::parse_watts("1.2 kW") == 1200.0);
    for (const char* bad : {"400", "400 V", "-5 W", "0 W", "W"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(hardware::parse_watts(bad), std::invalid_argument);
    }
}

TEST_CASE("sensitivity report: tornado chart, scaling curves, Narayanan et al. 2021's scaling runs beside their predictions") {
    const model::ModelSpec m = load("gpt-tiny");
    planning::SensitivityOptions o;
    o.search = small_search(64);
    o.knobs = {planning::Knob::flops, planning::Knob::memory_bandwidth};
    o.scaling_gpus = {4, 8};
    const planning::Sensitivity s = planning::sensitivity(m, a100(1), o);
    const report::PublishedValidation v = report::validate_published(test::source_root(), sim::Tier::analytical);
    const std::vector<report::ScalingSeries> published = report::published_scaling(v, test::source_root());
    REQUIRE(published.size() == 2);
    // Table 1: ten weak-scaling rows, 32 to 3,072 GPUs; Table 2: GPT-3 175B on 384, 768 and 1,536 GPUs.
    REQUIRE(published[0].points.size() == 10);
    CHECK(published[0].points.front().gpus == 32);
    CHECK(published[0].points.back().gpus == 3072);
    CHECK(published[0].points.back().published_tflops == 163);
    REQUIRE(published[1].points.size() == 3);
    CHECK(published[1].points[0].gpus == 384);
    CHECK(published[1].points[2].gpus == 1536);
    for (const auto& series : published) {
        for (const auto& p : series.points) {
            CAPTURE(p.run);
            CHECK(p.predicted_tflops > 0.5 * p.published_tflops);
            CHECK(p.predicted_tflops < 1.5 * p.published_tflops);
        }
    }
    const std::string html = report::sensitivity_html(s, published);
    for (const char* part : {"id='tornado'", "id='scaling'", "id='published-0'", "id='published-1'", "1008B on 3072 GPUs"}) {
        CAPTURE(part);
        CHECK(html.find(part) != std::string::npos);
    }
    CHECK(html.find("<script") == std::string::npos);  // self-contained, no scripts
}
