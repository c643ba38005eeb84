// splitsim collective: an nccl-tests-style table of one collective on a cluster, as predicted.
#include <cmath>
#include <memory>
#include <optional>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/hardware/cluster.hpp"
#include "splitsim/report/collective.hpp"

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
    if (const std::optional<CollectiveKind> kind = collective_from_string(op)) return *kind;
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
        const std::string cluster_file = opts->cluster;
        const report::CollectiveSweep sweep = report::sweep_collective(
            [&cluster_file](std::optional<int> nodes) { return hardware::load_cluster(cluster_file, nodes); }, kind, opts->op, opts->ranks,
            opts->nodes, min, max, opts->factor);
        write_outputs({{opts->out, opts->format == "json" ? report::to_json(sweep).dump(2) + "\n" : report::render_table(sweep)}});
    }};
}

}  // namespace splitsim::cli
