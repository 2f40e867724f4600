#pragma once
// Checks of option values that several subcommands share and that need lib/, so that a bad value
// is refused before any work starts (a model loaded, a task prepared, a file written):
//  - CLI11 validators (output_file, task_name): a failure is exit status 2;
//  - checks run first thing in a command, for what CLI11 cannot see (a comma list left empty
//    after splitting, an output that is also an input): they throw kvmix::UsageError (status 2).
// The plain-value validators (numbers, names, threads) are in value_checks.h.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "apps/kvmix/value_checks.h"

namespace kvmix::app {

// A path to write a file to: not empty and not an existing folder (found now, not when the
// results of an hour's work are about to be written).
CLI::Validator output_file();

// A task name parse_task accepts (text, arith, recall, FILE.txt, FILE.jsonl), its file existing
// and regular.
CLI::Validator task_name();

// split_list(items), refused with a UsageError naming `flag` when no entry is left: `-p ,` gets
// past CLI11 (it drops the empty pieces of a delimited value) and would run nothing.
std::vector<std::string> required_list(const std::vector<std::string>& items,
                                       const std::string& flag);

// UsageError when `output` (written by `flag`) is the same file as one of `inputs`, existing or
// about to be created: `eval -c c.json -o c.json` would replace its own input.
void refuse_output_over_inputs(const std::string& output, const std::string& flag,
                               const std::vector<std::string>& inputs);

}  // namespace kvmix::app
