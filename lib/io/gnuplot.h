#pragma once
// Handing text to gnuplot. A gnuplot script is a program: a title or file name pasted into it bare
// or between double quotes (where `...` runs a shell command), or ending a single-quoted string
// early with a quote of its own, runs whatever a hostile front.json or folder name says; a newline
// starts a new command; a file name starting with '<' or '|' is a shell pipe to gnuplot. So every
// string goes into a script through the two quoting functions below, terminals are `noenhanced`
// (so '^', '_', '{', '@' in a title are not markup), and gnuplot itself is started through an
// argument vector (lib/process/run_program.h), never a shell.
//
// Why not just double a quote inside '...' (gnuplot's documented escape): gnuplot 5.4's scanner
// only takes '' in after a character that is not a quote, so text starting with a quote or holding
// two in a row ends the string early (a syntax error: the picture is lost), and its macro expander
// toggles its idea of "inside single quotes" on every quote, even one between double quotes.
// Hence quotes, like control bytes, go in as octal escapes between double quotes.
#include <string>
#include <string_view>

#include "lib/process/run_program.h"

namespace kvmix {

// `text` with every control byte (newline, CR, tab, ESC, ...) shown as a visible escape: \n, \r,
// \t, \x1b. What a title shows for such bytes, and safe for a '#' comment line in a data file.
std::string escape_control_chars(std::string_view text);

// A gnuplot string expression whose value shows `text` as data, for titles, labels and tic names:
// single-quoted runs (nothing is special inside them: no backquote or macro substitution, no
// backslash escapes) joined by gnuplot's '.' with "\047"-style octal escapes for quotes; control
// bytes are shown as escape_control_chars does, since a title cannot usefully hold a newline.
// "bob's run" -> 'bob'."\047".'s run'. Fits wherever gnuplot takes a string (set title, title,
// set xtics (...)); the double-quoted parts never hold a backquote, a backslash of the input or '@'.
std::string gnuplot_quote(std::string_view text);

// The same for a file name, byte for byte (control bytes octal-escaped too), for `set output` and
// `plot`; "./" goes before a relative path whose first character gnuplot reads specially ('<' and
// '|' pipe through a shell, '$' names a datablock, '-' and '+' are special files, '~' is home).
std::string gnuplot_path(std::string_view path);

// Runs `gnuplot SCRIPT` without a shell and waits; ran = false when gnuplot is not installed.
ProgramResult run_gnuplot(const std::string& script_path);

// Empty when `r` drew the picture; otherwise one message for a warning or an error that names the
// PNG and the script and quotes gnuplot's own error (or says gnuplot is missing).
std::string plot_failure(const ProgramResult& r, const std::string& png, const std::string& script_path);

}  // namespace kvmix
