// The subcommands of the splitsim command line. Each registers its options on the application and
// returns the function that runs it once the command line is parsed.
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "splitsim/report/simulation.hpp"
#include "splitsim/search/search.hpp"

namespace splitsim::cli {

// Thrown by a command once it has written its answer that the target asked for is out of reach
// ("no plan on at most 64 GPUs reaches 10 s"): an answer, not an error, with exit code 3.
struct Unreachable : std::exception {
    [[nodiscard]] const char* what() const noexcept override { return "target out of reach"; }
};

struct Subcommand {
    CLI::App* app = nullptr;
    std::function<void()> run;
};

Subcommand add_simulate(CLI::App& app);
Subcommand add_collective(CLI::App& app);
Subcommand add_search(CLI::App& app);
Subcommand add_compare(CLI::App& app);
Subcommand add_export(CLI::App& app);
Subcommand add_calibrate(CLI::App& app);
Subcommand add_validate_published(CLI::App& app);
Subcommand add_estimate(CLI::App& app);
Subcommand add_sensitivity(CLI::App& app);
Subcommand add_requirements(CLI::App& app);

// --precision's value (fp32 | tf32 | bf16 | fp16 | fp8); InputError otherwise.
Precision parse_precision(const std::string& name);
// What the commands that search take of every search: --framework ("" for any), --precision,
// --rerank (candidates re-simulated by the event tier) and --threads (0: all cores).
struct CandidateOptions {
    std::string framework;
    std::string precision = "bf16";
    int rerank = 50;
    int threads = 0;
};
void add_candidate_options(CLI::App& app, CandidateOptions& options);
// The search options of those and a global batch.
search::Options search_options(int global_batch, const CandidateOptions& options);

// The --format option every report command takes: table | json | csv | md.
CLI::Option* add_format_option(CLI::App& app, std::string& format);
// --nodes: the cluster's node count overridden, 1 to 2^20.
CLI::Option* add_nodes_option(CLI::App& app, std::optional<int>& nodes);
report::Format parse_format(const std::string& name);
// What the report's terms mean (pipeline bubble, bubble_fraction, "of ideal", MFU, HFU), for --help.
extern const char* const kTermsHelp;

// Writes a command's outputs, each (path, text) with "-" or "" for standard output: the files all
// or none (write_text_files), then standard output, so a command that cannot write one output
// leaves none behind.
void write_outputs(const std::vector<std::pair<std::string, std::string>>& outputs);

}  // namespace splitsim::cli
