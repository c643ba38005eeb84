// splitsim collective: an nccl-tests-style table of one collective on a cluster, as predicted.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/cost/collective.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/hardware/topology.hpp"

namespace splitsim::cli {
namespace {

struct CollectiveOptions {
    std::string cluster;
    std::string op = "allreduce";
    int ranks = 8;
    std::optional<int> nodes;
    std::string min = "1K";
    std::string max = "8G";
    double factor = 2;
    std::string format = "table";
    std::string out = "-";
};

constexpr double kMaxSize = 1099511627776.0;  // 1 TiB

// Sizes as nccl-tests reads them (-b / -e): K, M and G are powers of 1024, with or without a
// trailing B; other units go through the general parser ("1 GiB", "1e6 B").
Bytes parse_size(const std::string& option, const std::string& text) {
    std::string t;
    for (char c : text) {
        if (c != ' ') t += c;
    }
    double scale = 1;
    std::string number = t;
    for (const auto& [suffix, s] : {std::pair{"KB", 1024.0}, {"MB", 1048576.0}, {"GB", 1073741824.0}, {"K", 1024.0},
                                    {"M", 1048576.0}, {"G", 1073741824.0}, {"B", 1.0}}) {
        const std::string sfx = suffix;
        if (t.size() > sfx.size() && t.compare(t.size() - sfx.size(), sfx.size(), sfx) == 0) {
            number = t.substr(0, t.size() - sfx.size());
            scale = s;
            break;
        }
    }
    std::optional<double> bytes;
    try {
        std::size_t used = 0;
        const double v = std::stod(number, &used);
        if (used == number.size() && std::isfinite(v)) bytes = v * scale;
    } catch (const std::exception&) {
    }
    if (!bytes) {
        try {
            bytes = parse_bytes(text).value();
        } catch (const std::invalid_argument&) {
        }
    }
    if (!bytes) throw InputError("command line", option, "\"" + text + "\" is not a size such as 8, 1K, 16M or 8G");
    // Whole bytes from 1 B to 1 TiB: nccl-tests sweeps whole buffers, and the sweep stays finite.
    if (!(*bytes >= 1 && *bytes <= kMaxSize)) {
        throw InputError("command line", option, "\"" + text + "\" is not between 1 B and 1 TiB");
    }
    if (std::floor(*bytes) != *bytes) throw InputError("command line", option, "\"" + text + "\" is not a whole number of bytes");
    return Bytes(*bytes);
}

CollectiveKind parse_op(const std::string& op) {
    const std::pair<const char*, CollectiveKind> names[] = {
        {"allreduce", CollectiveKind::all_reduce},     {"all_reduce", CollectiveKind::all_reduce},
        {"allgather", CollectiveKind::all_gather},     {"all_gather", CollectiveKind::all_gather},
        {"reducescatter", CollectiveKind::reduce_scatter}, {"reduce_scatter", CollectiveKind::reduce_scatter},
        {"alltoall", CollectiveKind::all_to_all},      {"all_to_all", CollectiveKind::all_to_all},
        {"broadcast", CollectiveKind::broadcast},      {"sendrecv", CollectiveKind::send_recv},
        {"send_recv", CollectiveKind::send_recv}};
    for (const auto& [name, kind] : names) {
        if (op == name) return kind;
    }
    throw InputError("command line", "--op", "\"" + op + "\" is not one of allreduce | allgather | reducescatter | alltoall | broadcast | sendrecv");
}

}  // namespace

Subcommand add_collective(CLI::App& app) {
    auto opts = std::make_shared<CollectiveOptions>();
    CLI::App* sub = app.add_subcommand("collective", "Predict a collective over a size sweep, as nccl-tests reports it");
    sub->add_option("--cluster", opts->cluster, "cluster JSON (topologies/*.json)")->required();
    sub->add_option("--op", opts->op, "allreduce | allgather | reducescatter | alltoall | broadcast | sendrecv");
    sub->add_option("--ranks", opts->ranks, "ranks in the communicator")->check(CLI::Range(2, 1 << 20));
    sub->add_option("--nodes", opts->nodes,
                    "nodes the ranks spread over evenly, and the cluster's node count (default: as few as hold them, within the cluster)")
        ->check(CLI::Range(1, 1 << 20));
    sub->add_option("--min", opts->min, "smallest size (nccl-tests -b; K, M, G are powers of 1024)");
    sub->add_option("--max", opts->max, "largest size (nccl-tests -e)");
    sub->add_option("--factor", opts->factor, "size multiplier between rows (nccl-tests -f)")->check(CLI::Range(1.01, 1024.0));
    sub->add_option("--format", opts->format, "table | json")->check(CLI::IsMember({"table", "json"}));
    sub->add_option("--out", opts->out, "write to this file instead of standard output");
    return {sub, [opts] {
        // CLI11's range check lets NaN through.
        if (!(opts->factor >= 1.01 && opts->factor <= 1024.0)) {
            throw InputError("command line", "--factor", "must be a number between 1.01 and 1024");
        }
        const CollectiveKind kind = parse_op(opts->op);
        const Bytes min = parse_size("--min", opts->min);
        const Bytes max = parse_size("--max", opts->max);
        if (max < min) throw InputError("command line", "--max", "is smaller than --min");
        // Read the cluster once to learn its node size, then again with the nodes this run needs.
        const hardware::ClusterSpec file = hardware::load_cluster(opts->cluster);
        const int per_node_capacity = file.gpus_per_node;
        const int nodes = opts->nodes ? *opts->nodes : (opts->ranks + per_node_capacity - 1) / per_node_capacity;
        if (opts->ranks % nodes != 0) {
            throw InputError("command line", "--ranks", std::to_string(opts->ranks) + " ranks do not spread evenly over " +
                                                            std::to_string(nodes) + " nodes");
        }
        const int per_node = opts->ranks / nodes;
        if (per_node > per_node_capacity) {
            throw InputError("command line", "--ranks", std::to_string(per_node) + " ranks per node exceed the " +
                                                            std::to_string(per_node_capacity) + " devices of a node");
        }
        // Without --nodes the ranks must fit the cluster as described, as for simulate; --nodes
        // sets the cluster's size.
        if (!opts->nodes && !file.torus && !file.graph && nodes > file.nodes) {
            throw InputError("command line", "--ranks", std::to_string(opts->ranks) + " ranks need " + std::to_string(nodes) + " nodes of " +
                                                            std::to_string(per_node_capacity) + " but the cluster has " +
                                                            std::to_string(file.nodes) + "; --nodes " + std::to_string(nodes) +
                                                            " gives it " + std::to_string(nodes * per_node_capacity) + " GPUs");
        }
        if (file.torus || file.graph) {
            const std::int64_t spanned = std::int64_t{nodes} * per_node_capacity;
            if (spanned != file.device_count() && opts->nodes) {
                throw InputError("command line", "--nodes", "a torus or explicit graph has a fixed size");
            }
            if (spanned > file.device_count()) {
                throw InputError("command line", "--ranks", "the cluster has only " + std::to_string(file.device_count()) + " devices");
            }
        }
        hardware::ClusterSpec spec = (file.torus || file.graph) ? file : hardware::load_cluster(opts->cluster, nodes);
        const auto topology = std::make_shared<const hardware::Topology>(std::move(spec));
        cost::GroupSet set;
        std::vector<int> group;
        for (int node = 0; node < nodes; ++node) {
            for (int l = 0; l < per_node; ++l) group.push_back(node * per_node_capacity + l);
        }
        if (group.back() >= topology->devices()) {
            throw InputError("command line", "--ranks", "the cluster has only " + std::to_string(topology->devices()) + " devices");
        }
        set.groups.push_back(group);
        const cost::PlacedGroups placed(*topology, std::move(set));

        nlohmann::json rows = nlohmann::json::array();
        std::ostringstream table;
        char line[256];
        std::snprintf(line, sizeof line, "# %s on %s: %d ranks on %d node(s), predicted\n", opts->op.c_str(),
                      topology->cluster().name.c_str(), opts->ranks, nodes);
        table << line;
        std::snprintf(line, sizeof line, "#%15s %12s %12s %12s  %s\n", "size (B)", "time (us)", "algbw (GB/s)", "busbw (GB/s)",
                      "algorithm");
        table << line;
        for (double s = min.value(); s <= max.value() * (1 + 1e-12); s *= opts->factor) {
            const Bytes bytes(std::floor(s));
            const cost::CollectiveEstimate e = placed.estimate(kind, bytes);
            const double t = e.time.value();
            const double algbw = bytes.value() / t / 1e9;
            const double busbw = algbw * bus_bandwidth_factor(kind, opts->ranks);
            const std::string algo = std::string(to_string(e.algorithm)) + "/" + std::string(to_string(e.protocol));
            std::snprintf(line, sizeof line, " %15.0f %12.2f %12.2f %12.2f  %s\n", bytes.value(), t * 1e6, algbw, busbw, algo.c_str());
            table << line;
            rows.push_back({{"bytes", bytes.value()},
                            {"time_us", t * 1e6},
                            {"algbw_GBps", algbw},
                            {"busbw_GBps", busbw},
                            {"algorithm", to_string(e.algorithm)},
                            {"protocol", to_string(e.protocol)}});
        }
        const auto& pl = placed.placement();
        if (opts->format == "json") {
            nlohmann::json j{{"cluster", topology->cluster().name},
                             {"op", opts->op},
                             {"ranks", opts->ranks},
                             {"nodes", nodes},
                             {"bottleneck_GBps", pl.bottleneck.value() / 1e9},
                             {"rows", rows}};
            write_outputs({{opts->out, j.dump(2) + "\n"}});
        } else {
            std::snprintf(line, sizeof line, "# ring bottleneck %.1f GB/s per direction, longest hop %.2f us\n",
                          pl.bottleneck.value() / 1e9, pl.hop_latency.value() * 1e6);
            table << line;
            write_outputs({{opts->out, table.str()}});
        }
    }};
}

}  // namespace splitsim::cli
