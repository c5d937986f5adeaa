#include "amrs/data/results.h"

#include <filesystem>

#include "amrs/core/atomic_file.h"
#include "amrs/core/error.h"
#include "h5util.h"

namespace amrs::data {

Results ReadResults(const std::string& path) {
  Results r;
  if (!std::filesystem::exists(path)) return r;
  auto f = h5::File::Open(path);
  for (const auto& section : f.Children("/"))
    for (const auto& row : f.Children("/" + section)) {
      const std::string g = "/" + section + "/" + row;
      ResultRow rr;
      for (const auto& metric : f.Children(g)) rr.values[metric] = f.Read<double>(g + "/" + metric);
      hid_t gid = H5Gopen2(f.id(), g.c_str(), H5P_DEFAULT);
      H5O_info_t info;
      H5Oget_info(gid, &info);
      for (hsize_t i = 0; i < info.num_attrs; ++i) {
        char name[256];
        H5Aget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        rr.attrs[name] = f.ReadStringAttr(g, name);
      }
      H5Gclose(gid);
      r[section][row] = std::move(rr);
    }
  return r;
}

void UpdateResults(const std::string& path, const std::string& section, const ResultSection& rows) {
  Results all = ReadResults(path);
  for (const auto& [name, row] : rows) {
    if (name.empty() || name.find('/') != std::string::npos)
      throw ArgumentError("results: invalid row name '" + name + "'");
    all[section][name] = row;
  }
  AtomicFile tmp(path);
  {
    auto f = h5::File::Create(tmp.temp());
    for (const auto& [sec, srows] : all)
      for (const auto& [name, row] : srows) {
        const std::string g = "/" + sec + "/" + name;
        f.Group(g);
        for (const auto& [metric, v] : row.values) f.Write(g + "/" + metric, v);
        for (const auto& [k, v] : row.attrs) f.WriteStringAttr(g, k, v);
      }
    f.Close();
  }
  tmp.Commit();
}

}  // namespace amrs::data
