// Fits named device parameters to published calibration data by nonlinear least squares
// (Levenberg-Marquardt, Eigen's unsupported LevenbergMarquardt module with central-difference
// derivatives) over the simulator's own costs: the fitted profile reproduces the measurements
// through exactly the formulas that later predict other runs.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iterator>

#include <Eigen/Dense>
#include <unsupported/Eigen/LevenbergMarquardt>
#include <unsupported/Eigen/NumericalDiff>

#include "splitsim/calibrate/calibrate.hpp"
#include "splitsim/cost/collective.hpp"
#include "splitsim/hardware/topology.hpp"

namespace splitsim::calibrate {
namespace {

// A device parameter and the interval it may take; the fit works on an unbounded variable x with
// value = lo + (hi - lo) / (1 + e^-x).
struct Parameter {
    std::string name;
    double lo;
    double hi;
    std::function<double(const hardware::ClusterSpec&)> get;
    std::function<void(hardware::ClusterSpec&, double)> set;
};

// One measured time and the simulator's prediction of it on a candidate cluster.
struct Point {
    std::function<Seconds(const hardware::ClusterSpec&)> predict;
    Seconds measured;
};

double value_of(const Parameter& p, double x) { return p.lo + (p.hi - p.lo) / (1.0 + std::exp(-x)); }

double variable_of(const Parameter& p, double value) {
    const double f = std::clamp((value - p.lo) / (p.hi - p.lo), 1e-3, 1.0 - 1e-3);
    return std::log(f / (1.0 - f));
}

std::vector<double> relative_errors(const std::vector<Point>& points, const hardware::ClusterSpec& cluster) {
    std::vector<double> out;
    out.reserve(points.size());
    for (const Point& p : points) out.push_back(p.predict(cluster) / p.measured - 1.0);
    return out;
}

struct Residuals : Eigen::DenseFunctor<double> {
    Residuals(const std::vector<Point>& points, const std::vector<Parameter>& params, const hardware::ClusterSpec& cluster)
        : Eigen::DenseFunctor<double>(static_cast<int>(params.size()), static_cast<int>(points.size())),
          points_(&points),
          params_(&params),
          cluster_(&cluster) {}

    [[nodiscard]] hardware::ClusterSpec with(const InputType& x) const {
        hardware::ClusterSpec c = *cluster_;
        for (std::size_t i = 0; i < params_->size(); ++i) {
            const Parameter& p = (*params_)[i];
            p.set(c, value_of(p, x(static_cast<Eigen::Index>(i))));
        }
        return c;
    }

    int operator()(const InputType& x, ValueType& r) const {
        const std::vector<double> e = relative_errors(*points_, with(x));
        for (std::size_t i = 0; i < e.size(); ++i) r(static_cast<Eigen::Index>(i)) = e[i];
        return 0;
    }

