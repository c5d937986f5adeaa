#include "archive.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "zip_check.h"

namespace amrs::worldmodel {
namespace {

std::string Key(const std::string& prefix, std::string name) {
  for (std::size_t p; (p = name.find('.')) != std::string::npos;) name.replace(p, 1, "__");
  return prefix + "__" + name;
}

}  // namespace

torch::serialize::InputArchive OpenArchive(const std::string& path, const std::string& what) {
  if (!std::filesystem::exists(path)) throw InputError(path + ": no such file");
  // LibTorch 1.13 trusts the archive's sizes and its TorchScript records (fuzzing found a SEGV in
  // its importer and multi-GB allocations on corrupt files): check the ZIP first.
  CheckTorchZip(path, what);
  torch::serialize::InputArchive a;
  try {
    a.load_from(path);
  } catch (const std::exception&) {  // c10::Error, and std::out_of_range etc. from a corrupt pickle (fuzzing)
    throw InputError(path + ": not a " + what + " (cannot read it as a torch archive)");
  }
  return a;
}

std::string ReadMeta(torch::serialize::InputArchive& a, const std::string& path, const std::string& not_what) {
  c10::IValue meta;
  if (!a.try_read("meta", meta) || !meta.isString()) throw InputError(path + ": " + not_what + " (no metadata)");
  return meta.toStringRef();
}

void SaveArchive(torch::serialize::OutputArchive& a, const std::string& path, const std::string& what) {
  AtomicFile file(path);
  // Through a stream: the ZIP records are then named "archive/..." instead of after the temporary
  // file (which carries the process id), so the same weights give the same bytes.
  std::ofstream out(file.temp(), std::ios::binary | std::ios::trunc);
  try {
    a.save_to(out);
  } catch (const c10::Error&) {
    throw InputError(path + ": cannot write the " + what);
  }
  out.close();
  if (!out) throw InputError(path + ": cannot write the " + what);
  file.Commit();
}

void WriteParams(torch::serialize::OutputArchive& a, const std::string& prefix, const torch::nn::Module& m) {
  for (const auto& p : m.named_parameters()) a.write(Key(prefix, p.key()), p.value().detach());
}

void ReadParams(torch::serialize::InputArchive& a, const std::string& prefix, torch::nn::Module& m,
                const std::string& source) {
  torch::NoGradGuard guard;
  for (auto& p : m.named_parameters()) {
    torch::Tensor t;
    if (!a.try_read(Key(prefix, p.key()), t))
      throw InputError(source + ": parameter '" + prefix + "." + p.key() + "' is missing");
    if (t.sizes() != p.value().sizes()) {
      std::ostringstream os;
      os << source << ": parameter '" << prefix << "." << p.key() << "' has shape " << t.sizes()
         << ", the configuration needs " << p.value().sizes();
      throw InputError(os.str());
    }
    p.value().copy_(t);
  }
}

}  // namespace amrs::worldmodel
