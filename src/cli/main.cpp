// splitsim: predicts iteration time, memory and communication of parallel training plans.
// Exit codes: 0 success, 2 bad input (one line naming the file and JSON path), 3 a target no plan
// reaches (requirements: the answer is written), 1 internal error.
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "splitsim/common/error.hpp"
#include "splitsim/common/json_reader.hpp"
#include "splitsim/common/output.hpp"
#include "splitsim/common/version.hpp"

namespace splitsim::cli {

CLI::Option* add_format_option(CLI::App& app, std::string& format) {
    return app.add_option("--format", format, "table | json | csv | md")->check(CLI::IsMember({"table", "json", "csv", "md"}));
}

CLI::Option* add_nodes_option(CLI::App& app, std::optional<int>& nodes) {
    return app.add_option("--nodes", nodes, "override the cluster's node count")->check(CLI::Range(1, 1 << 20));
}

const char* const kTermsHelp =
    "Terms:\n"
    "  pipeline bubble   time the critical pipeline stage waits for work (filling and draining the pipeline);\n"
    "                    the breakdown states it in seconds and as a share of the iteration\n"
    "  ideal             the critical stage's micro-batches without fill and drain: its compute and exposed\n"
    "                    tensor, context, expert and pipeline communication (every breakdown row but the\n"
    "                    bubble, data communication and the optimizer step)\n"
    "  bubble_fraction   pipeline bubble / ideal (\"of ideal\"); (p - 1)/m for p uniform 1F1B stages and m\n"
    "                    micro-batches (Narayanan et al. 2021, Sec. 2.2.1); 0 with one stage\n"
    "  MFU, HFU          model FLOPs (no recomputation) and executed FLOPs per second per GPU over the\n"
    "                    device's dense peak for the plan's precision\n";

report::Format parse_format(const std::string& name) {
    if (name == "json") return report::Format::json;
    if (name == "csv") return report::Format::csv;
    if (name == "md") return report::Format::markdown;
    return report::Format::table;
}

void write_outputs(const std::vector<std::pair<std::string, std::string>>& outputs) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [path, text] : outputs) {
        if (path != "-" && !path.empty()) files.emplace_back(path, text);
    }
    write_text_files(files);
    for (const auto& [path, text] : outputs) {
        if (path == "-" || path.empty()) std::cout << text << std::flush;
    }
}

// An option the command does not have, named with the option it most likely misspells. CLI11
// reports the first required option it then misses ("--model is required") instead.
std::optional<std::string> unknown_option(const CLI::App& app, int argc, char** argv) {
    const CLI::App* command = nullptr;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--") break;
        if (!command) {
            if (arg.empty() || arg[0] == '-') continue;
            for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
                if (sub->get_name() == arg) command = sub;
            }
            if (!command) return std::nullopt;  // CLI11 names an unknown command
            continue;
        }
        if (arg.rfind("--", 0) != 0) continue;
        const std::string name = arg.substr(0, arg.find('='));
        if (command->get_option_no_throw(name)) continue;
        std::vector<std::string> known;
        for (const CLI::Option* o : command->get_options()) {
            for (const std::string& l : o->get_lnames()) known.push_back("--" + l);
        }
        const std::string guess = closest_name(name, known);
        return name + ": splitsim " + command->get_name() + " has no such option" +
               (guess.empty() ? "; see splitsim " + command->get_name() + " --help" : "; did you mean " + guess + "?");
    }
    return std::nullopt;
}

}  // namespace splitsim::cli

int main(int argc, char** argv) {
    using namespace splitsim;
    CLI::App app{"splitsim: predicts iteration time, memory and communication of parallel training plans"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "splitsim " + std::string(version()));
    const std::vector<cli::Subcommand> commands{
        cli::add_simulate(app),
        cli::add_collective(app),
        cli::add_compare(app),
        cli::add_search(app),
        cli::add_export(app),
        cli::add_calibrate(app),
        cli::add_validate_published(app),
        cli::add_estimate(app),
        cli::add_sensitivity(app),
        cli::add_requirements(app),
    };

    if (const std::optional<std::string> unknown = cli::unknown_option(app, argc, argv)) {
        std::cerr << "splitsim: command line: " << *unknown << "\n";
        return 2;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "splitsim: " << e.what() << "\n";
        return 2;
    }
    try {
        for (const cli::Subcommand& command : commands) {
            if (command.app->parsed()) command.run();
        }
    } catch (const cli::Unreachable&) {
        return 3;
    } catch (const InputError& e) {
        std::cerr << "splitsim: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "splitsim: internal error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
