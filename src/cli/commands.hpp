// The subcommands of the splitsim command line. Each registers its options on the application and
// returns the function that runs it once the command line is parsed.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "splitsim/report/simulation.hpp"

namespace splitsim::cli {

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
