// Error types shared by every module. Messages name the file, field and row (or key and line)
// of the first problem so that a user can fix their input without reading code.
#pragma once

#include <stdexcept>
#include <string>

namespace amrs {

// Base of every exception the library throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Invalid input data: a malformed file, an out-of-range value, a dangling id.
class InputError : public Error {
 public:
  explicit InputError(const std::string& what) : Error(what) {}
};

// Invalid arguments or options given by the caller (a bad option, an unknown name).
class ArgumentError : public Error {
 public:
  explicit ArgumentError(const std::string& what) : Error(what) {}
};

}  // namespace amrs
