#pragma once
// Reads a whole JSON file. A missing file or malformed JSON is a kvmix::Error that names the path,
// the one message every config, front, sensitivity and index reader gives.
//
// Also the one reader of the JSON-lines journals (the search's trials, the policy study's runs):
// each finished unit of work is one line, appended and fsynced, so a killed job can only leave its
// last line torn.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace kvmix {

nlohmann::json read_json_file(const std::string& path);

struct JsonLine {
  int64_t lineno = 0;  // 1-based, as an editor shows it
  nlohmann::json value;
};

// Reads a journal to append to. A missing or empty file gives no lines; empty lines are skipped.
// The last line is the only one a kill can tear: when it does not parse it is dropped with a
// warning and cut off the file; when it parses but lost its newline it is kept and the newline
// written. Either way the next append_line_synced starts on a line of its own. An unparsable line
// before the last is corruption: an error naming the file and the line.
std::vector<JsonLine> read_json_lines_for_append(const std::string& path);

}  // namespace kvmix
