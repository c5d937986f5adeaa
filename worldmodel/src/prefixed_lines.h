// Lines of parallel trainings on one shared stream (sweep-world's jobs, train-world's members).
#pragma once

#include <cstdio>
#include <mutex>
#include <ostream>
#include <streambuf>
#include <string>

namespace amrs::worldmodel {

// Forwards whole lines to a shared stream under a mutex, each with a prefix.
class PrefixedLines : public std::streambuf {
 public:
  PrefixedLines(std::ostream* out, std::mutex* mu, std::string prefix)
      : out_(out), mu_(mu), prefix_(std::move(prefix)) {}
  ~PrefixedLines() override { Flush(); }

 protected:
  int overflow(int c) override {
    if (c == EOF) return 0;
    if (c == '\n') Flush();
    else if (c != '\r') line_.push_back(static_cast<char>(c));
    return c;
  }

 private:
  void Flush() {
    if (line_.empty() || !out_) return;
    std::lock_guard<std::mutex> lock(*mu_);
    *out_ << prefix_ << line_ << "\n" << std::flush;
    line_.clear();
  }
  std::ostream* out_;
  std::mutex* mu_;
  std::string prefix_, line_;
};

}  // namespace amrs::worldmodel
