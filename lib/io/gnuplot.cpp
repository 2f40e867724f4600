#include "lib/io/gnuplot.h"

#include <spdlog/fmt/fmt.h>

#include <cctype>

namespace kvmix {
namespace {

bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

// Bytes written as octal escapes between double quotes: quotes of both kinds (gnuplot.h says why
// '\'' cannot be doubled) and control bytes (a single-quoted string cannot hold them).
bool needs_escape(char c) { return c == '\'' || c == '"' || is_control(c); }

// Runs of plain bytes in single quotes, runs of the others as "\ooo...", joined by '.'.
std::string string_expression(std::string_view s) {
  if (s.empty()) return "''";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (!out.empty()) out += '.';
    const bool escaped = needs_escape(s[i]);
    out += escaped ? '"' : '\'';
    for (; i < s.size() && needs_escape(s[i]) == escaped; ++i) {
      if (escaped) out += fmt::format("\\{:03o}", static_cast<unsigned char>(s[i]));
      else out += s[i];
    }
    out += escaped ? '"' : '\'';
  }
  return out;
}

// gnuplot looks at the first character of a file name (pipes, datablocks, '-', '~'), and so does
// its command line (options, '<'): a relative name that starts with anything but these gets "./".
std::string plain_start(std::string_view path) {
  const char c = path.empty() ? '\0' : path.front();
  const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_';
  return plain ? std::string(path) : "./" + std::string(path);
}

}  // namespace

std::string escape_control_chars(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (!is_control(c)) out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  }
  return out;
}

std::string gnuplot_quote(std::string_view text) { return string_expression(escape_control_chars(text)); }

std::string gnuplot_path(std::string_view path) { return string_expression(plain_start(path)); }

ProgramResult run_gnuplot(const std::string& script_path) {
  return run_program({"gnuplot", plain_start(script_path)});
}

std::string plot_failure(const ProgramResult& r, const std::string& png, const std::string& script_path) {
  if (!r.ran)
    return fmt::format("{} not drawn: {} (install gnuplot-nox, then run gnuplot on {})", png, r.error,
                       script_path);
  if (r.status == 0) return "";
  // gnuplot starts its report with a blank line and echoes the failing command with a caret under
  // it: leading blank lines go, leading spaces stay so the caret still points at the spot.
  std::string_view e = r.error;
  while (!e.empty() && (e.front() == '\n' || e.front() == '\r')) e.remove_prefix(1);
  while (!e.empty() && std::isspace(static_cast<unsigned char>(e.back()))) e.remove_suffix(1);
  return fmt::format("{} not drawn: gnuplot failed on {} (exit status {}){}{}", png, script_path, r.status,
                     e.empty() ? "" : ":\n", e);
}

}  // namespace kvmix
