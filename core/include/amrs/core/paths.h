// Checks of the files a command reads and writes, made before any of them is opened: an input
// must be a regular file (opening a FIFO would block forever, a directory gives vague read
// errors), and an output must not replace one of the inputs or anything that is not a regular
// file (a directory, a FIFO, a device such as /dev/full).
#pragma once

#include <string>
#include <vector>

namespace amrs {

// True when `a` and `b` name the same file: std::filesystem::equivalent when both exist (links
// and different spellings of one file are the same file), else equal weakly_canonical paths.
bool SameFile(const std::string& a, const std::string& b);

// An input file named by the option `what` (e.g. "--data"). Throws ArgumentError when `path` is
// empty, InputError naming `what` and the path when it does not exist or is not a regular file.
void CheckInputFile(const std::string& path, const std::string& what);

// An output file named by the option `what`. Throws ArgumentError when `path` is empty or names
// the same file as one of `inputs` (empty inputs are skipped), InputError when it exists and is
// not a regular file.
void CheckOutputFile(const std::string& path, const std::vector<std::string>& inputs, const std::string& what);

// An output folder named by the option `what`. Throws ArgumentError when `path` is empty,
// InputError when it exists and is not a directory.
void CheckOutputDir(const std::string& path, const std::string& what);

}  // namespace amrs