    const std::vector<Point>* points_;
    const std::vector<Parameter>* params_;
    const hardware::ClusterSpec* cluster_;
};

// Minimizes the squared relative errors of `points` over the parameters that move them (a parameter
// that changes no prediction keeps its value) and sets the result in `cluster`.
std::vector<FittedParameter> fit(const std::vector<Point>& points, const std::vector<Parameter>& candidates,
                                 hardware::ClusterSpec& cluster) {
    std::vector<FittedParameter> out;
    if (points.empty()) return out;
    const std::vector<double> base = relative_errors(points, cluster);
    std::vector<Parameter> params;
    for (const Parameter& p : candidates) {
        hardware::ClusterSpec probe = cluster;
        const double v = p.get(probe);
        p.set(probe, v + 0.1 * (p.hi - v > v - p.lo ? p.hi - v : p.lo - v));
        const std::vector<double> moved = relative_errors(points, probe);
        double change = 0;
        for (std::size_t j = 0; j < base.size(); ++j) change = std::max(change, std::fabs(moved[j] - base[j]));
        if (change > 1e-6) params.push_back(p);
    }
    if (params.empty()) return out;
    Residuals f(points, params, cluster);
    Eigen::VectorXd x(static_cast<Eigen::Index>(params.size()));
    for (std::size_t i = 0; i < params.size(); ++i) x(static_cast<Eigen::Index>(i)) = variable_of(params[i], params[i].get(cluster));
    Eigen::NumericalDiff<Residuals, Eigen::Central> diff(f, 1e-6);
    Eigen::LevenbergMarquardt<Eigen::NumericalDiff<Residuals, Eigen::Central>> lm(diff);
    lm.setMaxfev(2000);
    lm.minimize(x);
    for (std::size_t i = 0; i < params.size(); ++i) {
        FittedParameter fp;
        fp.name = params[i].name;
        fp.before = params[i].get(cluster);
        fp.after = value_of(params[i], x(static_cast<Eigen::Index>(i)));
        params[i].set(cluster, fp.after);
        out.push_back(fp);
    }
    return out;
}

}  // namespace

std::vector<FittedParameter> fit_device_parameters(const std::vector<CollectiveMeasurement>& curves,
                                                   const std::vector<LayerMeasurement>& layers, hardware::ClusterSpec& cluster) {
    std::vector<FittedParameter> out;
    // Collective curves (nccl-tests) inside a node determine the bandwidth a GPU's transfers sustain
    // into the node's fabric (NCCL's topology model assigns 20 GB/s per NVLink 3 link, 20.6 per
    // NVLink 4: the start of the fit where the device file states it).
    if (!curves.empty()) {
        std::vector<Point> points;
        for (const CollectiveMeasurement& c : curves) {
            points.push_back({[c](const hardware::ClusterSpec& cl) {
                                  const hardware::Topology t(cl);
                                  cost::GroupSet set;
                                  set.groups = c.groups;
                                  return cost::PlacedGroups(t, std::move(set)).estimate(c.op, c.bytes).time;
                              },
                              c.time});
        }
        const double line = cluster.device.interconnect
                                ? cluster.device.interconnect->link_bandwidth.value() * cluster.device.interconnect->links
                                : cluster.node.gpu_bandwidth.value();
        const std::vector<Parameter> link{{"node.gpu_bandwidth", 0.1 * line, line,
                                           [](const hardware::ClusterSpec& cl) { return cl.node.gpu_bandwidth.value(); },
                                           [](hardware::ClusterSpec& cl, double v) { cl.node.gpu_bandwidth = Bandwidth(v); }}};
        for (const FittedParameter& p : fit(points, link, cluster)) out.push_back(p);
    }
    // Per-layer times of a training run determine the GEMM main loops' sustained efficiency (below
    // the burst rate of an isolated GEMM: every GPU of the node busy, at its power limit) and how
    // much slower compute runs while a collective overlaps it (forward passes overlap nothing,
    // backward passes overlap the tensor-parallel all-reduce with the weight-gradient GEMMs). The
    // memory efficiency is a streaming-bandwidth measurement and stays as the device file gives it:
    // a layer's time cannot tell slower memory-bound kernels from slower GEMMs.
    if (!layers.empty()) {
        std::vector<Point> points;
        for (const LayerMeasurement& l : layers) {
            points.push_back({[&l](const hardware::ClusterSpec& cl) { return predict_layer(l, cl); }, l.time});
        }
        const std::vector<Parameter> device{
            {"gemm_efficiency", 0.05, 1.0, [](const hardware::ClusterSpec& cl) { return cl.device.kernels.gemm_efficiency; },
             [](hardware::ClusterSpec& cl, double v) { cl.device.kernels.gemm_efficiency = v; }},
            {"overlap_slowdown", 0.0, 3.0, [](const hardware::ClusterSpec& cl) { return cl.device.kernels.overlap_slowdown; },
             [](hardware::ClusterSpec& cl, double v) { cl.device.kernels.overlap_slowdown = v; }},
        };
        for (const FittedParameter& p : fit(points, device, cluster)) out.push_back(p);
    }
    return out;
}

}  // namespace splitsim::calibrate
