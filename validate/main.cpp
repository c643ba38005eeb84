// splitsim-harness: measures the kernels and collectives of a plan on this machine, and executes
// training steps of a plan against a reference run and the simulator's prediction.
//   splitsim-harness bench --model M --plan P --backend cpu|cuda --out measurements.json
//   splitsim-harness execute --model M --plan P --steps N --backend cpu|cuda [--out execution.json]
//                            [--cluster C]
// Under mpirun every process is one rank and rank 0 writes the file. Exit codes: 0 success, 2 bad
// input (one line naming the file and JSON path, or the option), 1 an internal error, a failed
// data check (bench) or a step outside the tolerance of the reference run (execute); the file is
// still written.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "splitsim/common/data_directory.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/common/output.hpp"
#include "splitsim/common/units.hpp"
#include "splitsim/kernels/comm.hpp"
#include "splitsim/validate/bench.hpp"
#include "splitsim/validate/execute.hpp"
#if SPLITSIM_HAVE_MPI
#include "splitsim/kernels/mpi.hpp"
#endif

namespace {

using namespace splitsim;

// Collective sizes: whole bytes from 1 B to 16 GiB (nccl-tests' sweeps end at a few GiB; the
// harness allocates two buffers of the largest size per GPU).
std::int64_t parse_size(const std::string& text, const char* option) {
    double bytes = 0;
    try {
        bytes = parse_bytes(text).value();
    } catch (const std::invalid_argument& e) {
        throw InputError("command line", option, e.what());
    }
    if (!(bytes >= 1 && bytes <= 16.0 * 1073741824.0)) {
        throw InputError("command line", option, "\"" + text + "\" is not between 1 B and 16 GiB");
    }
    if (std::floor(bytes) != bytes) throw InputError("command line", option, "\"" + text + "\" is not a whole number of bytes");
    return static_cast<std::int64_t>(bytes);
}

}  // namespace

int main(int argc, char** argv) {
#if SPLITSIM_HAVE_MPI
    std::unique_ptr<kernels::ProcessGroup> world = kernels::mpi::init_world(&argc, &argv);
#else
    std::unique_ptr<kernels::ProcessGroup> world = kernels::make_self_process_group();
#endif
    const bool rank0 = world->rank() == 0;

    CLI::App app{"splitsim-harness: measures a plan's kernels and collectives on this machine, and executes its training steps"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "splitsim-harness " SPLITSIM_VERSION);
    validate::BenchOptions opts;
    std::string out;
    std::string min_bytes = "1 KiB";
    std::string max_bytes;
    CLI::App* bench = app.add_subcommand("bench", "Time the plan's kernels and collectives, write measurements JSON");
    bench->add_option("--model", opts.model, "model JSON (models/*.json)")->required();
    bench->add_option("--plan", opts.plan, "plan JSON (plans/*.json), with dp")->required();
    bench->add_option("--backend", opts.backend, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}));
    bench->add_option("--out", out, "measurements JSON to write (rank 0)")->required();
    bench->add_option("--repetitions", opts.repetitions, "timed repetitions per measurement")->check(CLI::Range(1, 100000));
    bench->add_option("--warmup", opts.warmup, "untimed runs before timing")->check(CLI::Range(0, 100000));
    bench->add_option("--min-bytes", min_bytes, "smallest collective (\"1 KiB\")");
    bench->add_option("--max-bytes", max_bytes, "largest collective (default 4 MiB on cpu, 1 GiB on cuda)");
    bench->add_option("--devices", opts.devices, "cuda, one process: local GPUs to drive (default all)")->check(CLI::Range(1, 1024));
    bench->add_option("--timeout", opts.timeout_s, "seconds a collective may take before the run aborts")->check(CLI::Range(0.001, 1e6));
    bool no_kernels = false, no_collectives = false;
    bench->add_flag("--no-kernels", no_kernels, "measure collectives only");
    bench->add_flag("--no-collectives", no_collectives, "measure kernels only");

    validate::ExecuteOptions exec;
    std::string exec_out;
    std::string cluster = "topologies/localhost-cpu.json";
    std::string reference = "automatic";
    CLI::App* execute = app.add_subcommand("execute", "Run training steps of the plan, check them against a reference "
                                                      "run and the simulator's prediction, write execution JSON");
    execute->add_option("--model", exec.model, "model JSON (models/*.json)")->required();
    execute->add_option("--plan", exec.plan, "plan JSON (plans/*.json), with dp")->required();
    execute->add_option("--steps", exec.steps, "training steps")->check(CLI::Range(1, 100000));
    execute->add_option("--backend", exec.backend, "cpu | cuda")->check(CLI::IsMember({"cpu", "cuda"}));
    execute->add_option("--out", exec_out, "execution JSON to write (rank 0)");
    CLI::Option* cluster_option =
        execute->add_option("--cluster", cluster,
                            "cluster JSON for the prediction (default for cpu: topologies/localhost-cpu.json of the source tree or "
                            "installed share/splitsim the executable belongs to)");
    execute->add_option("--seed", exec.seed, "seed of the weights and tokens");
    execute->add_option("--reference", reference,
                        "what rank 0 checks the steps against: unsharded (tp = pp = dp = 1 on the run's backend), cpu "
                        "(the same on the CPU backend in fp32) or none; default: cpu for a CUDA run of one rank, else unsharded")
        ->check(CLI::IsMember({"automatic", "unsharded", "cpu", "none"}));
    execute->add_option("--timeout", exec.timeout_s, "seconds a collective may take before the run aborts")->check(CLI::Range(0.001, 1e6));

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return rank0 ? app.exit(e) : 0;
    } catch (const CLI::CallForAllHelp& e) {
        return rank0 ? app.exit(e) : 0;
    } catch (const CLI::CallForVersion& e) {
        return rank0 ? app.exit(e) : 0;
    } catch (const CLI::ParseError& e) {
        if (rank0) std::cerr << "splitsim-harness: " << e.what() << "\n";
        return 2;
    }
    opts.kernels = !no_kernels;
    opts.collectives = !no_collectives;
    exec.reference = reference == "unsharded" ? validate::Reference::unsharded
                     : reference == "cpu"       ? validate::Reference::cpu
                     : reference == "none"      ? validate::Reference::none
                                                : validate::Reference::automatic;
    if (cluster_option->count() > 0) {
        exec.cluster = cluster;
    } else if (exec.backend == "cpu") {
        // The CPU development machine, found next to the executable (not the working directory).
        if (const auto data = find_data_directory(cluster)) exec.cluster = (*data / cluster).string();
    }
    if (exec.cluster.empty() && rank0 && execute->parsed()) {
        std::cerr << "splitsim-harness: warning: no prediction: no --cluster"
                  << (exec.backend == "cpu" ? ", and no " + cluster + " next to the executable" : std::string()) << "\n";
    }

    // Every rank reads the same files and options, so bad input fails on all of them alike and
    // they leave together; anything else may strike one rank only, which then ends the run.
    try {
        // Fail before measuring when the output cannot be written.
        if (rank0 && bench->parsed()) {
            if (!std::ofstream(out + ".partial")) throw InputError(out, "", "cannot write file");
            std::remove((out + ".partial").c_str());
        }
        // CLI11's Range lets NaN through.
        if (!((execute->parsed() ? exec.timeout_s : opts.timeout_s) > 0)) {
            throw InputError("command line", "--timeout", "must be a positive number of seconds");
        }
        if (execute->parsed()) {
            if (rank0 && !exec_out.empty()) {
                if (!std::ofstream(exec_out + ".partial")) throw InputError(exec_out, "", "cannot write file");
                std::remove((exec_out + ".partial").c_str());
            }
            const validate::ExecuteResult result = validate::run_execute(exec, *world);
            if (rank0) {
                std::cout << result.report << std::flush;
                if (!exec_out.empty()) write_text_file(exec_out, result.execution.dump(1) + "\n");
                if (!result.passed) std::cerr << "splitsim-harness: steps differ from the reference run beyond the tolerance\n";
            }
            return result.passed ? 0 : 1;
        }
        opts.min_bytes = parse_size(min_bytes, "--min-bytes");
        if (!max_bytes.empty()) opts.max_bytes = parse_size(max_bytes, "--max-bytes");
        const validate::BenchResult result = validate::run_bench(opts, *world);
        if (rank0) write_text_file(out, result.measurements.dump(1) + "\n");
        if (result.failed_checks > 0) {
            if (rank0) std::cerr << "splitsim-harness: " << result.failed_checks << " data checks failed (see " << out << ")\n";
            return 1;
        }
    } catch (const InputError& e) {
        if (rank0) std::cerr << "splitsim-harness: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "splitsim-harness: rank " << world->rank() << ": internal error: " << e.what() << "\n";
        if (world->size() > 1) world->abort(1);
        return 1;
    }
    return 0;
}
